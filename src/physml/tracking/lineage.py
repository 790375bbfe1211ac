"""Lineage: what a run was made from, so that it can be traced and trained again (`physml reproduce`).

Every run and trial carries `lineage_tags()`: the code (`git_sha`, `git_dirty`) and the installed
environment (`physml.env.hash`, `physml.env.source`). A task run also logs its resolved config as
`config.yaml` (`log_config`) and the installed distributions as `environment/requirements_freeze.txt`
(`log_environment`); the data are named by the digest of the dataset the task logs as its input.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import re
import subprocess
from functools import lru_cache
from importlib.metadata import distributions
from pathlib import Path

import mlflow
import yaml

import physml
from physml.errors import ConfigError

SOURCE_DIR = Path(physml.__file__).resolve().parent
REPO_ROOT = SOURCE_DIR.parents[1]  # src/physml -> the checkout, where pyproject.toml is
LOCK_FILE = "requirements.lock"
CONFIG_ARTIFACT = "config.yaml"
FREEZE_ARTIFACT = "environment/requirements_freeze.txt"
INSTALLERS = {"pip", "setuptools", "wheel", "distribute"}  # what `pip freeze` leaves out (without --all)


def git(*args: str) -> str | None:
    """The output of `git ARGS` in the physml source tree (or else the working directory); None outside git."""
    for folder in (SOURCE_DIR, Path.cwd()):
        try:
            out = subprocess.run(["git", *args], cwd=folder, capture_output=True, text=True, timeout=10, check=True)
            return out.stdout
        except (OSError, subprocess.SubprocessError):
            continue
    return None


@lru_cache(maxsize=1)
def git_sha() -> str:
    """The commit of the physml source tree (or of the working directory), 'unknown' outside git."""
    out = git("rev-parse", "HEAD")
    return out.strip() if out else "unknown"


def git_dirty() -> str:
    """'true' when tracked files differ from that commit, 'false' when not, 'unknown' outside git."""
    out = git("status", "--porcelain", "--untracked-files=no")
    return "unknown" if out is None else str(bool(out.strip())).lower()


def canonical_name(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


@lru_cache(maxsize=1)
def freeze() -> str:
    """`name==version` of every installed distribution, one a line, sorted: what `pip freeze` lists,
    with physml itself as a version rather than its editable path."""
    lines: dict[str, str] = {}
    for dist in distributions():
        name = dist.metadata["Name"]
        key = canonical_name(name or "")
        if key and key not in INSTALLERS and key not in lines:  # the first on the path is the one imported
            lines[key] = f"{name}=={dist.version}"
    return "".join(f"{lines[key]}\n" for key in sorted(lines))


def lock_file() -> Path | None:
    """The lock file that pins the environment: $PHYSML_LOCK_FILE, else requirements.lock beside
    pyproject.toml (`make install` installs from it); None when there is none."""
    if named := os.environ.get("PHYSML_LOCK_FILE"):
        path = Path(named).expanduser()
        if not path.is_file():
            raise ConfigError(f"PHYSML_LOCK_FILE={named} is not a file")
        return path
    path = REPO_ROOT / LOCK_FILE
    return path if path.is_file() and (REPO_ROOT / "pyproject.toml").is_file() else None


PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;\\]+)", re.MULTILINE)


def installed_from(lock_text: str) -> bool:
    """Whether every distribution the lock pins (`name==version` lines) is installed at that version:
    an environment built otherwise (`pip install -e '.[gpu]'`, a cluster node) is named by its freeze."""
    installed = {canonical_name(name): pin for name, pin in (line.split("==", 1) for line in freeze().splitlines())}
    pins = {canonical_name(name): pin for name, pin in PIN.findall(lock_text)}
    return bool(pins) and all(installed.get(name) == pin for name, pin in pins.items() if name not in INSTALLERS)


def short_sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()[:16]


@lru_cache(maxsize=1)
def lineage_tags() -> dict[str, str]:
    """The code and environment a run is made with (computed once per process; do not change the dict)."""
    lock = lock_file()
    # $PHYSML_LOCK_FILE is taken at its word; the checkout's requirements.lock only when this environment is it
    if lock is not None and (os.environ.get("PHYSML_LOCK_FILE") or installed_from(lock.read_text())):
        env_hash, source = short_sha256(lock.read_bytes()), f"lock:{lock.name}"
    else:
        env_hash, source = short_sha256(freeze().encode()), "pip-freeze"
    return {"git_sha": git_sha(), "git_dirty": git_dirty(), "physml.env.hash": env_hash, "physml.env.source": source}


def config_tree(config) -> dict:
    """The resolved config as plain data: every setting, the preset's name, not the presets themselves."""
    tree = dataclasses.asdict(config)
    tree.pop("presets", None)
    return tree


def log_config(config) -> None:
    """The active run's resolved config as `config.yaml` (the task's load_config reads it back)."""
    mlflow.log_text(yaml.safe_dump(config_tree(config), sort_keys=False), CONFIG_ARTIFACT)


def log_environment() -> None:
    """The active run's installed distributions as `environment/requirements_freeze.txt`."""
    mlflow.log_text(freeze(), FREEZE_ARTIFACT)
