"""`physml server start|status|stop` as a user runs it: a real process, checked over HTTP."""

import os
import signal
import socket
import subprocess
import sys

import pytest
import requests
from mlflow import MlflowClient

from physml.errors import TrackingServerError
from physml.tracking import server
from tests.helpers.processes import free_port

pytestmark = pytest.mark.integration  # starts and kills real mlflow server processes


def physml(*args, env=None):
    return subprocess.run(
        [sys.executable, "-m", "physml.cli", *args], check=False, capture_output=True, text=True, env=env, timeout=180
    )


def test_start_status_stop_from_the_command_line(tmp_path):
    port = str(free_port())
    home = str(tmp_path / "home")
    started = physml("server", "start", "--home", home, "--port", port)
    assert started.returncode == 0, started.stderr
    url = f"http://127.0.0.1:{port}"
    assert url in started.stdout
    try:
        assert requests.get(f"{url}/health", timeout=5).text.strip() == "OK"
        assert MlflowClient(url).search_experiments()[0].name == "Default"
        assert (tmp_path / "home" / "mlflow.db").exists()
        status = physml("server", "status", "--home", home)
        assert status.returncode == 0 and url in status.stdout
        pid = server.status(home).pid
    finally:
        stopped = physml("server", "stop", "--home", home)
    assert stopped.returncode == 0 and "stopped" in stopped.stdout
    with pytest.raises(ProcessLookupError):
        os.kill(pid, 0)
    assert physml("server", "status", "--home", home).returncode == 1


def test_taken_port_is_a_clear_error(tmp_path):
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        port = blocker.getsockname()[1]
        with pytest.raises(TrackingServerError, match=f"port {port} on 127.0.0.1 is already taken"):
            server.start(home=tmp_path, port=port)


def test_stale_state_file_is_ignored(tmp_path):
    (tmp_path / "server.json").write_text('{"pid": 999999, "host": "127.0.0.1", "port": 1, "home": "x"}')
    assert server.status(tmp_path) is None
    assert not (tmp_path / "server.json").exists()


def test_tracking_uri_precedence(monkeypatch, tmp_path):
    monkeypatch.setenv("MLFLOW_TRACKING_URI", "http://team:5000")
    assert server.resolve_tracking_uri("http://flag:1") == "http://flag:1"
    assert server.resolve_tracking_uri(None) == "http://team:5000"
    monkeypatch.delenv("MLFLOW_TRACKING_URI")
    monkeypatch.setenv("PHYSML_HOME", str(tmp_path))
    with pytest.raises(TrackingServerError, match="no tracking server"):
        server.resolve_tracking_uri(None, autostart=False)


def test_killed_server_leaves_no_running_status(tmp_path):
    info = server.start(home=tmp_path, port=free_port())
    os.killpg(info.pid, signal.SIGKILL)
    os.waitpid(info.pid, 0)
    assert server.status(tmp_path) is None
