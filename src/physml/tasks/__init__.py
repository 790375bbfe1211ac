"""The task registry: tasks are found through the `physml.tasks` entry-point group.

physml's own tasks register there like any other (pyproject.toml), so a task can live in another
installed package, or in a folder on the Python path with its own `*.dist-info/entry_points.txt`:

    [physml.tasks]
    mytask = "mypackage.task:MyTask"

An entry point names a `physml.tasks.base.Task` subclass (or an instance of one).

A composition task needs neither: a folder holding task.yaml in one of the projects folders
($PHYSML_PROJECTS_DIR, colon-separated, then physml's projects/) is registered as it is
(tasks/composition/task.py); an entry point of the same name wins.
"""

from __future__ import annotations

import os
import sys
from functools import lru_cache
from importlib.metadata import entry_points

from physml.config.core import projects_dirs
from physml.errors import PhysmlError
from physml.tasks.base import Task

GROUP = "physml.tasks"


def registered() -> dict[str, Task]:
    """Every registered task by name, sorted (found again whenever sys.path changes)."""
    return _registered(tuple(sys.path), os.environ.get("PHYSML_PROJECTS_DIR", ""), str(projects_dirs()[-1]))


@lru_cache(maxsize=4)
def _registered(_path: tuple[str, ...], _projects: str, _own: str) -> dict[str, Task]:
    found = entry_point_tasks()
    try:
        folders = composition_tasks()
    except PhysmlError as exc:  # a broken task.yaml: the other tasks still work, and it says why
        print(f"physml: warning: {exc}", file=sys.stderr)
        folders = {}
    for name, task in folders.items():
        found.setdefault(name, task)
    return dict(sorted(found.items()))


def composition_tasks() -> dict[str, Task]:
    from physml.tasks.composition.task import tasks_in

    return tasks_in(projects_dirs())


def entry_point_tasks() -> dict[str, Task]:
    found: dict[str, Task] = {}
    for point in entry_points(group=GROUP):
        if point.name in found:  # the same distribution seen twice on the path
            continue
        try:
            target = point.load()
        except Exception as exc:  # a broken plug-in must not take the platform down with it
            print(f"physml: warning: task {point.name!r} ({point.value}) cannot be loaded: {exc}", file=sys.stderr)
            continue
        task = target() if isinstance(target, type) else target
        if not isinstance(task, Task):
            print(f"physml: warning: entry point {point.name!r} is not a physml Task; ignored", file=sys.stderr)
            continue
        if task.name != point.name:
            print(f"physml: warning: entry point {point.name!r} names task {task.name!r}; ignored", file=sys.stderr)
            continue
        found[task.name] = task
    return found


def task_names() -> list[str]:
    return list(registered())


def get_task(name: str) -> Task:
    tasks = registered()
    if name not in tasks:
        known = ", ".join(tasks) or "none"
        raise PhysmlError(f"unknown task {name!r}; registered tasks: {known} (entry-point group {GROUP!r})")
    return tasks[name]
