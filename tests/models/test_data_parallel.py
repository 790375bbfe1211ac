"""One net trained across two Ray Train v2 workers (`--workers 2`), for real: galaxy's CNN on a
two-node Ray cluster surviving the loss of rank 0 (supercon's dense net as a 2-worker trial of
`physml tune`, with a GPU each, on the `ray up` cluster: tests/tuning/test_ray_up.py). It asserts data parallelism (the same weights on both workers after epoch 1, disjoint shards
covering the training part, steps per epoch = rows // global batch) and one FINISHED MLflow run
holding every epoch once and both workers' facts; a model that is not a net refuses `--workers`."""

from __future__ import annotations

from pathlib import Path

import pytest
from mlflow import MlflowClient

from physml.cli import main
from tests.helpers.workers import assert_data_parallel

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


def test_workers_this_machine_cannot_place_are_refused_in_one_line(tracking, data_root, capsys, monkeypatch):
    """A GPU per worker on a machine without one: the local Ray that physml starts never grows, so
    the run is refused at once (exit 2, the run FAILED) instead of waiting for resources forever."""
    monkeypatch.delenv("RAY_ADDRESS", raising=False)
    argv = ["supercon", "train", "--model", "dnn", "--preset", "quick", "--workers", "2", "--gpus-per-worker", "1"]
    experiment = f"{EXPERIMENT}-no-gpu"
    assert main([*argv, "--data-dir", str(data_root / "supercon"), "--set", f"experiment={experiment}"]) == 2
    err = capsys.readouterr().err.strip().splitlines()
    assert err[-1].startswith(
        "physml: error: --workers 2: the workers need 2 GPU (2 x 1) but the cluster has 0 (the Ray physml started"
    ), err[-1]
    client = MlflowClient(tracking)
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    assert run.info.status == "FAILED"


EPOCHS = 6  # of the galaxy run: the kill lands after epoch 2 (each epoch's report takes ~2 s), epochs left to go on
HEAD, WORKER = "127.0.0.1", "127.0.0.2"


def namespace_init(unshare) -> int:
    """The PID (in this namespace) of the first process of an isolated node's namespace (its bash)."""
    (child,) = Path(f"/proc/{unshare.pid}/task/{unshare.pid}/children").read_text().split()
    return int(child)


