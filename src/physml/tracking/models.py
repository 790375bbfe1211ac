"""A task's model as an MLflow pyfunc model: one class per task, logged the same way for every task.

The task's `TaskModel` subclass (physml/models/pyfunc.py) holds the fitted parts and the preprocessing a raw input needs, and
is where calibration and prediction intervals go, so serving, registry and `predict` change in one
place. `log_task_model` logs it with physml's source (so it loads in a fresh environment), the
task's requirements, a signature, and registers it with the `candidate` alias.
"""

from __future__ import annotations

import importlib.util
import shutil
import tempfile
from pathlib import Path
from typing import Any

import mlflow
import mlflow.pyfunc

from physml.models.pyfunc import TaskModel
from physml.tracking.lineage import SOURCE_DIR
from physml.tracking.registry import record_registration
from physml.tracking.runs import pinned


def source_of(name: str) -> list[Path]:
    """The code of an importable top-level package (its folders) or module (its file)."""
    spec = importlib.util.find_spec(name)
    if spec is None:
        return []
    if spec.submodule_search_locations:  # a package, namespace packages included
        return [Path(location).resolve() for location in spec.submodule_search_locations]
    return [Path(spec.origin).resolve()] if spec.origin else []


def log_task_model(
    python_model: TaskModel | Path,
    result,
    registered_name: str | None,
    requirements: tuple[str, ...],
    signature=None,
    input_example: Any = None,
    artifacts: dict[str, str] | None = None,
):
    """Log `python_model` as the run's `model` (with physml's source, and the source of the package
    that defines the model's class when that is not physml), register it as `registered_name`
    (None: not registered) and record the version on `result`. A path is a models-from-code file
    (it calls `mlflow.models.set_model`): nothing is pickled, loading runs that shipped code only; an
    instance is cloudpickled (MLflow's format for Python objects, which runs code when loaded)."""
    with tempfile.TemporaryDirectory() as tmp:
        ignore = shutil.ignore_patterns("__pycache__")
        sources = [SOURCE_DIR]
        defined_in = type(python_model).__module__ if isinstance(python_model, TaskModel) else "physml"
        package = defined_in.split(".")[0]
        if package != "physml":  # a task from another package: its code travels with the model too
            sources += source_of(package)
        code_paths = []
        for source in sources:
            target = Path(tmp) / source.name
            code_paths.append(
                str(shutil.copytree(source, target, ignore=ignore) if source.is_dir() else shutil.copy(source, target))
            )
        info = mlflow.pyfunc.log_model(
            name="model",
            python_model=str(python_model) if isinstance(python_model, Path) else python_model,
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


def needs_tracking_server(model_uri: str) -> bool:
    """models:/, runs:/ and mlflow-artifacts:/ URIs resolve through a tracking server; a local folder
    (a path or a file: URI) and a bucket URI (s3://, gs://, ...) do not."""
    return model_uri.split(":", 1)[0].lower() in ("models", "runs", "mlflow-artifacts") if ":" in model_uri else False


def logged_task(model_uri: str) -> str | None:
    """The task of the run that logged the model (its `task` tag); None when that cannot be told (a
    model folder, which is read without a tracking server; a run not on this server; no such model:
    loading says so)."""
    from mlflow import MlflowClient

    from physml.tracking import spool

    if not needs_tracking_server(model_uri):
        return None
    try:
        run_id = mlflow.models.get_model_info(model_uri).run_id
        return MlflowClient().get_run(run_id).data.tags.get("task") if run_id else None
    except Exception as exc:
        if spool.unreachable(exc):
            raise
        return None


def load_logged_model(model_uri: str, task: str | None = None):
    """mlflow.pyfunc.load_model, with a one-line error naming the URI when there is no such model,
    or (given the `task` asking) when the model is another task's."""
    from mlflow.exceptions import MlflowException

    from physml.errors import PhysmlError

    if task and (logged := logged_task(model_uri)) and logged != task:
        raise PhysmlError(f"{model_uri} is a {logged} model, not a {task} one")
    try:
        return mlflow.pyfunc.load_model(model_uri)
    except MlflowException as exc:
        if exc.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND", "BAD_REQUEST"):
            first = str(exc).strip().splitlines()[0][:300]
            raise PhysmlError(f"cannot load the model {model_uri}: {first}") from None
        raise
    except OSError as exc:
        raise PhysmlError(f"cannot load the model {model_uri}: {exc}") from None
