"""Where to look in the MLflow UI after a command."""

from __future__ import annotations

import mlflow

from physml.console import redacted


def ui_link(uri: str, experiment_id: str, run_id: str | None = None) -> str:
    """A link into the MLflow UI; MLflow 3's UI opens on its GenAI pages unless told the workflow."""
    page = f"runs/{run_id}" if run_id else "runs"
    return f"{uri}/#/experiments/{experiment_id}/{page}?workflowType=machine_learning"


def print_ui_link(run_id: str | None) -> None:
    uri = mlflow.get_tracking_uri()
    if uri.startswith("http") and run_id:
        experiment_id = mlflow.get_run(run_id).info.experiment_id
        print(f"\nMLflow UI: {ui_link(redacted(uri), experiment_id, run_id)}")
