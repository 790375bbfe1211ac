"""A task's model as an MLflow pyfunc model: one class per task, logged the same way for every task.

The task's `TaskModel` subclass holds the fitted parts and the preprocessing a raw input needs, and
is where calibration and prediction intervals go, so serving, registry and `predict` change in one
place. `log_task_model` logs it with physml's source (so it loads in a fresh environment), the
task's requirements, a signature, and registers it with the `candidate` alias.
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc

from physml.tracking.registry import record_registration
from physml.tracking.runs import SOURCE_DIR, pinned


class TaskModel(mlflow.pyfunc.PythonModel):
    """Base of the tasks' pyfunc models. Subclasses implement `predict(context, model_input, params)`;
    big fitted parts (a Keras model) go in `artifacts` and are loaded in `load_context`."""

    def load_context(self, context) -> None:
        """Load what `artifacts` holds; the default model needs nothing."""


def log_task_model(
    python_model: TaskModel,
    result,
    registered_name: str | None,
    requirements: tuple[str, ...],
    signature=None,
    input_example: Any = None,
    artifacts: dict[str, str] | None = None,
):
    """Log `python_model` as the run's `model` (with physml's source, and the source of the package
    that defines the model's class when that is not physml), register it as `registered_name`
    (None: not registered) and record the version on `result`."""
    with tempfile.TemporaryDirectory() as tmp:
        ignore = shutil.ignore_patterns("__pycache__")
        sources = [SOURCE_DIR]
        package = type(python_model).__module__.split(".")[0]
        if package != "physml":  # a task from another package: its code travels with the model too
            sources.append(Path(importlib.import_module(package).__file__).resolve().parent)
        code_paths = [str(shutil.copytree(folder, Path(tmp) / folder.name, ignore=ignore)) for folder in sources]
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=python_model,
            artifacts=artifacts,
            signature=signature,
            input_example=input_example,
            pip_requirements=pinned(*requirements),
            code_paths=code_paths,
            registered_model_name=registered_name,
        )
    result.model_uri = info.model_uri
    record_registration(registered_name, info.registered_model_version, result)
    return info
