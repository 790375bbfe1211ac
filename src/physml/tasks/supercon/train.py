"""supercon training: its own split (random, grouped or family) and inputs, then the composition
kind's regression run (tasks/composition/regression.py) inside the active MLflow run.

`train(config, model, data)` is what the Task contract's `train` calls; the CLI, the MLproject entry
point and tuning trials all go through it (the platform opens the runs around it).
"""

from __future__ import annotations

import mlflow
import numpy as np

from physml.data.splits import carve
from physml.run_result import RunResult
from physml.tasks.composition.regression import SERVED as SERVED  # the served model's code (tests name it)
from physml.tasks.composition.regression import common_params, fit_and_log
from physml.tasks.composition.split import Parts, SplitData, cut, three_parts
from physml.tasks.composition.target import Target
from physml.tasks.supercon.config import SuperconConfig
from physml.tasks.supercon.data import SuperconData, families, tc_ranges
from physml.tracking.datasets import table_dataset
from physml.tracking.runs import log_dataset_input

TC = Target(label="Tc", unit="K")


def make_split(config: SuperconConfig, data: SuperconData) -> SplitData:
    features = data.select(config.data.feature_set)
    settings = config.data
    if settings.split == "family":  # out of distribution: the held-out family is the whole test part
        groups, policy = data.composition_groups(), "grouped"
        family = np.asarray(families(data.compositions))
        test = np.flatnonzero(family == settings.holdout_family)
        train, val = carve(
            np.flatnonzero(family != settings.holdout_family), policy, settings.val_fraction, config.seed, groups
        )
        val, cal = carve(val, policy, settings.calibration_fraction, config.seed, groups)
        parts = Parts(train, val, cal, test)
    else:
        groups = data.composition_groups() if settings.split == "grouped" else None
        policy = settings.split
        parts = three_parts(len(features), policy, settings, config.seed, groups)
    strata = {"tc": tc_ranges(data.tc), "family": families(data.compositions)}
    return cut(
        features,
        data.tc,
        parts,
        policy,
        groups,
        name=f"{settings.split} split",
        row_strata=strata,
        group_key=data.composition_groups(),
    )


def log_run_inputs(config: SuperconConfig, model: str, data: SuperconData, split: SplitData) -> None:
    settings = config.data
    params = {
        "model": model,
        "feature_set": settings.feature_set,
        "split": settings.split,
        **({"holdout_family": settings.holdout_family} if settings.split == "family" else {}),
        "interval_level": config.evaluation.interval_level,
        "conformity_score": config.evaluation.conformity_score,
    }
    mlflow.log_params({**params, **common_params(config, model, split)})
    log_dataset_input(mlflow_dataset(data), "training")


def mlflow_dataset(data: SuperconData):
    """train.csv's features and critical_temp with unique_m.csv's element amounts, as one MLflow dataset."""
    return table_dataset(data.frame, data.train_path, "uci-superconductivity", "critical_temp")


def train(config: SuperconConfig, model: str, data: SuperconData, on_epoch_end=None, checkpoints=None) -> RunResult:
    """Train and evaluate one model inside the active MLflow run; log params, metrics, plots, SHAP, model."""
    split = make_split(config, data)
    log_run_inputs(config, model, data, split)
    return fit_and_log(config, model, split, TC, on_epoch_end, checkpoints)
