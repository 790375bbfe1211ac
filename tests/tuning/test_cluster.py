"""A real two-node Ray cluster on this machine (`ray start --head` + a second `ray start --address`):
a search survives the worker node being killed mid-way, its lost trials going on from their
checkpoints. (Trials on both nodes of a cluster that `ray up` started: test_ray_up.py.)"""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path

import pytest
from mlflow import MlflowClient

from tests.helpers.processes import free_port, kill_session, subprocess_env
from tests.helpers.tuning import one_finished_run_per_trial, search_runs

RAY = str(Path(sys.executable).parent / "ray")
EPOCHS = 16  # per trial of the node-loss search: long enough to be cut off mid-way


def checkpointed_epochs(storage: Path, trial_id: str) -> int:
    """The epoch of the trial's latest checkpoint in Tune's storage (checkpoint_00000N holds epoch N+1), 0 if none."""
    folders = storage.glob(f"*/run_trial_{trial_id}_*/checkpoint_*")
    return max((int(folder.name.rsplit("_", 1)[1]) + 1 for folder in folders), default=0)


def ray_cli(*args: str, env=None) -> None:
    subprocess.run([RAY, *args], check=True, capture_output=True, timeout=120, env=env)


@pytest.fixture
def two_nodes(mlflow_server, monkeypatch):
    """Head (1 CPU) and a worker node (1 CPU, its own process group so a test can kill it).
    Token authentication is off: the cluster listens on this machine only, for this test."""
    monkeypatch.setenv("RAY_AUTH_MODE", "disabled")
    env = subprocess_env(mlflow_server.url)
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)
    port = free_port()
    ray_cli(
        "start",
        "--head",
        f"--port={port}",
        "--num-cpus=1",
        "--include-dashboard=false",
        "--disable-usage-stats",
        env=env,
    )
    worker = subprocess.Popen(
        [RAY, "start", f"--address=127.0.0.1:{port}", "--num-cpus=1", "--disable-usage-stats", "--block"],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    deadline = time.monotonic() + 90
    import ray

    while time.monotonic() < deadline:  # wait until both nodes are alive
        ray.init(address=f"127.0.0.1:{port}", log_to_driver=False, configure_logging=False)
        alive = [n for n in ray.nodes() if n["Alive"]]
        ray.shutdown()
        if len(alive) == 2:
            # the node a test kills: the one without the head's resource
            (worker.node_id,) = [n["NodeID"] for n in alive if "node:__internal_head__" not in n["Resources"]]
            break
        time.sleep(2)
    else:
        pytest.fail("the worker node did not join the cluster")
    yield worker
    kill_session(worker.pid)
    worker.wait(timeout=60)
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)


def test_search_survives_a_killed_worker_node(mlflow_server, supercon_dir, small_grid, two_nodes, tmp_path):
    spec = small_grid(units=(16, 32, 64), learning_rates=(1e-3, 3e-3), epochs=EPOCHS)
    command = [
        str(Path(sys.executable).parent / "physml"),
        "tune",
        "supercon",
        "--search",
        "grid",
        "--spec",
        spec,
        "--address",
        "auto",
        "--no-retrain",
        "--max-failures",
        "3",
        "--set",
        "experiment=test-tune-node-loss",
        "--set",
        "dnn.batch_size=64",  # epochs of about a second: a kill lands mid-trial even on a loaded host
        "--storage",
        str(tmp_path / "ray"),
        "--data-dir",
        str(supercon_dir),
    ]
    env = {**subprocess_env(mlflow_server.url), "PHYSML_METRICS_FLUSH_SECONDS": "0"}  # each epoch on the server at once
    log = tmp_path / "search.log"  # a file, not a pipe: nobody reads it while the search runs
    search = subprocess.Popen(command, env=env, stdout=log.open("w"), stderr=subprocess.STDOUT, text=True)
    client = MlflowClient(mlflow_server.url)
    deadline = time.monotonic() + 300
    killed_node = None
    while time.monotonic() < deadline and killed_node is None:
        time.sleep(0.5)
        experiment = client.get_experiment_by_name("test-tune-node-loss")
        if experiment is None:
            continue
        running = client.search_runs(
            [experiment.experiment_id], "attributes.status = 'RUNNING' and tags.`ray.node_id` != ''"
        )
        running = [r for r in running if "ray.trial_id" in r.data.tags]
        nodes = {r.data.tags["ray.node_id"] for r in running}
        on_worker = [r.data.tags["ray.trial_id"] for r in running if r.data.tags["ray.node_id"] == two_nodes.node_id]
        # a trial on the worker node has a checkpoint past epoch 1 in Tune's storage, and epochs left to lose
        if len(nodes) == 2 and any(2 <= checkpointed_epochs(tmp_path / "ray", t) <= EPOCHS - 4 for t in on_worker):
            head_nodes = {r.data.tags["ray.node_id"] for r in running}
            assert kill_session(two_nodes.pid) >= 2  # the worker node's raylet and its trial processes
            killed_node = head_nodes
    assert killed_node, "never saw trials running on both nodes:\n" + log.read_text()[-3000:]
    search.wait(timeout=600)
    assert search.returncode == 0, log.read_text()[-4000:]
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-node-loss")
    finished = one_finished_run_per_trial(trials, retries_expected=True)
    configs = {(t.data.params["units"], t.data.params["learning_rate"]) for t in finished}
    assert len(configs) == 6 == parent.data.metrics["n_trials"]  # every point finished, the lost one retried
    assert parent.data.metrics["n_errored"] == 0
    cut_off = [t for t in trials if t.info.status != "FINISHED"]  # the attempts lost with the node: closed, not RUNNING
    assert cut_off and all(t.info.status == "FAILED" and t.data.tags["trial.retried"] == "true" for t in cut_off)
    # why Ray gave up on the attempt, from its error file, on the run (RayActorError / node died)
    assert all("trial.ray_error" in t.data.tags for t in cut_off), [t.data.tags for t in cut_off]
    print("ray errors of the cut-off attempts:", [t.data.tags["trial.ray_error"] for t in cut_off])
    retried_ids = {t.data.tags["ray.trial_id"] for t in cut_off}
    assert all(int(t.data.tags["trial.attempt"]) >= 2 for t in finished if t.data.tags["ray.trial_id"] in retried_ids)
    assert parent.data.metrics["n_retried_attempts"] == len(cut_off) and parent.data.metrics["n_orphaned"] == 0
    # the retried attempts went on from their last checkpoint, not from epoch 0
    retried = [t for t in finished if t.data.tags["ray.trial_id"] in retried_ids]
    resumed = [t for t in retried if int(t.data.tags.get("trial.resumed_from_epoch", 0)) >= 1]
    assert resumed, [t.data.tags for t in retried]
    for run in resumed:
        steps = [m.step for m in client.get_metric_history(run.info.run_id, "val_rmse")]
        start = int(run.data.tags["trial.resumed_from_epoch"])
        assert min(steps) == start + 1 and max(steps) == EPOCHS, (start, steps)
