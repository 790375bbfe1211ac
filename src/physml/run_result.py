"""What one training run produced, shared by the task contract (Task.train returns it) and recording
(the run loop and the model log fill it in), so neither imports the other."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass
class RunResult:
    """What one training run produced: the run, its headline metrics and where its model went."""

    model: str
    run_id: str | None = None
    metrics: dict[str, float] = field(default_factory=dict)
    model_uri: str | None = None
    registered_name: str | None = None
    registered_version: str | None = None
    diverged: bool = False
    predictions: Any = None  # the test part's predictions, in its row order, where a task keeps them
