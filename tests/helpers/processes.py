"""Helpers for tests that start real processes: free ports, the environment of a CLI subprocess."""

from __future__ import annotations

import os
import socket
import sys
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def subprocess_env(tracking_uri: str) -> dict[str, str]:
    """Environment for a CLI started by a test: the venv's commands on PATH, the test server as
    tracking URI, and none of the experiment/run variables that in-process MLflow calls leave behind."""
    env = {k: v for k, v in os.environ.items() if k not in ("MLFLOW_EXPERIMENT_ID", "MLFLOW_EXPERIMENT_NAME", "MLFLOW_RUN_ID")}
    venv_bin = Path(sys.executable).parent
    env.update(MLFLOW_TRACKING_URI=tracking_uri, PATH=f"{venv_bin}{os.pathsep}{env['PATH']}")
    return env
