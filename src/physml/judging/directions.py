"""Whether a metric is better low or high, from the tasks that logged it (never guessed from its name).

Runs carry the tag `task`; each task declares its metrics with their direction (`Task.metrics`).
`--mode min|max` on `compare` and `promote` decides for runs no registered task claims.
"""

from __future__ import annotations

from collections.abc import Iterable

from physml.errors import PhysmlError
from physml.tasks import get_task, registered
from physml.tasks.base import MODES


def metric_mode(metric: str, tasks: Iterable[str | None], explicit: str | None = None) -> str:
    """'min' or 'max' for `metric` as logged by runs of `tasks` (their `task` tags)."""
    if explicit:
        if explicit not in MODES:
            raise PhysmlError(f"--mode must be min or max, got {explicit!r}")
        return explicit
    known = registered()
    names = {name for name in tasks if name in known}
    if not names:
        raise PhysmlError(
            f"cannot tell whether {metric!r} is better low or high: no registered task logged these runs "
            "(their `task` tag); pass --mode min or --mode max"
        )
    modes = {}
    for name in sorted(names):
        modes[name] = get_task(name).metric_mode(metric)
    if len(set(modes.values())) > 1:
        raise PhysmlError(f"the tasks disagree on {metric!r} ({modes}); pass --mode min or --mode max")
    return next(iter(modes.values()))


def better(mode: str, value: float, than: float) -> bool:
    return value < than if mode == "min" else value > than


def direction_words(mode: str) -> str:
    return "lower is better" if mode == "min" else "higher is better"
