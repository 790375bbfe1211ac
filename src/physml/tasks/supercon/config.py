"""supercon config: the typed form of projects/supercon/config.yaml."""

from __future__ import annotations

from dataclasses import dataclass, field

from physml.config.core import setting
from physml.config.root import EXPERIMENT_NAME_LENGTH
from physml.tasks.composition.config import CompositionConfig
from physml.tasks.composition.models import MODELS, validate_model_settings

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
class SuperconConfig(CompositionConfig):
    """The composition kind's config (its model sections, evaluation and registry names) with
    supercon's own data section."""

    experiment: str = setting("supercon", length=EXPERIMENT_NAME_LENGTH)
    data: SuperconData = field(default_factory=SuperconData)


def validate_supercon_config(config: SuperconConfig) -> None:
    """Rules across keys (each key's own range is on its field)."""
    validate_model_settings(config, MODELS)
