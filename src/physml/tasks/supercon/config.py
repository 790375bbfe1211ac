"""supercon config: the typed form of projects/supercon/config.yaml."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from physml.config.core import check

FEATURE_SETS = ("all81", "seed17")
SPLITS = ("random", "grouped")
MODELS = ("linear", "gbm", "dnn")
OPTIMIZERS = ("adam", "sgd")


@dataclass
class SuperconData:
    feature_set: str = "all81"
    split: str = "random"
    test_fraction: float = 0.3


@dataclass
class LinearParams:
    pass


@dataclass
class GBMParams:
    n_estimators: int = 600
    learning_rate: float = 0.05
    max_depth: int = 8
    subsample: float = 0.8
    colsample_bytree: float = 0.6
    min_child_weight: float = 1.0


@dataclass
class DNNParams:
    layers: int = 3
    units: int = 125
    optimizer: str = "adam"
    learning_rate: float = 0.001
    epochs: int = 40
    batch_size: int = 64
    validation_split: float = 0.2
    scale_target: bool = True


@dataclass
class EvaluationParams:
    bootstrap_resamples: int = 1000
    shap_samples: int = 200
    shap_background: int = 100
    explain: bool = True  # SHAP plots (tuning trials switch them off; the retrained best has them)


@dataclass
class RegistryParams:
    log_model: bool = True
    register: bool = True
    names: dict[str, str] = field(default_factory=dict)


@dataclass
class SuperconConfig:
    experiment: str = "supercon"
    seed: int = 42
    data: SuperconData = field(default_factory=SuperconData)
    linear: LinearParams = field(default_factory=LinearParams)
    gbm: GBMParams = field(default_factory=GBMParams)
    dnn: DNNParams = field(default_factory=DNNParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)
    registry: RegistryParams = field(default_factory=RegistryParams)
    preset: str | None = None
    presets: dict[str, Any] = field(default_factory=dict)

    def model_params(self, model: str) -> dict[str, Any]:
        """The hyperparameters of one model, as a flat dict."""
        return dataclasses.asdict(getattr(self, model))


def validate_supercon_config(config: SuperconConfig) -> None:
    check(
        [
            (config.data.feature_set in FEATURE_SETS, "data.feature_set", f"one of {FEATURE_SETS}"),
            (config.data.split in SPLITS, "data.split", f"one of {SPLITS}"),
            (0 < config.data.test_fraction < 1, "data.test_fraction", "between 0 and 1"),
            (config.dnn.optimizer in OPTIMIZERS, "dnn.optimizer", f"one of {OPTIMIZERS}"),
            (config.dnn.layers >= 1, "dnn.layers", ">= 1"),
            (config.dnn.units >= 1, "dnn.units", ">= 1"),
            (config.dnn.learning_rate > 0, "dnn.learning_rate", "> 0"),
            (config.dnn.epochs >= 1, "dnn.epochs", ">= 1"),
            (config.dnn.batch_size >= 1, "dnn.batch_size", ">= 1"),
            (0 <= config.dnn.validation_split < 1, "dnn.validation_split", "in [0, 1)"),
            (config.gbm.n_estimators >= 1, "gbm.n_estimators", ">= 1"),
        ]
    )
