"""The Task contract: everything the platform (CLI, tuning, tracking, promotion, comparison) needs
from a task, so that a new task is one folder and needs no edit anywhere else.

A task is a subclass of `Task` in `physml/tasks/<name>/__init__.py` (or in any installed package),
registered in the `physml.tasks` entry-point group (the registry is `physml/tasks/__init__.py`). The
platform calls only what is declared here; it never names a task.

Besides the class below, a task offers in its projects folder: `config.yaml` with a `quick` preset (a
smoke run of seconds to a minute: the shared test suite trains and tunes every task with it) and
`search.yaml` naming the metric a search optimises. This module imports no platform layer: the run
loop around `train` is `physml.tracking.runs.run_task`.
"""

from __future__ import annotations

import argparse
import dataclasses
import fnmatch
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import yaml

from physml.config.core import get_dotted, load_config, projects_dir
from physml.config.root import TRIAL_OVERRIDES
from physml.data.paths import task_data_dir
from physml.errors import ConfigError, PhysmlError
from physml.run_result import RunResult as RunResult  # part of the contract: Task.train returns one

EpochHook = Callable[[int, dict[str, float]], None]
MODES = ("min", "max")  # Tune's words: lower or higher is better
SPLIT_PREFIXES = ("best_", "test_", "val_", "train_")
INTERVAL_SUFFIXES = ("_ci_low", "_ci_high")
# what the platform logs on every run from the task's declared evidence (tracking/evidence.py), by base
# name; a baseline's score (`knn_rmse`, `dummy_balanced_accuracy`) or a score on repeated groups
# (`repeated_rmse`) goes the way the task declares the score itself
EVIDENCE_METRICS = {
    "skill_over_*": "max",
    "evidence_seconds": "min",
    "mad_ratio": "min",
    "rows": "max",
    "repeated_rows": "max",
    "shared_ids": "min",
    "identical_rows": "min",
    "shared_groups": "min",
    "trained_group_share": "min",
    "floor_*": "min",
    "by_*": "min",
    "rmse": "min",  # the baselines' own scores, where a task reports neither (evaluation/baselines.py)
    "balanced_accuracy": "max",
}
SCORED_BY = ("knn_", "dummy_", "repeated_")


@dataclass(frozen=True)
class Flag:
    """A `train` flag that sets one config key: `--epochs 5` -> `dnn.epochs: 5`."""

    name: str  # the flag, e.g. "--epochs"
    key: str  # the dotted config key it sets
    type: type = str  # str, int, float, or bool (a switch that sets True)
    help: str = ""
    choices: tuple[str, ...] | None = None


def worker_flags(section: str, net: str) -> tuple[Flag, ...]:
    """The `train` flags that spread one Keras net over Ray Train workers (`<section>.workers` etc.)."""
    return (
        Flag("--workers", f"{section}.workers", int, f"Ray Train workers for {net} (data parallel; 0: one process)"),
        Flag("--cpus-per-worker", f"{section}.cpus_per_worker", float, "CPUs each Ray Train worker asks for"),
        Flag("--gpus-per-worker", f"{section}.gpus_per_worker", float, "GPUs each Ray Train worker asks for"),
    )


@dataclass(frozen=True)
class Anchor:
    """A published figure to compare against (projects/<task>/anchors.yaml)."""

    source: str
    metric: str
    value: float
    split: str = ""
    model: str = ""
    note: str = ""
    std: float | None = None  # the spread the source reports (Matbench: the population std over its folds)
    folds: list[float] | None = None  # its score on each fold of `split`, where the source published them

    @property
    def shown(self) -> str:
        """The value as printed: `0.3463 ± 0.0088` where a spread is reported."""
        return f"{self.value:g} ± {self.std:g}" if self.std else f"{self.value:g}"


