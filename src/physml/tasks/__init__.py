"""The task registry: tasks are found through the `physml.tasks` entry-point group.

physml's own tasks register there like any other (pyproject.toml), so a task can live in another
installed package, or in a folder on the Python path with its own `*.dist-info/entry_points.txt`:

    [physml.tasks]
    mytask = "mypackage.task:MyTask"

An entry point names a `physml.tasks.base.Task` subclass (or an instance of one).
"""

from __future__ import annotations

import sys
from functools import lru_cache
from importlib.metadata import entry_points

from physml.errors import PhysmlError
from physml.tasks.base import Task

GROUP = "physml.tasks"


def registered() -> dict[str, Task]:
    """Every registered task by name, sorted (found again whenever sys.path changes)."""
    return _registered(tuple(sys.path))


@lru_cache(maxsize=4)
def _registered(_path: tuple[str, ...]) -> dict[str, Task]:
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
    return dict(sorted(found.items()))


def task_names() -> list[str]:
    return list(registered())


def get_task(name: str) -> Task:
    tasks = registered()
    if name not in tasks:
        known = ", ".join(tasks) or "none"
        raise PhysmlError(f"unknown task {name!r}; registered tasks: {known} (entry-point group {GROUP!r})")
    return tasks[name]
