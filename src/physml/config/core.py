"""Config as data (generic part): a task's YAML defaults, a preset merged over them, then single-key overrides.

The result is one typed object (a dataclass tree), so a misspelt key fails at load time with the
key's dotted name instead of being silently ignored.
"""

from __future__ import annotations

import copy
import dataclasses
import math
import os
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

import yaml

from physml.errors import ConfigError

T = TypeVar("T")


def projects_dirs() -> list[Path]:
    """Where task folders (`<task>/config.yaml`, a composition task's `task.yaml`) are looked for, in
    order: each folder of $PHYSML_PROJECTS_DIR (colon-separated), then ./projects or the source tree's."""
    listed = [Path(entry).expanduser() for entry in os.environ.get("PHYSML_PROJECTS_DIR", "").split(os.pathsep)]
    cwd_projects = Path.cwd() / "projects"
    own = cwd_projects if cwd_projects.is_dir() else Path(__file__).resolve().parents[3] / "projects"
    return [folder for folder in listed if str(folder) not in ("", ".")] + [own]


def projects_dir(name: str | None = None) -> Path:
    """The folder holding task `name`: the first of projects_dirs() that has it (physml's own when
    none does); without a name, the first folder searched."""
    folders = projects_dirs()
    if name is None:
        return folders[0]
    return next((folder / name for folder in folders if (folder / name).is_dir()), folders[-1] / name)


def read_mapping(path: Path, not_found: str, shape: str) -> dict:
    """A YAML file that must hold a mapping: ConfigError `not_found` when the file is missing, and one
    naming the file when it is not YAML or not a mapping (`shape` says what it should hold)."""
    try:
        tree = yaml.safe_load(path.read_text())
    except FileNotFoundError:
        raise ConfigError(not_found) from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {exc}") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: {shape}")
    return tree


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


def setting(
    default: Any = dataclasses.MISSING,
    *,
    factory: Any = None,
    ge: float | None = None,
    gt: float | None = None,
    le: float | None = None,
    lt: float | None = None,
    choices: tuple | None = None,
    length: tuple[int, int] | None = None,
) -> Any:
    """A config field with its allowed values as data: bounds (ge, gt, le, lt) for numbers, `choices`
    and `length` (min, max characters) for strings. The one validator (`check_setting`) reads them, for YAML, CLI flags, `--set` and
    search spaces alike."""
    rules = {"ge": ge, "gt": gt, "le": le, "lt": lt, "choices": choices, "length": length}
    metadata = {"rules": {name: value for name, value in rules.items() if value is not None}}
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata=metadata)
    return dataclasses.field(default=default, metadata=metadata)


BOUNDS = {
    "ge": (">=", lambda v, b: v >= b),
    "gt": (">", lambda v, b: v > b),
    "le": ("<=", lambda v, b: v <= b),
    "lt": ("<", lambda v, b: v < b),
}


def check_setting(value: Any, rules: dict[str, Any], key: str) -> None:
    """Raise ConfigError naming `key` when `value` breaks one of its rules."""
    if "choices" in rules and value not in rules["choices"]:
        raise ConfigError(f"config key {key!r} must be one of {', '.join(map(str, rules['choices']))}, got {value!r}")
    if "length" in rules and isinstance(value, str) and not rules["length"][0] <= len(value) <= rules["length"][1]:
        low, high = rules["length"]
        raise ConfigError(f"config key {key!r} must have {low} to {high} characters, got {len(value)}")
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        for name, (word, holds) in BOUNDS.items():
            if name in rules and not holds(value, rules[name]):
                raise ConfigError(f"config key {key!r} must be {word} {rules[name]}, got {value!r}")


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
        if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
            raise ConfigError(f"config key {key!r} must be a finite number, got {value!r}")
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
        raise ConfigError(f"unknown config key {prefix + unknown[0]!r}; known keys here: {', '.join(sorted(known))}")
    rules = {f.name: f.metadata.get("rules", {}) for f in dataclasses.fields(cls)}
    kwargs = {}
    for name, value in values.items():
        hint = hints[name]
        typed = dataclasses.is_dataclass(hint) or hint in (bool, int, float, str)
        kwargs[name] = _coerce(value, hint, prefix + name) if typed else value
        check_setting(kwargs[name], rules[name], prefix + name)
    return cls(**kwargs)


def load_config(
    cls: type[T],
    path: str | Path,
    preset: str | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> T:
    """Defaults from the YAML file at `path`, then the preset, then overrides (dotted keys)."""
    return config_from_tree(cls, read_config_tree(path), path, preset, overrides)


def read_config_tree(path: str | Path) -> dict:
    """A config YAML file as a dict; a missing or broken file is one ConfigError naming it."""
    path = Path(path)
    try:
        tree = yaml.safe_load(path.read_text()) or {}
    except FileNotFoundError:
        raise ConfigError(f"config file not found: {path} (set PHYSML_PROJECTS_DIR or --config)") from None
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: not valid YAML: {' '.join(str(exc).split())}") from None
    if not isinstance(tree, dict):
        raise ConfigError(f"{path}: must be a mapping of config keys")
    return tree


def config_from_tree(
    cls: type[T],
    tree: dict,
    path: str | Path,
    preset: str | None = None,
    overrides: list[str] | dict[str, Any] | None = None,
) -> T:
    """`tree` (read from `path`, or merged from several files) with the preset, then the overrides."""
    if preset:
        presets = tree.get("presets", {})
        if preset not in presets:
            raise ConfigError(f"unknown preset {preset!r} in {path}; presets: {', '.join(presets) or 'none'}")
        tree = deep_merge(tree, presets[preset])
        tree["preset"] = preset
    items = overrides.items() if isinstance(overrides, dict) else map(parse_override, overrides or [])
    for key, value in items:
        set_dotted(tree, key, value)
    return _build(cls, tree)


def get_dotted(config: Any, dotted_key: str) -> Any:
    """`get_dotted(config, "dnn.epochs")` -> config.dnn.epochs; an unknown key is a ConfigError."""
    node = config
    for part in dotted_key.split("."):
        if not hasattr(node, part):
            raise ConfigError(f"unknown config key {dotted_key!r}")
        node = getattr(node, part)
    return node


def check(rules: list[tuple[bool, str, str]]) -> None:
    """Each rule is (holds, dotted key, what the key must be); the first that fails is the error."""
    for holds, key, expected in rules:
        if not holds:
            raise ConfigError(f"config key {key!r} must be {expected}")