class Task:
    """Subclass and fill in the class attributes; override the methods marked "override"."""

    name: ClassVar[str]  # the CLI word and the entry-point name
    description: ClassVar[str]  # one line for `physml --help`
    # a dataclass tree, the typed form of projects/<name>/config.yaml. The platform reads only the keys
    # every task shares (physml.config.root.TaskConfig: experiment, seed, preset, presets, registry.log_model,
    # registry.register); derive from TaskConfig to have them
    config_class: ClassVar[type]
    data_folder: ClassVar[str]  # this task's folder under the data root ($PHYSML_DATA_DIR)
    models: ClassVar[tuple[str, ...]]  # model names, in the order `--model all` trains them
    # what `--model all` trains when not every model (say, one that refits others): None is all of them
    all_models: ClassVar[tuple[str, ...] | None] = None
    epochs_key: ClassVar[dict[str, str]]  # model -> dotted config key of its epochs (or rounds)
    # every metric the task reports, by base name ("rmse" covers test_rmse, val_rmse, ...) -> min | max;
    # a name ending in "*" covers a family ("recall_*": recall_spiral, recall_edge_on, ...)
    metrics: ClassVar[dict[str, str]]
    headline: ClassVar[tuple[str, ...]] = ()  # metrics shown first (compare, models list, summaries)
    key_params: ClassVar[tuple[str, ...]] = ()  # params shown first when runs are compared
    # params two runs must share to be compared (promotion), besides the dataset digest
    comparability_params: ClassVar[tuple[str, ...]] = ()
    search_model: ClassVar[str | None] = None  # the model a search tunes when its spec names none
    # what a tuning trial switches off (heavy artifacts, ...): merged over TRIAL_OVERRIDES (no model
    # logged or registered) when the subclass is made, so a task states only its own
    trial_overrides: ClassVar[dict[str, Any]] = TRIAL_OVERRIDES
    # models whose training saves a checkpoint each epoch and continues from one: `train` then takes
    # `checkpoints=` (physml.models.checkpoints.Checkpoints); a retried or resumed trial goes on from it
    resumable_models: ClassVar[tuple[str, ...]] = ()
    # config keys a population-based search may change mid-training (a checkpoint loads under them)
    pbt_keys: ClassVar[tuple[str, ...]] = ()
    # how far `promote` lets the validation part's interval (set) coverage stray from its level and how
    # high its ECE may be, before the sampling noise of the part's size (judging/evidence_gate.py)
    evidence_tolerance: ClassVar[dict[str, float]] = {"coverage": 0.05, "ece": 0.05}
    train_flags: ClassVar[tuple[Flag, ...]] = ()  # task-specific `train` flags
    examples: ClassVar[tuple[str, ...]] = ()  # command lines shown in `physml --help`

    def __init_subclass__(cls, **kwargs) -> None:
        super().__init_subclass__(**kwargs)
        cls.trial_overrides = {**TRIAL_OVERRIDES, **cls.__dict__.get("trial_overrides", {})}

    # --- config ---
    @property
    def project_dir(self) -> Path:
        return projects_dir(self.name)

    def config_path(self) -> Path:
        return self.project_dir / "config.yaml"

    def search_spec_path(self, name: str | None = None) -> Path:
        """projects/<task>/search.yaml, or the named spec beside it (search_<name>.yaml)."""
        return self.project_dir / (f"search_{name}.yaml" if name else "search.yaml")

    def search_spec_names(self) -> list[str]:
        """The named specs beside search.yaml (`physml tune TASK --spec NAME`)."""
        return sorted(path.stem.removeprefix("search_") for path in self.project_dir.glob("search_*.yaml"))

    def load_config(
        self,
        path: str | Path | None = None,
        preset: str | None = None,
        overrides: dict[str, Any] | list[str] | None = None,
    ):
        config = load_config(self.config_class, path or self.config_path(), preset, overrides)
        self.validate_config(config)
        return config

    def validate_config(self, config) -> None:
        """Override: rules that types alone cannot say (ranges, choices); raise ConfigError."""

    def presets(self) -> list[str]:
        try:
            tree = yaml.safe_load(self.config_path().read_text()) or {}
        except (OSError, yaml.YAMLError):
            return []
        return list(tree.get("presets") or {})

    def epochs(self, config, model: str) -> int | None:
        key = self.epochs_key.get(model)
        return int(get_dotted(config, key)) if key else None

    # --- metrics ---
    def metric_mode(self, metric: str) -> str:
        """'min' or 'max' for a metric this task reports (test_rmse, val_rmse_ci_low, ...)."""
        return declared_mode(self.metrics, metric, self.name)

    # --- data ---
    def data_dir(self, data_dir: str | Path | None = None) -> Path:
        return task_data_dir(self.data_folder, data_dir)

    def load_data(self, config, data_dir: str | Path | None = None) -> Any:
        """Override: load and validate the data a run trains on (a bad file raises here, before any run)."""
        raise NotImplementedError

    def check_data(self, data_dir: str | Path | None = None) -> str:
        """Override: validate the task's files; return one line saying what was found."""
        raise NotImplementedError

    def download(self, dest: Path, url: str | None = None, sha256: str | None = None) -> None:
        raise PhysmlError(f"{self.name} has no download: put its files in {self.data_dir()}")

    def dataset_digest(self, config, data: Any) -> str | None:
        """Override: the digest of the MLflow dataset `train` logs as its training input for `data`
        (what `physml reproduce` compares with the original run's); None: unknown."""
        return None

    # --- training ---
    def train(self, config, model: str, data: Any, on_epoch_end: EpochHook | None = None, **kwargs) -> RunResult:
        """Override: train and evaluate `model` inside the active MLflow run, report each epoch to
        `on_epoch_end(epoch, metrics)`, log what a person needs to judge it, return its result.
        For a model in `resumable_models` the platform also passes `checkpoints=` (see above)."""
        raise NotImplementedError

    def run_name(self, config, model: str) -> str:
        return model

    # --- the terminal and the CLI ---
    def summary(self, results: list[RunResult]) -> str:
        """Override: what `physml <task> train` prints at the end."""
        from physml.display import text_table

        def shown(metrics: dict[str, float]) -> str:
            names = [k for k in self.headline if k in metrics] or sorted(k for k in metrics if "_ci_" not in k)
            return ", ".join(f"{k}={metrics[k]:.4g}" for k in names)

        rows = [[r.model, "diverged" if r.diverged else shown(r.metrics)] for r in results]
        return text_table(["model", "metrics"], rows)

    def next_steps(self, physml: str, data_dir: str) -> list[tuple[str, str]]:
        """Override: (what, command) a user would run after the demo trained this task; `physml` is
        how to invoke physml and `data_dir` the data root, both as a fresh shell here needs them."""
        return []

    def add_commands(self, actions: argparse._SubParsersAction) -> None:
        """Override: more actions under `physml <task>` than `train` (e.g. predict); the platform adds
        its tracking flags (-v, --tracking-uri, ...) to each."""

    # --- anchors: published figures as data ---
    def anchor_split(self, config) -> str | None:
        """Override: which anchors' `split` matches a run of `config` (None: all)."""
        return None

    def anchors_for(self, config, results: list[RunResult]) -> list[Anchor]:
        """The anchors to print beside `results`: same split, a metric they report, their models."""
        split = self.anchor_split(config)
        models = {r.model for r in results if not r.diverged}
        reported = {m for r in results for m in r.metrics}
        return [
            a
            for a in self.anchors()
            if a.metric in reported and (not a.model or a.model in models) and (split is None or a.split == split)
        ]

    def anchors(self) -> list[Anchor]:
        path = self.project_dir / "anchors.yaml"
        if not path.exists():
            return []
        tree = yaml.safe_load(path.read_text()) or {}
        fields = {f.name for f in dataclasses.fields(Anchor)}
        try:
            return [Anchor(**{k: v for k, v in item.items() if k in fields}) for item in tree.get("anchors", [])]
        except TypeError as exc:
            raise ConfigError(f"{path}: each anchor needs source, metric and value ({exc})") from None


