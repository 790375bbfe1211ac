"""One net trained across two Ray Train v2 workers (`--workers 2`), for real on a local Ray, surviving
the loss of rank 0: the same weights on both workers after epoch 1, disjoint shards covering the
training part, steps per epoch = rows / global batch, and one FINISHED MLflow run holding every epoch
once and both workers' facts; a model that is not the net refuses `--workers`."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from physml.cli import main

pytestmark = pytest.mark.integration
EXPERIMENT = "test-data-parallel"


def test_a_model_that_is_not_the_net_refuses_workers_in_one_line(tracking, data_root, capsys):
    argv = ["supercon", "train", "--model", "gbm", "--preset", "quick", "--workers", "2"]
    assert main([*argv, "--data-dir", str(data_root / "supercon"), "--set", f"experiment={EXPERIMENT}-gbm"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1] == (
        "physml: error: --workers 2: only the dense net (dnn) trains across workers; gbm trains in one process "
        "(use --model dnn, or drop --workers)"
    )
    client = MlflowClient(tracking)
    runs = client.search_runs([client.get_experiment_by_name(f"{EXPERIMENT}-gbm").experiment_id])
    assert all(run.info.status != "RUNNING" for run in runs)


def test_killing_rank_0_restarts_the_group_and_the_same_run_goes_on(tracking, data_root, tmp_path):
    """`--workers 2` for real on a local Ray, and SIGKILL to rank 0's process once epoch 2 is logged: Ray
    Train restarts both workers from the last checkpoint, the run ends FINISHED with epochs 1..E once
    each, `train.restarts` says 1, and the net was trained data parallel (assert_data_parallel)."""
    import os
    import signal
    import subprocess
    import sys
    import time

    epochs, experiment = 12, f"{EXPERIMENT}-kill"
    argv = ["supercon", "train", "--model", "dnn", "--preset", "quick", "--workers", "2", "--epochs", str(epochs)]
    argv += [
        "--data-dir",
        str(data_root / "supercon"),
        "--set",
        f"experiment={experiment}",
        "--set",
        "registry.register=false",
    ]
    env = {**os.environ, "MLFLOW_TRACKING_URI": tracking, "PHYSML_PROGRESS": "0"}
    env.pop("RAY_ADDRESS", None)
    log = (tmp_path / "train.log").open("w")
    physml = str(Path(sys.executable).with_name("physml"))
    process = subprocess.Popen([physml, *argv], env=env, stdout=log, stderr=subprocess.STDOUT)
    client, killed = MlflowClient(tracking), None
    try:
        deadline = time.monotonic() + 300
        while killed is None and time.monotonic() < deadline and process.poll() is None:
            time.sleep(0.2)
            experiment_id = getattr(client.get_experiment_by_name(experiment), "experiment_id", None)
            runs = client.search_runs([experiment_id]) if experiment_id else []
            if runs and "train.worker.0.pid" in runs[0].data.tags:
                if len(client.get_metric_history(runs[0].info.run_id, "val_rmse")) >= 2:
                    killed = int(runs[0].data.tags["train.worker.0.pid"])
                    os.kill(killed, signal.SIGKILL)
        assert killed, f"never saw epoch 2 of a 2-worker run: {(tmp_path / 'train.log').read_text()[-2000:]}"
        assert process.wait(timeout=400) == 0, (tmp_path / "train.log").read_text()[-3000:]
    finally:
        if process.poll() is None:
            process.kill()
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    tags = run.data.tags
    assert run.info.status == "FINISHED" and tags["train.restarts"] == "1" and tags["train.workers"] == "2"
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_rmse"))
    assert steps == list(range(1, epochs + 1))  # each epoch once, none missing
    assert_data_parallel(client, run)


def assert_data_parallel(client, run) -> None:
    """The same weights on both workers after epoch 1, disjoint rank::2 shards covering the training
    part, rows / global batch steps every epoch, both workers' node and devices named, the final
    weights evaluated as a one-process run's are."""
    tags, params = run.data.tags, run.data.params
    digests = {tags[f"train.worker.{rank}.weights_digest"] for rank in (0, 1)}
    assert len(digests) == 1, "the workers' weights differ after epoch 1: not one data-parallel net"
    rows = [int(tags[f"train.worker.{rank}.rows"]) for rank in (0, 1)]
    n_train, batch = int(params["n_train"]), int(params["batch_size"])
    assert sum(rows) == n_train and abs(rows[0] - rows[1]) <= 1
    assert all(
        tags[f"train.worker.{rank}.node_id"] and "CPU" in tags[f"train.worker.{rank}.devices"] for rank in (0, 1)
    )
    steps = client.get_metric_history(run.info.run_id, "steps_per_epoch")
    assert {m.value for m in steps} == {n_train // batch}
    assert 0 < run.data.metrics["test_rmse"] < 40


def test_a_two_worker_trial_nests_under_its_search(mlflow_server, tracking, supercon_dir, tmp_path):
    """`physml tune ... --set dnn.workers=2 --cpus-per-trial 0`: the trial's driver reserves no CPU (1 MiB
    of memory: Tune needs a bundle), its two workers one each, and its run is a child of the search's
    parent holding both workers' facts."""
    from tests.helpers.tuning import physml_tune, search_runs

    experiment = f"{EXPERIMENT}-tune"
    physml_tune(
        mlflow_server.url,
        *("supercon", "--search", "bayes", "--num-samples", "1", "--max-concurrent", "1", "--epochs", "2"),
        *("--preset", "quick", "--set", "dnn.workers=2", "--cpus-per-trial", "0", "--no-retrain"),
        *("--set", f"experiment={experiment}", "--storage", str(tmp_path / "ray"), "--data-dir", str(supercon_dir)),
    )
    parent, trials, _ = search_runs(mlflow_server.url, experiment)
    (trial,) = trials
    assert trial.info.status == "FINISHED" and trial.data.tags["train.workers"] == "2"
    assert trial.data.tags["train.worker.0.weights_digest"] == trial.data.tags["train.worker.1.weights_digest"]
    steps = [m.step for m in MlflowClient(tracking).get_metric_history(trial.info.run_id, "val_rmse")]
    assert sorted(steps) == [1, 2] and parent.info.status == "FINISHED"
