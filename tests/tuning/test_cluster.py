"""A real two-node Ray cluster on this machine (`ray start --head` + a second `ray start --address`),
each node in its own PID and mount namespace (tests/helpers/isolated.py): a search survives the
worker node being killed mid-way (its whole namespace, raylet and trial processes at once), its
lost trials going on from their checkpoints. (Trials on both nodes of a cluster that `ray up`
started: test_ray_up.py.)"""

from __future__ import annotations

import json
import shlex
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from tests.helpers.isolated import isolated_in_background, require_isolation
from tests.helpers.processes import subprocess_env
from tests.helpers.ray_nodes import NodePorts, wait_for_nodes
from tests.helpers.tuning import one_finished_run_per_trial, search_runs

EPOCHS = 16  # per trial of the node-loss search: long enough to be cut off mid-way
HEAD, WORKER = "127.0.0.1", "127.0.0.2"


def checkpointed_epochs(storage: Path, trial_id: str) -> int:
    """The epoch of the trial's latest checkpoint in Tune's storage (checkpoint_00000N holds epoch N+1), 0 if none."""
    folders = storage.glob(f"*/run_trial_{trial_id}_*/checkpoint_*")
    return max((int(folder.name.rsplit("_", 1)[1]) + 1 for folder in folders), default=0)


def trials_running(client: MlflowClient, experiment_name: str) -> list:
    experiment = client.get_experiment_by_name(experiment_name)
    if experiment is None:
        return []
    running = client.search_runs(
        [experiment.experiment_id], "attributes.status = 'RUNNING' and tags.`ray.node_id` != ''"
    )
    return [r for r in running if "ray.trial_id" in r.data.tags]


def test_search_survives_a_killed_worker_node(mlflow_server, supercon_dir, small_grid, tmp_path):
    require_isolation()
    spec = small_grid(units=(16, 32, 64), learning_rates=(1e-3, 3e-3), epochs=EPOCHS)
    tune = [str(Path(sys.executable).parent / "physml"), "tune", "supercon", "--search", "grid", "--spec", spec]
    tune += ["--address", "auto", "--no-retrain", "--max-failures", "3", "--set", "experiment=test-tune-node-loss"]
    tune += ["--set", "dnn.batch_size=64"]  # epochs of about a second: a kill lands mid-trial even on a loaded host
    tune += ["--storage", str(tmp_path / "ray"), "--data-dir", str(supercon_dir)]
    # each epoch on the server at once; token authentication off: the cluster listens on this machine only
    env = {**subprocess_env(mlflow_server.url), "PHYSML_METRICS_FLUSH_SECONDS": "0", "RAY_AUTH_MODE": "disabled"}
    ports = NodePorts()
    gcs, nodes_file, log = ports.take(), tmp_path / "nodes.json", tmp_path / "search.log"
    common = "--num-cpus=1 --disable-usage-stats"
    head = f"""ray start --head --port={gcs} --node-ip-address={HEAD} {common} --include-dashboard=false {ports.flags(True, "10002-14999")} > {tmp_path}/head.log 2>&1
{wait_for_nodes(f"{HEAD}:{gcs}", 2, nodes_file)}
{shlex.join(tune)} > {log} 2>&1
"""
    worker = f"ray start --address={HEAD}:{gcs} --node-ip-address={WORKER} {common} --block {ports.flags(False, '15000-19999')}\n"
    client = MlflowClient(mlflow_server.url)
    with (
        isolated_in_background(worker, tmp_path / "ns-worker", env, tmp_path / "worker.log") as worker_node,
        isolated_in_background(head, tmp_path / "ns-head", env, tmp_path / "head-namespace.log") as head_node,
    ):
        deadline = time.monotonic() + 300
        killed = False
        while time.monotonic() < deadline and not killed and head_node.poll() is None:
            time.sleep(0.5)
            if not nodes_file.exists():
                continue
            nodes = json.loads(nodes_file.read_text())
            (worker_id,) = [n for n, resources in nodes.items() if "node:__internal_head__" not in resources]
            running = trials_running(client, "test-tune-node-loss")
            on_worker = [r.data.tags["ray.trial_id"] for r in running if r.data.tags["ray.node_id"] == worker_id]
            # a trial on the worker node has a checkpoint past epoch 1 in Tune's storage, and epochs left to lose
            both = len({r.data.tags["ray.node_id"] for r in running}) == 2
            if both and any(2 <= checkpointed_epochs(tmp_path / "ray", t) <= EPOCHS - 4 for t in on_worker):
                worker_node.kill()  # the worker machine is gone: its namespace, raylet and trials with it
                worker_node.wait(timeout=60)
                killed = True
        journal = "\n".join(f"--- {p.name}\n{p.read_text()[-3000:]}" for p in tmp_path.glob("*.log"))
        assert killed, "never saw trials running on both nodes:\n" + journal
        head_node.wait(timeout=600)
        assert head_node.returncode == 0, log.read_text()[-4000:]
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
