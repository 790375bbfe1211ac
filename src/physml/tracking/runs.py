"""Run conventions: tags every run carries, dataset inputs, figures, model requirements."""

from __future__ import annotations

import subprocess
from contextlib import contextmanager
from functools import lru_cache
from importlib.metadata import PackageNotFoundError, version
from pathlib import Path

import matplotlib.pyplot as plt
import mlflow

import physml

SOURCE_DIR = Path(physml.__file__).resolve().parent


@lru_cache(maxsize=1)
def git_sha() -> str:
    """The commit of the physml source tree (or of the working directory), 'unknown' outside git."""
    for folder in (SOURCE_DIR, Path.cwd()):
        try:
            out = subprocess.run(
                ["git", "rev-parse", "HEAD"], cwd=folder, capture_output=True, text=True, timeout=10, check=True
            )
            return out.stdout.strip()
        except (OSError, subprocess.SubprocessError):
            continue
    return "unknown"


def standard_tags(task: str, model: str, preset: str | None = None) -> dict[str, str]:
    tags = {
        "physml.version": physml.__version__,
        "git_sha": git_sha(),
        "task": task,
        "model": model,
    }
    if preset:
        tags["preset"] = preset
    return tags


@contextmanager
def task_run(experiment: str, run_name: str, tags: dict[str, str]):
    """Open a run (nested when another is active, e.g. under `mlflow run` or a tuning parent).

    An exception inside ends the run as FAILED (mlflow's context manager does that); what was
    logged before the exception stays on the server.
    """
    active = mlflow.active_run()
    if active is None:
        mlflow.set_experiment(experiment)
    with mlflow.start_run(run_name=run_name, tags=tags, nested=active is not None) as run:
        yield run


def log_figure(figure, artifact_path: str) -> None:
    mlflow.log_figure(figure, artifact_path)
    plt.close(figure)


def pinned(*packages: str) -> list[str]:
    """`name==installed version` for each package that is installed (the served model's requirements)."""
    pins = []
    for name in packages:
        try:
            pins.append(f"{name}=={version(name)}")
        except PackageNotFoundError:
            continue
    return pins
