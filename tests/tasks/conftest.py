"""Fixtures every task's tests share: one quick training of each task per session."""

from __future__ import annotations

import pytest
from mlflow import MlflowClient

from physml.cli import main


def quick_experiment(task: str) -> str:
    return f"quick-{task}"


@pytest.fixture(scope="session")
def quick_training(mlflow_server, data_root):
    """`quick_training(task)`: `physml TASK train --preset quick` (every model) once per session, in the
    experiment quick-TASK; its FINISHED runs by model. A system sample each second, so that runs of a
    few seconds carry system metrics too."""
    done: dict[str, dict] = {}

    def train(task: str) -> dict:
        if task not in done:
            variables = {
                "MLFLOW_TRACKING_URI": mlflow_server.url,
                "MLFLOW_SYSTEM_METRICS_SAMPLING_INTERVAL": "1",
                "PHYSML_DATA_DIR": str(data_root),
            }
            with pytest.MonkeyPatch.context() as patch:
                for name, value in variables.items():
                    patch.setenv(name, value)
                command = [task, "train", "--preset", "quick"]  # --model: all of them, its default
                assert main([*command, "--experiment", quick_experiment(task)]) == 0
            client = MlflowClient(mlflow_server.url)
            experiment = client.get_experiment_by_name(quick_experiment(task))
            runs = client.search_runs([experiment.experiment_id], order_by=["attributes.start_time ASC"])
            done[task] = {run.data.tags["model"]: run for run in runs}
        return done[task]

    return train
