"""A composition task made from its folder's task.yaml: train, tune, compare, promote, predict from a
formula, serve, report, and `cv` (the outer folds of the task's protocol), with no Python of its own.

Defaults are the kind's (defaults.yaml, search_<kind>.yaml); the task's folder may hold config.yaml
(merged over them), search*.yaml (replacing the default search) and anchors.yaml.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from physml.config.core import config_from_tree, deep_merge, read_config_tree
from physml.run_result import RunResult
from physml.tasks.base import Flag, Task, worker_flags
from physml.tasks.composition.config import FEATURE_SETS, CompositionConfig
from physml.tasks.composition.models import (
    CLASSIFIERS,
    EPOCHS_KEYS,
    MODELS,
    RESUMABLE,
    SINGLE_MODELS,
    validate_model_settings,
)
from physml.tasks.composition.spec import CompositionSpec, load_spec
from physml.tasks.composition.target import Target

if TYPE_CHECKING:  # the registry imports this module: the data and split code load when a task runs
    from physml.tasks.composition.split import SplitData
    from physml.tasks.composition.table import CompositionTable

KIND_FOLDER = Path(__file__).parent
EXTRA_METRICS = {
    "regression": {"median_abs_error": "min", "p90_abs_error": "min", "loss": "min", "fit_seconds": "min"},
    "classification": {"accuracy": "max", "ece": "min", "logloss": "min", "fit_seconds": "min"},
}
HEADLINES = {
    "regression": ("test_mae", "test_rmse", "test_r2"),
    "classification": ("test_balanced_accuracy", "test_roc_auc"),
}


class CompositionTask(Task):
    """One instance per task folder; the class attributes of the contract are set per instance."""

    config_class = CompositionConfig
    key_params = ("model", "feature_set")
    comparability_params = ("split_digest", "seed", "n_test", "test_fraction", "val_fraction")
    search_model = "gbm"
    pbt_keys = ("dnn.learning_rate", "dnn.batch_size")
    trial_overrides = {"evaluation.explain": False, "evaluation.plots": False, "gbm.folds": 0}

    def __init__(self, spec: CompositionSpec):
        self.spec = spec
        self.name, self.description = spec.name, spec.description
        parent = Path(spec.data).parent
        self.data_folder = str(parent) if str(parent) != "." else "."
        regression = spec.kind == "regression"
        self.models = tuple(MODELS) if regression else CLASSIFIERS
        self.all_models = SINGLE_MODELS if regression else CLASSIFIERS
        self.epochs_key = {model: key for model, key in EPOCHS_KEYS.items() if model in self.models}
        self.resumable_models = tuple(model for model in RESUMABLE if model in self.models)
        self.metrics = {**spec.metrics, **EXTRA_METRICS[spec.kind]}
        self.headline = tuple(dict.fromkeys((f"test_{spec.metric}", *HEADLINES[spec.kind])))
        self.train_flags = (
            Flag(
                "--feature-set",
                "data.feature_set",
                help="all81, all175 (and the element fractions) or all431 (and 256 element descriptors)",
                choices=FEATURE_SETS,
            ),
            Flag("--n-estimators", "gbm.n_estimators", int, "boosting rounds of the gbm model"),
            *((Flag("--epochs", "dnn.epochs", int, "epochs of the dense net"),) if regression else ()),
            *(worker_flags("dnn", "the dense net") if regression else ()),
        )
        self.examples = (f"physml {spec.name} train --model gbm", f"physml {spec.name} cv")
        self.target = Target(spec.label or spec.target, spec.units, spec.composition)

    @property
    def project_dir(self) -> Path:
        return self.spec.folder

    def config_path(self) -> Path:
        own = self.spec.folder / "config.yaml"
        return own if own.exists() else KIND_FOLDER / "defaults.yaml"

    def search_spec_path(self, name: str | None = None) -> Path:
        path = super().search_spec_path(name)
        return path if name or path.exists() else KIND_FOLDER / f"search_{self.spec.kind}.yaml"

    def config_tree(self, path: str | Path | None = None) -> dict:
        """The kind's defaults, the task folder's config.yaml over them, then `path` (--config) over that."""
        tree = read_config_tree(KIND_FOLDER / "defaults.yaml")
        tree["experiment"] = self.name
        tree["registry"]["names"] = {model: f"{self.name}-{model}" for model in self.models}
        for extra in (self.spec.folder / "config.yaml", Path(path) if path else None):
            if extra is not None and (extra.exists() or extra == path):
                tree = deep_merge(tree, read_config_tree(extra))
        return tree

    def load_config(self, path=None, preset=None, overrides=None):
        source = path or self.config_path()
        config = config_from_tree(self.config_class, self.config_tree(path), source, preset, overrides)
        self.validate_config(config)
        return config

    def presets(self) -> list[str]:
        from physml.errors import PhysmlError

        try:
            return list(self.config_tree().get("presets") or {})
        except PhysmlError:  # a broken config.yaml is reported when the task runs, not in --help
            return []

    def validate_config(self, config: CompositionConfig) -> None:
        from physml.config.core import check

        check([(config.model in self.models, "model", f"one of {', '.join(self.models)}")])
        validate_model_settings(config, self.models)

    def anchor_split(self, config) -> str:
        return "grouped"  # `cv` prints the anchors of the task's protocol itself

    # --- data ---
    def load_data(self, config, data_dir=None) -> CompositionTable:
        from physml.tasks.composition.table import load_table

        max_rows, seed = (config.data.max_rows, config.seed) if config else (0, 0)
        return load_table(self.spec, self.data_dir(data_dir), max_rows, seed)

    def check_data(self, data_dir=None) -> str:
        table = self.load_data(None, data_dir)
        filled = sorted(set(table.filled_cells["element"]))
        imputed = f"; element values imputed for {', '.join(filled)}" if filled else ""
        folds = f", {table.folds.nunique()} folds" if table.folds is not None else ""
        return f"{table.path}: {len(table.target)} compositions, {table.features.shape[1]} features{folds}{imputed}: OK"

    def dataset_digest(self, config, data: CompositionTable) -> str:
        return self.mlflow_dataset(data).digest

    def mlflow_dataset(self, data: CompositionTable):
        from physml.tracking.datasets import table_dataset

        return table_dataset(data.frame, data.path, self.name, self.spec.target)

    # --- training ---
    def make_split(self, config: CompositionConfig, data: CompositionTable) -> SplitData:
        """`train`'s parts: test, validation and calibration, each composition on one side only."""
        from physml.tasks.composition.split import three_parts

        parts = three_parts(len(data.target), "grouped", config.data, config.seed, data.groups)
        return self.cut(config, data, parts, "grouped split")

    def cut(self, config, data: CompositionTable, parts, name: str) -> SplitData:
        from physml.tasks.composition.split import cut

        features = data.select(config.data.feature_set)
        ids = data.ids.iloc[parts.test].reset_index(drop=True) if data.ids is not None else None
        formulas = data.formulas.iloc[parts.test].reset_index(drop=True)
        row_ids = data.ids.to_numpy() if data.ids is not None else None
        extra = {"test_formulas": formulas, "test_ids": ids, "group_key": data.groups, "row_ids": row_ids}
        return cut(features, data.target, parts, "grouped", data.groups, name=name, **extra)

    def train(
        self, config, model, data, on_epoch_end=None, checkpoints=None, split: SplitData | None = None
    ) -> RunResult:
        split = split or self.make_split(config, data)
        self.log_inputs(config, model, data, split)
        if self.spec.kind == "classification":
            from physml.tasks.composition.classification import fit_and_log
        else:
            from physml.tasks.composition.regression import fit_and_log
        return fit_and_log(config, model, split, self.target, on_epoch_end, checkpoints)

    def log_inputs(self, config, model: str, data: CompositionTable, split: SplitData) -> None:
        from physml.tasks.composition.regression import common_params
        from physml.tracking.runs import log_dataset_input

        params = {"feature_set": config.data.feature_set, "split": split.name, "max_rows": config.data.max_rows}
        if self.spec.kind == "regression":
            params |= {"interval_level": config.evaluation.interval_level}
        import mlflow

        mlflow.log_params({**params, **common_params(config, model, split)})
        log_dataset_input(self.mlflow_dataset(data), "training")
        if not data.filled_cells.empty:  # the element values this data needed and the table lacked
            mlflow.log_table(data.filled_cells, "data/imputed_element_values.json")
            mlflow.set_tag("imputed_elements", ",".join(sorted(set(data.filled_cells["element"]))))

    def summary(self, results: list[RunResult]) -> str:
        """One row per model: the headline test metrics and where the model was registered."""
        from physml.display import text_table

        rows = []
        for result in results:
            values = [f"{result.metrics[key]:.4g}" if key in result.metrics else "-" for key in self.headline]
            registered = f"{result.registered_name} v{result.registered_version}" if result.registered_name else "-"
            rows.append([result.model, *(["diverged"] * len(values) if result.diverged else values), registered])
        return text_table(["model", *self.headline, "registered"], rows)

    def add_commands(self, actions) -> None:
        from physml.tasks.composition.commands import add_cv, add_predict

        add_predict(actions, self)
        add_cv(actions, self)


def tasks_in(folders: list[Path]) -> dict[str, CompositionTask]:
    """Every composition task whose task.yaml is in a subfolder of `folders` (the first folder wins)."""
    found: dict[str, CompositionTask] = {}
    for folder in folders:
        for path in sorted(folder.glob("*/task.yaml")) if folder.is_dir() else []:
            spec = load_spec(path.parent)
            found.setdefault(spec.name, CompositionTask(spec))
    return found
