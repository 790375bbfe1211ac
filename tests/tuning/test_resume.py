"""A search killed mid-way (the real processes, SIGKILL: its whole PID namespace) continues with
--resume without redoing finished trials, and the trial it cut off goes on from its last checkpoint."""

from __future__ import annotations

import shlex
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from physml.tracking.epochs import FLUSH_VARIABLE
from tests.helpers.isolated import isolated_in_background, require_isolation
from tests.helpers.processes import subprocess_env
from tests.helpers.tuning import physml_tune, search_runs


def finished_trials(client: MlflowClient, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs([found.experiment_id], "attributes.status = 'FINISHED'", max_results=200)
    return [r for r in runs if "ray.trial_id" in r.data.tags]


def running_trial_epochs(client: MlflowClient, experiment: str) -> int:
    """Epochs the running trial has logged (0 when none runs)."""
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return 0
    runs = client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'")
    trials = [r for r in runs if "ray.trial_id" in r.data.tags]
    return max((len(client.get_metric_history(r.info.run_id, "val_rmse")) for r in trials), default=0)


def test_killed_search_resumes_without_redoing_finished_trials(mlflow_server, supercon_dir, small_grid, tmp_path):
    spec = small_grid(units=(16, 32, 64), learning_rates=(1e-3, 3e-3), epochs=20)
    args = [
        "tune",
        "supercon",
        "--search",
        "grid",
        "--spec",
        spec,
        "--no-retrain",
        "--max-concurrent",
        "1",
        "--set",
        "experiment=test-tune-resume",
        "--storage",
        str(tmp_path / "ray"),
        "--name",
        "resumable",
        "--data-dir",
        str(supercon_dir),
    ]
    require_isolation()
    env = subprocess_env(mlflow_server.url)
    # every epoch reaches the server as it ends: with the default 2 s batching a 3 s trial shows its
    # epochs only at its first and last (a CI run saw the whole search end between two polls)
    env[FLUSH_VARIABLE] = "0"
    client = MlflowClient(mlflow_server.url)
    # the first search and its local Ray in a namespace of their own: ending it takes the driver, Ray
    # and the trial's worker at once (as a lost machine), and no `ray stop` is needed after
    first = shlex.join([str(Path(sys.executable).parent / "physml"), *args]) + "\n"
    with isolated_in_background(first, tmp_path / "ns", env, tmp_path / "first-search.log") as search:
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline and not (
            len(finished_trials(client, "test-tune-resume")) >= 2
            and running_trial_epochs(client, "test-tune-resume") >= 4
        ):
            assert search.poll() is None, (tmp_path / "first-search.log").read_text()[-3000:]
            time.sleep(0.3)
        before_kill = {
            r.info.run_id: (r.data.params["units"], r.data.params["learning_rate"])
            for r in finished_trials(client, "test-tune-resume")
        }
        assert 2 <= len(before_kill) < 6, "the search should be part-way when it is killed"

    output = physml_tune(mlflow_server.url, *args[1:], "--resume").stdout
    assert "resuming the search" in output
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-resume")
    finished = [t for t in trials if t.info.status == "FINISHED"]
    configs = [(t.data.params["units"], t.data.params["learning_rate"]) for t in finished]
    assert len(configs) == len(set(configs)) == 6  # every point once: nothing finished was trained again
    assert set(before_kill) <= {t.info.run_id for t in finished}
    interrupted = [t for t in trials if t.data.tags.get("interrupted") == "true"]
    assert interrupted and all(t.info.status == "KILLED" for t in interrupted)
    # the trial the kill cut off went on from a checkpoint of Tune's saved state, not from epoch 0
    cut_off = {t.data.tags["ray.trial_id"] for t in interrupted}
    continued = [t for t in finished if t.data.tags["ray.trial_id"] in cut_off]
    assert continued and all(int(t.data.tags.get("trial.resumed_from_epoch", 0)) >= 1 for t in continued), [
        t.data.tags for t in continued
    ]
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_trials"] == 6
