"""SIGTERM to a running search (a real `physml tune` process) stops it as Ctrl-C does: Tune saves its
state, the parent run ends KILLED with nothing summarised, no run stays RUNNING, one line names the
signal and --resume; the exit code is 128 + SIGTERM."""

from __future__ import annotations

import signal
import time

from mlflow import MlflowClient

from physml.tracking.epochs import FLUSH_VARIABLE
from tests.helpers.processes import physml_process, running_run, subprocess_env
from tests.helpers.tuning import search_runs


def seconds_until_none_running(client: MlflowClient, experiment: str, since: float, timeout: float = 60) -> float:
    """Seconds from SINCE until no run of EXPERIMENT is RUNNING on the server."""
    experiment_id = client.get_experiment_by_name(experiment).experiment_id
    while client.search_runs([experiment_id], "attributes.status = 'RUNNING'"):
        assert time.monotonic() - since < timeout, f"runs still RUNNING {timeout:.0f} s after the signal"
        time.sleep(0.2)
    return time.monotonic() - since


def test_sigterm_stops_a_search_as_ctrl_c_does(mlflow_server, supercon_dir, small_grid, tmp_path):
    spec = small_grid(units=(16, 32), learning_rates=(1e-3,), epochs=200)
    args = ["tune", "supercon", "--search", "grid", "--spec", spec, "--no-retrain", "--max-concurrent", "1"]
    args += ["--set", "experiment=test-tune-sigterm", "--storage", str(tmp_path / "ray"), "--name", "term"]
    args += ["--data-dir", str(supercon_dir)]
    env = subprocess_env(mlflow_server.url) | {FLUSH_VARIABLE: "0"}
    client = MlflowClient(mlflow_server.url)
    search = physml_process(args, env, tmp_path)
    try:
        running_run(client, "test-tune-sigterm", search, tmp_path)
        sent = time.monotonic()
        search.send_signal(signal.SIGTERM)
        took = seconds_until_none_running(client, "test-tune-sigterm", sent)
        code = search.wait(timeout=120)
        exited = time.monotonic() - sent
    finally:
        search.kill()
    stderr = (tmp_path / "physml.err").read_text()
    assert code == 128 + signal.SIGTERM, stderr[-3000:]
    (line,) = [line for line in stderr.splitlines() if line.startswith("physml: error")]
    assert line.startswith("physml: error: stopped by SIGTERM: the search stopped with 1 trial(s) unfinished"), line
    assert line.endswith("run the same command with --resume to continue")
    assert "Traceback" not in stderr
    parent, trials, _ = search_runs(mlflow_server.url, "test-tune-sigterm")
    assert parent.info.status == "KILLED" and parent.data.tags["search.error"].startswith("SearchInterrupted")
    assert "search.num_trials" not in parent.data.params  # nothing summarised
    assert trials and all(t.info.status == "KILLED" and t.data.tags.get("interrupted") == "true" for t in trials)
    assert took < 10, f"{took:.1f} s"
    print(f"no run RUNNING {took:.1f} s after the signal; exited after {exited:.1f} s")
