"""Search specs as data: projects/<task>/search.yaml -> Ray Tune spaces and searcher settings."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from ray import tune

from physml.config.core import projects_dir
from physml.errors import ConfigError

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


def load_search_spec(task: str, kind: str, path: str | Path | None = None) -> SearchSpec:
    path = Path(path) if path else projects_dir() / task / "search.yaml"
    try:
        tree = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(f"search spec not found: {path}") from None
    if kind not in tree:
        raise ConfigError(f"{path} has no {kind!r} search; it has {[k for k in tree if k in ('grid', 'bayes')]}")
    section = tree[kind]
    spec = SearchSpec(
        task=task, kind=kind, metric=tree["metric"], mode=tree["mode"], space=section["space"],
        fixed=section.get("fixed", {}), num_samples=section.get("num_samples", 1), asha=section.get("asha"),
        model=tree.get("model"),
    )  # fmt: skip
    spec.tune_space()  # fail early on a malformed space
    return spec
