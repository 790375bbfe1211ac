"""supercon config: the typed form of projects/supercon/config.yaml."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from physml.config.core import check, setting
from physml.config.root import EXPERIMENT_NAME_LENGTH, RegistrySettings, TaskConfig
from physml.tasks.composition.config import DNNParams, EnsembleParams, GBMParams, LinearParams
from physml.tasks.composition.models import MODELS, SINGLE_MODELS

FEATURE_SETS = ("all81", "seed17", "all167")
SPLITS = ("random", "grouped", "family")
FAMILY_NAMES = ("cuprate", "iron-based", "other")  # data.families() labels


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
class SuperconRegistry(RegistrySettings):
    names: dict[str, str] = field(default_factory=dict)  # model -> its registered model's name


@dataclass
class SuperconConfig(TaskConfig):
    experiment: str = setting("supercon", length=EXPERIMENT_NAME_LENGTH)
    data: SuperconData = field(default_factory=SuperconData)
    linear: LinearParams = field(default_factory=LinearParams)
    gbm: GBMParams = field(default_factory=GBMParams)
    dnn: DNNParams = field(default_factory=DNNParams)
    ensemble: EnsembleParams = field(default_factory=EnsembleParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)
    registry: SuperconRegistry = field(default_factory=SuperconRegistry)

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
