"""supercon config: the typed form of projects/supercon/config.yaml."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from physml.config.core import check, setting

FEATURE_SETS = ("all81", "seed17", "all167")
SPLITS = ("random", "grouped", "family")
FAMILY_NAMES = ("cuprate", "iron-based", "other")  # data.families() labels
SINGLE_MODELS = ("linear", "gbm", "dnn")
MODELS = (*SINGLE_MODELS, "ensemble")  # the ensemble stacks single models (tasks/supercon/ensemble.py)
OPTIMIZERS = ("adam", "sgd", "adamw")


@dataclass
class SuperconData:
    feature_set: str = setting("all81", choices=FEATURE_SETS)
    # random | grouped (no composition on both sides) | family (the test part is one family,
    # `holdout_family`, that training never sees; validation and calibration grouped by composition)
    split: str = setting("random", choices=SPLITS)
    holdout_family: str = setting("cuprate", choices=FAMILY_NAMES)
    test_fraction: float = setting(0.3, gt=0, lt=1)
    val_fraction: float = setting(0.15, gt=0, lt=1)  # of the training part, under the same split policy
    # of the validation part, under the same policy: held out of early stopping and model choice,
    # it calibrates the conformal prediction intervals (nothing else fits on it)
    calibration_fraction: float = setting(0.5, gt=0, lt=1)
    max_tc: float = setting(300.0, gt=0)  # K: a Tc above this in the data is an error (a unit slip, a typo)


@dataclass
class LinearParams:
    pass


@dataclass
class GBMParams:  # XGBoost's own ranges
    n_estimators: int = setting(600, ge=1)
    learning_rate: float = setting(0.05, gt=0, le=1)
    max_depth: int = setting(8, ge=1, le=30)
    subsample: float = setting(0.8, gt=0, le=1)
    colsample_bytree: float = setting(0.6, gt=0, le=1)
    min_child_weight: float = setting(1.0, ge=0)
    reg_lambda: float = setting(1.0, ge=0)  # L2 on leaf weights
    reg_alpha: float = setting(0.0, ge=0)  # L1 on leaf weights
    early_stopping_rounds: int = setting(50, ge=0)  # on the validation part's RMSE; 0: boost every round
    report_every: int = setting(10, ge=1)  # rounds between reports (per-round metrics, Tune, checkpoints)
    # 0: one model fitted on the training part. K >= 2: K models cross-fitted over the training and
    # validation parts (folds under the split's policy), each early-stopping on its held-out fold;
    # they predict their mean, and the validation part is scored out of fold (tasks/supercon/crossfit.py)
    folds: int = setting(0, ge=0, le=20)


@dataclass
class DNNParams:
    layers: int = setting(3, ge=1)
    units: int = setting(125, ge=1)
    optimizer: str = setting("adam", choices=OPTIMIZERS)
    learning_rate: float = setting(0.001, gt=0)
    epochs: int = setting(40, ge=1)
    batch_size: int = setting(64, ge=1)
    scale_target: bool = True
    normalization: str = setting("none", choices=("none", "batch", "layer"))  # between each layer and its ReLU
    dropout: float = setting(0.0, ge=0, lt=1)  # after each hidden layer
    weight_decay: float = setting(0.0, ge=0)  # AdamW's decoupled weight decay (optimizer: adamw)
    schedule: str = setting("constant", choices=("constant", "cosine"))  # cosine: decays to 0 over the epochs


@dataclass
class EnsembleParams:
    # single models, each fitted as it is alone (its own section), then stacked: a non-negative linear
    # blend of their predictions fitted on the validation part
    members: list[str] = field(default_factory=lambda: ["gbm", "dnn"])


@dataclass
class EvaluationParams:
    bootstrap_resamples: int = setting(1000, ge=100)  # fewer cannot give a 95% interval worth printing
    shap_samples: int = setting(200, ge=1)
    shap_background: int = setting(100, ge=1)
    explain: bool = True  # SHAP plots (tuning trials switch them off; the retrained best has them)
    plots: bool = True  # the evaluation's figures (tuning trials switch them off too: ~1 s a run)
    interval_level: float = setting(0.9, gt=0, lt=1)  # the conformal prediction intervals' coverage
    # MAPIE's conformity score: absolute (Tc +- q K) | gamma (Tc x (1 +- q): wider for higher Tc)
    conformity_score: str = setting("absolute", choices=("absolute", "gamma"))


@dataclass
class RegistryParams:
    log_model: bool = True
    register: bool = True
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class SuperconConfig:
    experiment: str = setting("supercon", length=(1, 500))  # MLflow's limit on an experiment name
    seed: int = setting(42, ge=0)
    data: SuperconData = field(default_factory=SuperconData)
    linear: LinearParams = field(default_factory=LinearParams)
    gbm: GBMParams = field(default_factory=GBMParams)
    dnn: DNNParams = field(default_factory=DNNParams)
    ensemble: EnsembleParams = field(default_factory=EnsembleParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)
    registry: RegistryParams = field(default_factory=RegistryParams)
    preset: str | None = None
    presets: dict[str, Any] = field(default_factory=dict)

    def model_params(self, model: str) -> dict[str, Any]:
        """The hyperparameters of one model, as a flat dict."""
        return dataclasses.asdict(getattr(self, model))


def validate_supercon_config(config: SuperconConfig) -> None:
    """Rules across keys (each key's own range is on its field)."""
    members = config.ensemble.members
    check(
        [
            (set(config.registry.names) <= set(MODELS), "registry.names", f"a mapping from {MODELS} to model names"),
            (
                len(members) >= 2 and len(set(members)) == len(members) and set(members) <= set(SINGLE_MODELS),
                "ensemble.members",
                f"two or more different models of {', '.join(SINGLE_MODELS)}",
            ),
            (config.gbm.folds != 1, "gbm.folds", "0 (one model) or the number of cross-fitted models (2 or more)"),
        ]
    )
