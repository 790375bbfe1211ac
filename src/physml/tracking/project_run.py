"""Where a command's runs go: under `mlflow run`'s project run, and in the experiment MLflow's
variables name (MLFLOW_EXPERIMENT_NAME or MLFLOW_EXPERIMENT_ID), as MLflow's own tools honour them."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


def within_project_run(train: Callable[[], T]) -> T:
    """Under `mlflow run` (MLFLOW_RUN_ID set) the project run is opened first, so the task's runs
    become its children; otherwise the task opens its own runs."""
    import mlflow

    if not os.environ.get("MLFLOW_RUN_ID"):
        return train()
    with mlflow.start_run():
        return train()


def experiment_from_env(tracking_uri: str) -> str | None:
    """The experiment named by MLFLOW_EXPERIMENT_NAME, or by MLFLOW_EXPERIMENT_ID (looked up on the
    server), as MLflow's own tools honour them; None when neither is set."""
    if name := os.environ.get("MLFLOW_EXPERIMENT_NAME"):
        return name
    if experiment_id := os.environ.get("MLFLOW_EXPERIMENT_ID"):
        from mlflow import MlflowClient
        from mlflow.exceptions import MlflowException

        from physml.errors import ConfigError

        try:
            return MlflowClient(tracking_uri).get_experiment(experiment_id).name
        except MlflowException:
            raise ConfigError(f"MLFLOW_EXPERIMENT_ID={experiment_id} is not an experiment on {tracking_uri}") from None
    return None
