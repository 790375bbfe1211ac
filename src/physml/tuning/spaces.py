"""Search specs as data: projects/<task>/search.yaml -> Ray Tune spaces and searcher settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ray import tune

from physml.errors import ConfigError
from physml.tasks.base import MODES, Task

KINDS = {
    "grid": lambda args: tune.grid_search(list(args)),
    "choice": lambda args: tune.choice(list(args)),
    "uniform": lambda args: tune.uniform(*args),
    "loguniform": lambda args: tune.loguniform(*args),
    "randint": lambda args: tune.randint(*args),
    "qrandint": lambda args: tune.qrandint(*args),
}


@dataclass
class SearchSpec:
    task: str
    kind: str  # grid | bayes
    metric: str
    mode: str
    space: dict[str, dict[str, Any]]  # dotted config key -> {kind: args}, as written
    fixed: dict[str, Any] = field(default_factory=dict)
    num_samples: int = 1
    asha: dict[str, Any] | None = None
    model: str | None = None

    def tune_space(self) -> dict[str, Any]:
        return {key: to_tune(key, spec) for key, spec in self.space.items()}


def to_tune(key: str, spec: dict[str, Any]):
    if not isinstance(spec, dict) or len(spec) != 1 or next(iter(spec)) not in KINDS:
        raise ConfigError(f"search space {key!r}: write one of {sorted(KINDS)} with its arguments, got {spec!r}")
    kind, args = next(iter(spec.items()))
    return KINDS[kind](args)


def load_search_spec(task: Task, kind: str, path: str | Path | None = None) -> SearchSpec:
    """A search of `task`'s spec (default projects/<task>/search.yaml). The model defaults to the
    task's only model; the mode, when the spec omits it, is the metric's declared direction."""
    path = Path(path) if path else task.search_spec_path()
    try:
        tree = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"search spec not found: {path}") from None
    if not isinstance(tree, dict) or kind not in tree:
        found = [k for k in (tree or {}) if k in ("grid", "bayes")] if isinstance(tree, dict) else []
        raise ConfigError(f"{path} has no {kind!r} search; it has {found}")
    section = tree[kind]
    model = tree.get("model") or task.search_model or (task.models[0] if len(task.models) == 1 else None)
    if model not in task.models:
        raise ConfigError(
            f"{path}: 'model' must name one of {task.name}'s models ({', '.join(task.models)}), got {model!r}"
        )
    metric = tree.get("metric")
    if not metric:
        raise ConfigError(f"{path}: 'metric' is missing")
    mode = tree.get("mode") or task.metric_mode(metric)
    if mode not in MODES:
        raise ConfigError(f"{path}: 'mode' must be min or max, got {mode!r}")
    spec = SearchSpec(
        task=task.name,
        kind=kind,
        metric=metric,
        mode=mode,
        space=section["space"],
        fixed=section.get("fixed", {}),
        num_samples=section.get("num_samples", 1),
        asha=section.get("asha"),
        model=model,
    )
    spec.tune_space()  # fail early on a malformed space
    return spec
