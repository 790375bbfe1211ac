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
    # what the platform's evidence reads (tracking/evidence.py): the run's parts as the task declares them;
    # dropped once logged
    evidence: RunEvidence | None = None


@dataclass
class EvidencePart:
    """One part of a run's split as a task declares it: the truth, the model's predictions, and what
    the platform's checks need (each optional: a check without its input says it could not run)."""

    y: Any  # true values (regression) or class indices (classification), one per row
    predicted: Any  # the model's point predictions or predicted class indices (None: a part nothing scores)
    features: Any = None  # numeric rows a nearest-neighbour baseline reads (2-D)
    groups: Any = None  # the task's group key per row (e.g. the composition): floor, audit, group means
    ids: Any = None  # record ids: one on two sides of the split is a leak
    strata: dict[str, Any] = field(default_factory=dict)  # a label per row, by what they group
    probabilities: Any = None  # classification: (rows, classes)
    low: Any = None  # regression: interval bounds per row
    high: Any = None


@dataclass
class RunEvidence:
    """A run's split as the platform's evidence reads it: parts by name (train, val, test; a task
    without a test part leaves it out), the kind of target and how the split was cut."""

    kind: str  # "regression" | "classification"
    split: str  # the split's name as the run logs it (random, grouped, family, matbench-v0.1, ...)
    grouped: bool  # the split promises that no group is on two sides
    parts: dict[str, EvidencePart]
    unit: str = ""  # the target's unit (regression)
    classes: tuple[str, ...] = ()  # class names (classification)
    seed: int = 0  # of the bootstrap intervals
    resamples: int = 1000  # bootstrap resamples of each interval (0: none)
