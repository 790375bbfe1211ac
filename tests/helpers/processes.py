"""Helpers for tests that start real processes: free ports, the environment of a CLI subprocess."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import sys
from pathlib import Path

from physml.tracking.server import free_port

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports: each socket stays bound until all are chosen (free_port() called
    twice can hand out the same port, since the first is released at once)."""
    sockets = [socket.socket() for _ in range(count)]
    try:
        for sock in sockets:
            sock.bind(("", 0))
        return [sock.getsockname()[1] for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


def subprocess_env(tracking_uri: str) -> dict[str, str]:
    """Environment for a CLI started by a test: the venv's commands on PATH, the test server as
    tracking URI, and none of the experiment/run variables that in-process MLflow calls leave behind."""
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID")
    }
    venv_bin = Path(sys.executable).parent
    env.update(MLFLOW_TRACKING_URI=tracking_uri, PATH=f"{venv_bin}{os.pathsep}{env['PATH']}")
    return env


def mlflow_run_project(
    tracking_uri: str, entry: str, params: dict[str, object], experiment: str, extra_env: dict[str, str] | None = None
):
    """`mlflow run <repo> -e ENTRY --env-manager local -P k=v ...` as a user runs it (a subprocess,
    the venv's `mlflow` and `physml`); returns (the project run, its child runs) from the server."""
    import subprocess

    from mlflow import MlflowClient

    command = [str(Path(sys.executable).parent / "mlflow"), "run", str(REPO_ROOT), "-e", entry]
    command += ["--env-manager", "local", "--experiment-name", experiment]
    for key, value in params.items():
        command += ["-P", f"{key}={value}"]
    env = {**subprocess_env(tracking_uri), **(extra_env or {})}
    result = subprocess.run(command, capture_output=True, text=True, env=env, timeout=600)
    assert result.returncode == 0, result.stderr[-3000:]
    client = MlflowClient(tracking_uri)
    runs = client.search_runs([client.get_experiment_by_name(experiment).experiment_id])
    (parent,) = [run for run in runs if "mlflow.parentRunId" not in run.data.tags]
    children = [run for run in runs if run.data.tags.get("mlflow.parentRunId") == parent.info.run_id]
    return parent, children


def kill_session(session_id: int) -> int:
    """SIGKILL every process of a session: a Ray node's raylet, agents and trial processes
    (Ray gives each trial process its own process group, but they stay in the node's session)."""
    killed = 0
    for pid in [int(entry) for entry in os.listdir("/proc") if entry.isdigit()]:
        try:
            if os.getsid(pid) == session_id:
                os.kill(pid, signal.SIGKILL)
                killed += 1
        except (ProcessLookupError, PermissionError):
            continue
    return killed


@contextlib.contextmanager
def served_model(model_uri: str, tracking_uri: str, log_path: Path, timeout: float = 120):
    """`mlflow models serve -m MODEL_URI --env-manager local` on a free port of 127.0.0.1, started for
    real; yields its URL once /ping answers, and stops the server (its whole session) afterwards."""
    import subprocess
    import time

    import requests

    port = free_port()
    command = [str(Path(sys.executable).parent / "mlflow"), "models", "serve", "-m", model_uri]
    command += ["--env-manager", "local", "-h", "127.0.0.1", "-p", str(port)]
    url = f"http://127.0.0.1:{port}"
    with open(log_path, "wb") as log:
        process = subprocess.Popen(
            command, env=subprocess_env(tracking_uri), stdout=log, stderr=subprocess.STDOUT, start_new_session=True
        )
        try:
            deadline = time.monotonic() + timeout
            while True:
                try:
                    if requests.get(f"{url}/ping", timeout=2).status_code == 200:
                        break
                except requests.ConnectionError:
                    pass
                assert process.poll() is None, log_path.read_text(errors="replace")[-2000:]
                assert time.monotonic() < deadline, f"no answer on {url}/ping within {timeout:.0f} s"
                time.sleep(1)
            yield url
        finally:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=30)


def physml_process(args: list[str], env: dict[str, str], folder: Path, name: str = "physml"):
    """`physml ARGS...` started for real (the venv's command), its stdout and stderr in FOLDER/NAME.out
    and .err; returns the Popen. The caller ends it."""
    import subprocess

    command = [str(Path(sys.executable).parent / "physml"), *args]
    with open(folder / f"{name}.out", "w") as out, open(folder / f"{name}.err", "w") as err:
        return subprocess.Popen(command, env=env, stdout=out, stderr=err, stdin=subprocess.DEVNULL, text=True)


def running_run(client, experiment: str, process, folder: Path, name: str = "physml", timeout: float = 180):
    """The first RUNNING run of EXPERIMENT once it has logged a metric (training is under way),
    polling the server while PROCESS lives."""
    import time

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        assert process.poll() is None, (folder / f"{name}.err").read_text()[-3000:]
        found = client.get_experiment_by_name(experiment)
        runs = client.search_runs([found.experiment_id], "attributes.status = 'RUNNING'") if found else []
        started = [run for run in runs if run.data.metrics]
        if started:
            return started[0]
        time.sleep(0.3)
    raise AssertionError(f"no RUNNING run with a metric in {experiment} within {timeout:.0f} s")
