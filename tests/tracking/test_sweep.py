"""What no handler catches (kill -9, the OOM killer): the next `physml sync` (or train, tune) ends
the run its dead process left RUNNING (tracking/sweep.py). A real training process, killed for real."""

from __future__ import annotations

import signal
import socket

from mlflow import MlflowClient

from physml.tracking.epochs import FLUSH_VARIABLE
from physml.tracking.processes import process_tags
from tests.helpers.processes import physml_process, running_run, subprocess_env


def test_kill_9_leaves_a_run_that_sync_ends_failed(mlflow_server, supercon_dir, tmp_path, monkeypatch, capsys):
    from physml import cli

    env = subprocess_env(mlflow_server.url) | {FLUSH_VARIABLE: "0"}
    client = MlflowClient(mlflow_server.url)
    args = ["supercon", "train", "--model", "dnn", "--preset", "quick", "--set", "dnn.epochs=200", "--no-register"]
    process = physml_process([*args, "--experiment", "test-kill-9", "--data-dir", str(supercon_dir)], env, tmp_path)
    try:
        killed = running_run(client, "test-kill-9", process, tmp_path)
    finally:
        process.send_signal(signal.SIGKILL)
        process.wait(timeout=30)
    assert killed.data.tags["physml.pid"] == str(process.pid)
    assert killed.data.tags["physml.host"] == socket.gethostname()
    assert client.get_run(killed.info.run_id).info.status == "RUNNING"  # nothing caught the kill
    # runs the sweep must leave alone: one of a live process (this one), one of another host
    experiment_id = killed.info.experiment_id
    alive = client.create_run(experiment_id, tags=process_tags()).info.run_id
    elsewhere = client.create_run(experiment_id, tags={**process_tags(), "physml.host": "another-host"}).info.run_id

    monkeypatch.setenv("MLFLOW_TRACKING_URI", mlflow_server.url)
    monkeypatch.setenv("PHYSML_HOME", str(tmp_path / "home"))
    assert cli.main(["sync"]) == 0
    out = capsys.readouterr().out
    run = client.get_run(killed.info.run_id)
    assert run.info.status == "FAILED"
    assert run.data.tags["physml.error"].startswith(f"process gone: pid {process.pid} on {socket.gethostname()}")
    assert f"run {killed.info.run_id}" in out and "ended FAILED" in out, out
    assert [client.get_run(r).info.status for r in (alive, elsewhere)] == ["RUNNING", "RUNNING"]
    for run_id in (alive, elsewhere):
        client.set_terminated(run_id, "FINISHED")
