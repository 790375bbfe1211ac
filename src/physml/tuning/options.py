"""What a user asks of a search: the options `physml tune` and `mlflow run . -e tune` pass to run_search."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

SEARCHES = ("grid", "bayes", "pbt")  # the search kinds a spec can hold (tuning/spaces.py)


@dataclass
class SearchOptions:
    task: str
    kind: str = "bayes"  # grid | bayes | pbt
    num_samples: int | None = None
    max_concurrent: int = 2
    address: str | None = None  # None: a local Ray; "auto": the running cluster
    resume: bool = False
    data_dir: str | None = None
    preset: str | None = None
    overrides: dict[str, Any] = field(default_factory=dict)  # applied to every trial
    epochs: int | None = None  # per trial: sets the task's epochs key of the searched model
    cpus_per_trial: float = 1.0
    gpus_per_trial: float = 0.0
    max_failures: int = 2  # retries of a trial whose worker died
    checkpoint_every: int = 1  # epochs between a trial's checkpoints (models that checkpoint)
    storage: str | None = None
    name: str | None = None
    retrain_best: bool = True
    seed: int = 0
    spec_path: str | None = None  # default: projects/<task>/search.yaml
    # tracking URI -> the experiment the environment names (MLFLOW_EXPERIMENT_NAME / _ID), or None
    experiment_from: Callable[[str], str | None] | None = None
