"""The composition kind's settings: one section per model of its table (models.py), each with its
allowed values on its fields (physml.config.core.setting), the evaluation's, and the config of a
task written as YAML (`CompositionConfig`: defaults.yaml, then the task folder's config.yaml)."""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from typing import Any

from physml.config.core import setting
from physml.config.root import EXPERIMENT_NAME_LENGTH, RegistrySettings, TaskConfig

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
    # what each round minimises: squarederror, or absoluteerror (the median: a target that is often exactly 0)
    objective: str = setting("squarederror", choices=("squarederror", "absoluteerror", "pseudohubererror"))
    early_stopping_rounds: int = setting(50, ge=0)  # on the validation part's RMSE (MAE under absoluteerror); 0: off
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
    # 0: one process. N >= 1: one net trained data parallel by N Ray Train workers, each on its shard of
    # the rows (physml.models.data_parallel); the global batch stays batch_size
    workers: int = setting(0, ge=0, le=64)
    cpus_per_worker: float = setting(1.0, gt=0)
    gpus_per_worker: float = setting(0.0, ge=0)


@dataclass
class EnsembleParams:
    # single models, each fitted as it is alone (its own section), then stacked: a non-negative linear
    # blend of their predictions fitted on the validation part
    members: list[str] = field(default_factory=lambda: ["gbm", "dnn"])


@dataclass
class HurdleParams:  # its two XGBoost models take gbm's settings (gbm.folds: cross-fitted pairs) but these
    threshold: float = setting(0.5, gt=0, lt=1)  # predict 0 where P(non-zero) is at most this
    colsample_bytree: float = setting(0.6, gt=0, le=1)  # both models' share of the features per tree


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
    # a classifier's probabilities mapped by isotonic regression fitted on the calibration part; off: its
    # own (a score of labels alone, at the training share of positives, needs no calibration)
    calibrate_probabilities: bool = True


# the 81 property statistics; and every element's atom fraction (H..Pu); and 256 element descriptors (descriptors.py)
FEATURE_SETS = ("all81", "all175", "all431")


@dataclass
class CompositionData:
    feature_set: str = setting("all175", choices=FEATURE_SETS)
    test_fraction: float = setting(0.2, gt=0, lt=1)  # `train`'s test part, grouped by composition (`cv`: a fold)
    val_fraction: float = setting(0.15, gt=0, lt=1)  # of the training rows: early stopping, searches, promotion
    calibration_fraction: float = setting(0.5, gt=0, lt=1)  # of the validation part: intervals, probabilities
    max_rows: int = setting(0, ge=0)  # 0: every row; N: a seeded sample of N rows (smoke tests)


@dataclass
class CompositionRegistry(RegistrySettings):
    names: dict[str, str] = field(default_factory=dict)  # model -> registered name (default: <task>-<model>)


@dataclass
class CompositionConfig(TaskConfig):
    experiment: str = setting("composition", length=EXPERIMENT_NAME_LENGTH)
    model: str = "gbm"  # what `cv` scores and `predict` loads (<task>-<model>@champion) unless told otherwise
    data: CompositionData = field(default_factory=CompositionData)
    linear: LinearParams = field(default_factory=LinearParams)
    gbm: GBMParams = field(default_factory=GBMParams)
    dnn: DNNParams = field(default_factory=DNNParams)
    ensemble: EnsembleParams = field(default_factory=EnsembleParams)
    hurdle: HurdleParams = field(default_factory=HurdleParams)
    evaluation: EvaluationParams = field(default_factory=EvaluationParams)
    registry: CompositionRegistry = field(default_factory=CompositionRegistry)

    def model_params(self, model: str) -> dict[str, Any]:
        """The hyperparameters of one model, as a flat dict (the hurdle's: gbm's, which its boosters take, and its own)."""
        own = dataclasses.asdict(getattr(self, model))
        return {**dataclasses.asdict(self.gbm), **own} if model == "hurdle" else own
