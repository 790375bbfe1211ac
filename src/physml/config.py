"""Config as data: a task's YAML defaults, a preset merged over them, then single-key overrides.

The result is one typed object (a dataclass tree), so a misspelt key fails at load time with the
key's dotted name instead of being silently ignored.
"""

from __future__ import annotations

import copy
import dataclasses
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, get_type_hints

import yaml

from physml.errors import ConfigError


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


@dataclass
class RegistryParams:
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


FEATURE_SETS = ("all81", "seed17")
SPLITS = ("random", "grouped")
MODELS = ("linear", "gbm", "dnn")
OPTIMIZERS = ("adam", "sgd")


def projects_dir() -> Path:
    """Where `projects/<task>/config.yaml` live: $PHYSML_PROJECTS_DIR, ./projects, or the source tree's."""
    if env := os.environ.get("PHYSML_PROJECTS_DIR"):
        return Path(env)
    cwd_projects = Path.cwd() / "projects"
    if (cwd_projects / "supercon" / "config.yaml").exists():
        return cwd_projects
    return Path(__file__).resolve().parents[2] / "projects"


def deep_merge(base: dict, update: dict) -> dict:
    merged = copy.deepcopy(base)
    for key, value in update.items():
        if isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = deep_merge(merged[key], value)
        else:
            merged[key] = copy.deepcopy(value)
    return merged


def parse_override(text: str) -> tuple[str, Any]:
    """`dnn.units=64` -> ("dnn.units", 64); the value is read as YAML (numbers, booleans, lists)."""
    if "=" not in text:
        raise ConfigError(f"override {text!r} must look like key=value, e.g. dnn.units=64")
    key, raw = text.split("=", 1)
    return key.strip(), yaml.safe_load(raw)


def set_dotted(tree: dict, dotted_key: str, value: Any) -> None:
    node = tree
    parts = dotted_key.split(".")
    for part in parts[:-1]:
        node = node.setdefault(part, {})
        if not isinstance(node, dict):
            raise ConfigError(f"override {dotted_key!r}: {part!r} is not a section")
    node[parts[-1]] = value


def _coerce(value: Any, type_hint: Any, key: str) -> Any:
    if dataclasses.is_dataclass(type_hint):
        if value is None:
            value = {}
        if not isinstance(value, dict):
            raise ConfigError(f"config key {key!r} must be a section (mapping), got {value!r}")
        return _build(type_hint, value, prefix=f"{key}.")
    if type_hint is bool:
        if isinstance(value, bool):
            return value
        raise ConfigError(f"config key {key!r} must be true or false, got {value!r}")
    if type_hint is int:
        if isinstance(value, bool) or not isinstance(value, (int, float)) or int(value) != value:
            raise ConfigError(f"config key {key!r} must be an integer, got {value!r}")
        return int(value)
    if type_hint is float:
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ConfigError(f"config key {key!r} must be a number, got {value!r}")
        return float(value)
    if type_hint is str:
        if not isinstance(value, str):
            raise ConfigError(f"config key {key!r} must be a string, got {value!r}")
        return value
    return value


def _build(cls: type, values: dict, prefix: str = "") -> Any:
    hints = get_type_hints(cls)
    known = {f.name for f in dataclasses.fields(cls)}
    unknown = sorted(set(values) - known)
    if unknown:
        raise ConfigError(
            f"unknown config key {prefix + unknown[0]!r}; known keys here: {', '.join(sorted(known))}"
        )
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        typed = dataclasses.is_dataclass(hint) or hint in (bool, int, float, str)
        kwargs[name] = _coerce(value, hint, prefix + name) if typed else value
    return cls(**kwargs)


def load_supercon_config(
    path: str | Path | None = None,
    preset: str | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> SuperconConfig:
    """Defaults from YAML, then the preset, then overrides (dotted keys)."""
    path = Path(path) if path else projects_dir() / "supercon" / "config.yaml"
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (set PHYSML_PROJECTS_DIR or --config)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if preset:
        presets = tree.get("presets", {})
        if preset not in presets:
            raise ConfigError(f"unknown preset {preset!r} in {path}; presets: {', '.join(presets) or 'none'}")
        tree = deep_merge(tree, presets[preset])
        tree["preset"] = preset
    items = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides or [])
    for key, value in items:
        set_dotted(tree, key, value)
    config = _build(SuperconConfig, tree)
    validate_supercon_config(config)
    return config


def validate_supercon_config(config: SuperconConfig) -> None:
    checks = [
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
    for ok, key, expected in checks:
        if not ok:
            raise ConfigError(f"config key {key!r} must be {expected}")
