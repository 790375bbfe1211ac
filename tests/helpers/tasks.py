"""Helpers for the tests every task shares: the plug-in task of tests/third_task on the path, and
the registered version a run logged."""

from __future__ import annotations

import os
from contextlib import contextmanager
from pathlib import Path

import pytest
from mlflow import MlflowClient

PLUGIN_SITE = Path(__file__).resolve().parents[1] / "third_task" / "site"


@contextmanager
def plugin_on_path():
    """The plug-in's folder on this process's path and on its subprocesses' and Ray workers' (PYTHONPATH)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.syspath_prepend(str(PLUGIN_SITE))
        patch.setenv("PYTHONPATH", os.pathsep.join(filter(None, [str(PLUGIN_SITE), os.environ.get("PYTHONPATH")])))
        yield


def version_of(client: MlflowClient, run_id: str):
    """The registered model version that `run_id` logged."""
    (version,) = client.search_model_versions(f"run_id='{run_id}'")
    return version