def test_the_galaxy_cnn_trains_across_both_nodes_of_a_cluster_and_survives_losing_rank_0(
    mlflow_server, tracking, galaxy_dir, s3_storage, tmp_path
):
    """`physml galaxy train --workers 2 --gpus-per-worker 1` on a real two-node Ray cluster (each node
    in its own namespace with 1 CPU and 1 declared GPU, so the two workers land on different nodes),
    and SIGKILL to rank 0 once epoch 2 is logged: Ray Train restarts the group from the last
    checkpoint, the one MLflow run ends FINISHED with epochs 1..E once each and `train.restarts` 1;
    the training was data parallel (identical weights, disjoint shards covering the training part,
    n_train // batch steps an epoch) on both nodes, each epoch's checkpoint went to `--storage s3://...`
    (moto's S3 server) and was removed after, and the logged model takes a raw Kaggle JPEG."""
    import json
    import shlex
    import subprocess
    import sys
    import time

    from tests.helpers.isolated import isolated_in_background, require_isolation
    from tests.helpers.processes import subprocess_env
    from tests.helpers.ray_nodes import NodePorts, wait_for_nodes

    require_isolation()
    experiment, (storage, s3_env) = f"{EXPERIMENT}-galaxy", s3_storage
    train = [str(Path(sys.executable).parent / "physml"), "galaxy", "train", "--preset", "quick", "--workers", "2"]
    train += ["--gpus-per-worker", "1", "--epochs", str(EPOCHS), "--storage", str(storage)]
    train += ["--set", f"experiment={experiment}", "--no-register", "--data-dir", str(galaxy_dir)]
    train += ["--set", "evaluation.network_views=false"]  # activation maps and filter pictures: not what this tests
    env = {**subprocess_env(mlflow_server.url), **s3_env, "RAY_AUTH_MODE": "disabled", "PHYSML_PROGRESS": "0"}
    env.pop("RAY_ADDRESS", None)
    ports = NodePorts()
    gcs, nodes_file, log = ports.take(), tmp_path / "nodes.json", tmp_path / "train.log"
    common = "--num-cpus=1 --num-gpus=1 --disable-usage-stats"
    head = f"""ray start --head --port={gcs} --node-ip-address={HEAD} {common} --include-dashboard=false {ports.flags(True, "10002-14999")} > {tmp_path}/head.log 2>&1
{wait_for_nodes(f"{HEAD}:{gcs}", 2, nodes_file)}
RAY_ADDRESS={HEAD}:{gcs} {shlex.join(train)} > {log} 2>&1
"""
    worker = f"ray start --address={HEAD}:{gcs} --node-ip-address={WORKER} {common} --block {ports.flags(False, '15000-19999')}\n"
    client, killed = MlflowClient(mlflow_server.url), None
    with (
        isolated_in_background(worker, tmp_path / "ns-worker", env, tmp_path / "worker.log") as worker_node,
        isolated_in_background(head, tmp_path / "ns-head", env, tmp_path / "head-namespace.log") as head_node,
    ):
        deadline = time.monotonic() + 400
        while killed is None and time.monotonic() < deadline and head_node.poll() is None:
            time.sleep(0.2)
            experiment_id = getattr(client.get_experiment_by_name(experiment), "experiment_id", None)
            runs = client.search_runs([experiment_id]) if experiment_id else []
            if runs and "train.worker.0.pid" in runs[0].data.tags:
                if len(client.get_metric_history(runs[0].info.run_id, "val_accuracy")) >= 2:
                    tags, nodes = runs[0].data.tags, json.loads(nodes_file.read_text())
                    on_head = "node:__internal_head__" in nodes[tags["train.worker.0.node_id"]]
                    init = namespace_init(head_node if on_head else worker_node)
                    killed = tags["train.worker.0.pid"]  # a PID inside that node's namespace
                    subprocess.run(["nsenter", "-t", str(init), "-p", "--", "kill", "-KILL", killed], check=True)
        journal = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))
        assert killed, f"never saw epoch 2 of the 2-worker run:\n{journal}"
        head_node.wait(timeout=400)
        assert head_node.returncode == 0, log.read_text()[-4000:]
    (run,) = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    tags = run.data.tags
    assert run.info.status == "FINISHED" and tags["train.restarts"] == "1" and tags["train.workers"] == "2"
    steps = sorted(m.step for m in client.get_metric_history(run.info.run_id, "val_accuracy"))
    assert steps == list(range(1, EPOCHS + 1))  # each epoch once, none missing
    assert_data_parallel(client, run, "val_accuracy")
    assert {tags[f"train.worker.{rank}.node_id"] for rank in (0, 1)} == set(json.loads(nodes_file.read_text()))
    assert all(tags[f"train.worker.{rank}.gpus"] != "none" for rank in (0, 1))  # a declared GPU each
    assert_checkpoints_went_to_s3_and_were_removed(s3_env, tmp_path / "moto.log")
    assert_serves_a_raw_jpeg(run, galaxy_dir)


def assert_checkpoints_went_to_s3_and_were_removed(s3_env: dict[str, str], moto_log: Path) -> None:
    """Each epoch's checkpoint was written to the `--storage` bucket (the S3 server's log holds the
    PUTs), and the run's folder was removed once the model was logged."""
    import boto3

    from tests.helpers.tuning import s3_client_arguments

    puts = [line for line in moto_log.read_text().splitlines() if '"PUT ' in line and "/checkpoint_" in line]
    assert len({line.split("/checkpoint_")[1].split("/")[0] for line in puts}) >= EPOCHS, puts[-5:]
    listing = boto3.client("s3", **s3_client_arguments(s3_env)).list_objects_v2(Bucket="physml-tune")
    assert not [item["Key"] for item in listing.get("Contents", []) if "checkpoint_" in item["Key"]]


def assert_serves_a_raw_jpeg(run, galaxy_dir: Path) -> None:
    """The run's model, loaded as MLflow serves it, takes a Kaggle JPEG's pixels as they come and
    returns 4 class probabilities."""
    import mlflow
    import numpy as np
    from PIL import Image

    jpeg = max((galaxy_dir / "images_training_rev1").glob("*.jpg"))
    with Image.open(jpeg) as image:
        pixels = np.asarray(image.convert("RGB"))[np.newaxis]
    model = mlflow.pyfunc.load_model(f"runs:/{run.info.run_id}/model")
    (probs,) = np.asarray(model.predict(pixels), dtype=float)
    assert probs.shape == (4,) and abs(probs.sum() - 1) < 1e-5 and (probs >= 0).all()