def declared_mode(metrics: dict[str, str], metric: str, owner: str = "the task") -> str:
    """The direction of `metric` from declared base names: `test_rmse_ci_low` -> metrics['rmse']."""
    base = metric
    for suffix in INTERVAL_SUFFIXES:
        base = base.removesuffix(suffix)
    candidates = [base] + [base[len(p) :] for p in SPLIT_PREFIXES if base.startswith(p)]
    candidates += [c[len(p) :] for c in list(candidates) for p in SPLIT_PREFIXES if c.startswith(p)]
    for candidate in candidates:
        if candidate in metrics:
            return metrics[candidate]
    for candidate in candidates:
        for name, mode in metrics.items():
            if name.endswith("*") and fnmatch.fnmatchcase(candidate, name):
                return mode
    for candidate in candidates:
        for scorer in SCORED_BY:
            if candidate.startswith(scorer) and candidate != scorer.rstrip("_"):
                return declared_mode(metrics, candidate.removeprefix(scorer), owner)
    if metrics is not EVIDENCE_METRICS:
        try:
            return declared_mode(EVIDENCE_METRICS, metric, owner)
        except ConfigError:
            pass
    known = ", ".join(sorted(metrics))
    raise ConfigError(
        f"{owner} does not declare the metric {metric!r} (declared: {known}; "
        f"prefixes {', '.join(SPLIT_PREFIXES)} allowed)"
    )
