"""The settings every task's config shares, written down once: the MLflow experiment, the seed, the
preset (and the presets a config.yaml offers) and what the model registry does with a run's model.

A task's config class derives from `TaskConfig`, redeclaring `experiment` with its own default and
`registry` with its own section where it names its registered models. The platform reads only these
keys of a task's config (physml.tasks.base states it); tuning trials set `TRIAL_OVERRIDES` first, so
a trial logs and registers no model unless its task says otherwise.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from physml.config.core import setting

EXPERIMENT_NAME_LENGTH = (1, 500)  # MLflow's limit on an experiment name


@dataclass
class RegistrySettings:
    log_model: bool = True  # log the fitted model as the run's MLflow model
    register: bool = True  # and register it as a new version in the model registry


@dataclass
class TaskConfig:
    experiment: str = setting("physml", length=EXPERIMENT_NAME_LENGTH)
    seed: int = setting(42, ge=0)
    registry: RegistrySettings = field(default_factory=RegistrySettings)
    preset: str | None = None  # set by load_config from --preset
    presets: dict[str, Any] = field(default_factory=dict)  # name -> keys merged over the defaults


# what a tuning trial switches off before its task's own trial_overrides: a trial's model is not kept
TRIAL_OVERRIDES: dict[str, Any] = {"registry.log_model": False, "registry.register": False}
