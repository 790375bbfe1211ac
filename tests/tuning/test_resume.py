"""A search killed mid-way (the real process, SIGKILL) continues with --resume without redoing
finished trials."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from mlflow import MlflowClient

from tests.helpers.processes import subprocess_env
from tests.helpers.tuning import physml_tune, search_runs

RAY = str(Path(sys.executable).parent / "ray")


def finished_trials(client: MlflowClient, experiment: str) -> list:
    found = client.get_experiment_by_name(experiment)
    if found is None:
        return []
    runs = client.search_runs([found.experiment_id], "attributes.status = 'FINISHED'", max_results=200)
    return [r for r in runs if "ray.trial_id" in r.data.tags]


def test_killed_search_resumes_without_redoing_finished_trials(mlflow_server, supercon_dir, small_grid, tmp_path):
    spec = small_grid(units=(16, 32, 64), learning_rates=(1e-3, 3e-3), epochs=6)
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
    env = subprocess_env(mlflow_server.url)
    search = subprocess.Popen(
        [str(Path(sys.executable).parent / "physml"), *args],
        env=env,
        start_new_session=True,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    client = MlflowClient(mlflow_server.url)
    deadline = time.monotonic() + 300
    while time.monotonic() < deadline and len(finished_trials(client, "test-tune-resume")) < 2:
        time.sleep(1)
    before_kill = {
        r.info.run_id: (r.data.params["units"], r.data.params["learning_rate"])
        for r in finished_trials(client, "test-tune-resume")
    }
    assert 2 <= len(before_kill) < 6, "the search should be part-way when it is killed"
    os.killpg(search.pid, signal.SIGKILL)
    search.wait(timeout=30)
    subprocess.run([RAY, "stop", "--force"], capture_output=True, timeout=120)  # the orphaned local Ray

    output = physml_tune(mlflow_server.url, *args[1:], "--resume").stdout
    assert "resuming the search" in output
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-resume")
    finished = [t for t in trials if t.info.status == "FINISHED"]
    configs = [(t.data.params["units"], t.data.params["learning_rate"]) for t in finished]
    assert len(configs) == len(set(configs)) == 6  # every point once: nothing finished was trained again
    assert set(before_kill) <= {t.info.run_id for t in finished}
    interrupted = [t for t in trials if t.data.tags.get("interrupted") == "true"]
    assert all(t.info.status == "KILLED" for t in interrupted)
    assert parent.info.status == "FINISHED" and parent.data.metrics["n_trials"] == 6
