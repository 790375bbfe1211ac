"""SIGTERM and SIGHUP end a command as Ctrl-C does (tracking/stops.py): real signals sent to real
`physml` processes, the run's state read back from a real tracking server."""

from __future__ import annotations

import os
import signal
import time

import pytest
from mlflow import MlflowClient

from physml.tracking.epochs import FLUSH_VARIABLE
from tests.helpers.processes import physml_process, running_run, subprocess_env

SLOW_TRAIN = ["supercon", "train", "--model", "dnn", "--preset", "quick", "--set", "dnn.epochs=200", "--no-register"]


def error_lines(text: str) -> list[str]:
    return [line for line in text.splitlines() if line.startswith("physml: error")]


def test_sigterm_ends_a_training_run_failed_within_10_s(mlflow_server, supercon_dir, tmp_path):
    env = subprocess_env(mlflow_server.url) | {FLUSH_VARIABLE: "0"}
    client = MlflowClient(mlflow_server.url)
    args = [*SLOW_TRAIN, "--experiment", "test-sigterm", "--data-dir", str(supercon_dir)]
    process = physml_process(args, env, tmp_path)
    try:
        run = running_run(client, "test-sigterm", process, tmp_path)
        sent = time.monotonic()
        process.send_signal(signal.SIGTERM)
        code = process.wait(timeout=60)
        took = time.monotonic() - sent
    finally:
        process.kill()
    stderr = (tmp_path / "physml.err").read_text()
    assert code == 128 + signal.SIGTERM, stderr[-3000:]
    assert took < 10, f"{took:.1f} s"
    assert error_lines(stderr) == ["physml: error: stopped by SIGTERM; open runs ended FAILED"], stderr[-3000:]
    assert "Traceback" not in stderr
    ended = client.get_run(run.info.run_id)
    assert ended.info.status == "FAILED" and ended.data.tags["physml.error"] == "Stopped: by SIGTERM"


@pytest.mark.parametrize(("signum", "verbose"), [(signal.SIGHUP, False), (signal.SIGINT, True)])
def test_a_signal_ends_the_open_run_with_one_line(tracking, monkeypatch, capsys, signum, verbose):
    """In process: the signal (a real one, to this process) reaches a command with a run open; the run
    ends FAILED naming it, one line (and with -v the traceback), exit 128 + the signal."""
    from physml import cli
    from physml.cli import guide
    from physml.tracking.runs import task_run

    opened = []

    def command(args) -> int:
        with task_run("test-signal-in-process", "signalled", {"task": "test"}) as run:
            opened.append(run.info.run_id)
            os.kill(os.getpid(), signum)
            time.sleep(10)  # the handler raises in here
        return 0

    monkeypatch.setattr(guide, "cmd_next_steps", command)
    assert cli.main([*(["-v"] if verbose else []), "next-steps"]) == 128 + signum
    stderr = capsys.readouterr().err
    name = "Ctrl-C (SIGINT)" if signum == signal.SIGINT else signal.Signals(signum).name
    assert error_lines(stderr) == [f"physml: error: stopped by {name}; open runs ended FAILED"], stderr
    assert ("Traceback" in stderr) == verbose
    run = MlflowClient(tracking).get_run(opened[0])
    expected = "KeyboardInterrupt: by Ctrl-C (SIGINT)" if signum == signal.SIGINT else f"Stopped: by {name}"
    assert run.info.status == "FAILED" and run.data.tags["physml.error"] == expected
    assert signal.getsignal(signal.SIGHUP) is signal.SIG_DFL  # main() put the handlers back


def test_a_signal_with_the_server_gone_spools_the_end_at_once(tracking, monkeypatch, capsys, tmp_path):
    """SIGTERM while the run's server does not answer: its end goes to the spool within 10 s, not after
    the 120 s wait for the server (MLflow's retries are cut when the signal comes)."""
    import mlflow

    from physml import cli
    from physml.cli import guide
    from physml.tracking import spool
    from physml.tracking.runs import task_run
    from physml.tracking.server import free_port

    monkeypatch.setenv("PHYSML_HOME", str(tmp_path))
    opened = []

    def command(args) -> int:
        with task_run("test-signal-server-gone", "signalled", {"task": "test"}) as run:
            opened.append(run.info.run_id)
            mlflow.set_tracking_uri(f"http://127.0.0.1:{free_port()}")  # the run's server is gone from here on
            os.kill(os.getpid(), signal.SIGTERM)
            time.sleep(10)
        return 0

    monkeypatch.setattr(guide, "cmd_next_steps", command)
    started = time.monotonic()
    try:
        assert cli.main(["next-steps"]) == 128 + signal.SIGTERM
        assert time.monotonic() - started < 10
    finally:
        mlflow.set_tracking_uri(tracking)
    assert error_lines(capsys.readouterr().err) == ["physml: error: stopped by SIGTERM; open runs ended FAILED"]
    folder = tmp_path / "spool" / opened[0]
    assert [r["status"] for r in spool.read(folder / "status.jsonl")] == ["FAILED"]
    assert {"key": "physml.error", "value": "Stopped: by SIGTERM"} in spool.read(folder / "tags.jsonl")
    MlflowClient(tracking).set_terminated(opened[0], "FAILED")
