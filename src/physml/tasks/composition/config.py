"""The composition kind's model settings: one section per model of its table (models.py), each
with its allowed values on its fields (physml.config.core.setting)."""

from __future__ import annotations

from dataclasses import dataclass, field

from physml.config.core import setting

OPTIMIZERS = ("adam", "sgd", "adamw")


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
    # they predict their mean, and the validation part is scored out of fold (tasks/composition/crossfit.py)
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
