"""A composition task described as data: `task.yaml` in the task's folder (no Python).

    name: band_gap
    description: experimental band gap from composition (Matbench v0.1)
    data: gaps/band_gaps.csv.gz               # under the data root
    id: mbid                                  # optional: a column naming each row
    composition: composition                  # the formula column
    target: gap expt
    kind: regression                          # or classification
    metric: mae                               # the headline; the kind declares its metrics' directions
    folds: fold                               # optional: official outer test folds
    units: eV
    label: gap                                # optional: the target's short name (plots, served output)

`load_spec(folder)` reads and checks it: a missing or wrong field is one line naming the file and
the field. Everything else a task needs (models, presets, search spaces) defaults in the kind.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from pathlib import Path

from physml.config.core import read_mapping
from physml.errors import ConfigError

SPEC_FILE = "task.yaml"
KINDS = {  # the kind -> the metrics it reports, each with its direction (Tune's words)
    "regression": {"mae": "min", "rmse": "min", "r2": "max", "mad_ratio": "min"},
    "classification": {"balanced_accuracy": "max", "roc_auc": "max", "f1": "max", "log_loss": "min"},
}
NAME = re.compile(r"[a-z][a-z0-9_]*")  # a CLI word and an entry in the registry


@dataclass(frozen=True)
class CompositionSpec:
    """What task.yaml says, checked."""

    name: str
    description: str
    data: str  # the data file, relative to the data root
    composition: str  # the column holding each row's formula
    target: str
    kind: str  # regression | classification
    metric: str  # the headline metric, one of KINDS[kind]
    folder: Path  # where task.yaml is (config.yaml, search*.yaml and anchors.yaml beside it)
    id: str | None = None  # a column naming each row (Matbench's mbid)
    folds: str | None = None  # a column of official outer test folds (0..k-1)
    units: str = ""
    label: str | None = None  # a short name of the target (the served model's output column); default: target

    @property
    def metrics(self) -> dict[str, str]:
        return KINDS[self.kind]


REQUIRED = ("name", "description", "data", "composition", "target", "kind", "metric")


def load_spec(folder: str | Path) -> CompositionSpec:
    """The checked spec of the task in `folder`; a ConfigError naming the file and field otherwise."""
    folder = Path(folder)
    path = folder / SPEC_FILE
    not_found = f"{path}: not found (a composition task's folder holds task.yaml)"
    tree = read_mapping(path, not_found, "must be a mapping of fields (name, data, composition, target, kind, ...)")
    known = {f.name for f in fields(CompositionSpec)} - {"folder"}
    for key, value in tree.items():
        if key not in known:
            raise ConfigError(f"{path}: unknown field {key!r}; fields: {', '.join(sorted(known))}")
        if not isinstance(value, str) or not value.strip():
            raise ConfigError(f"{path}: field {key!r} must be a non-empty string, got {value!r}")
    missing = [key for key in REQUIRED if key not in tree]
    if missing:
        raise ConfigError(f"{path}: missing field {missing[0]!r} (required: {', '.join(REQUIRED)})")
    spec = CompositionSpec(**tree, folder=folder)
    check_spec(spec, path)
    return spec


def check_spec(spec: CompositionSpec, path: Path) -> None:
    if not NAME.fullmatch(spec.name):
        raise ConfigError(f"{path}: field 'name' must be lower-case letters, digits and _, got {spec.name!r}")
    if spec.kind not in KINDS:
        raise ConfigError(f"{path}: field 'kind' must be {' or '.join(KINDS)}, got {spec.kind!r}")
    if spec.metric not in spec.metrics:
        raise ConfigError(
            f"{path}: field 'metric' must be one of {', '.join(spec.metrics)} for {spec.kind}, got {spec.metric!r}"
        )
    if Path(spec.data).is_absolute() or ".." in Path(spec.data).parts:
        raise ConfigError(f"{path}: field 'data' must be a path under the data root, got {spec.data!r}")
