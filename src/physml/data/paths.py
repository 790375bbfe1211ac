"""Where data lives: `--data-dir` (one task's folder) > $PHYSML_DATA_DIR/<task> > the user cache."""

from __future__ import annotations

import os
from pathlib import Path


def cache_base() -> Path:
    """physml's cache: $PHYSML_CACHE_DIR or the user cache dir (~/.cache/physml on Linux)."""
    env = os.environ.get("PHYSML_CACHE_DIR")
    if env:
        return Path(env).expanduser()
    import platformdirs  # here, not at the top: a logged model imports this module without it

    return Path(platformdirs.user_cache_dir("physml"))


def cache_root() -> Path:
    """The download cache, a data root laid out like ../shared/data (one folder per task)."""
    return cache_base() / "data"


def data_root() -> Path:
    env = os.environ.get("PHYSML_DATA_DIR")
    return Path(env).expanduser() if env else cache_root()


def task_data_dir(task_folder: str, data_dir: str | Path | None = None) -> Path:
    """The folder holding one task's files; `data_dir` (a flag) wins over the environment."""
    if data_dir:
        return Path(data_dir).expanduser()
    return data_root() / task_folder
