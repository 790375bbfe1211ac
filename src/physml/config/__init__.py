"""Config as data: YAML defaults + a preset + single-key overrides -> one typed object per task."""

from physml.config.core import (
    ConfigError,
    deep_merge,
    load_config,
    parse_override,
    projects_dir,
)
from physml.config.galaxy import GalaxyConfig, load_galaxy_config
from physml.config.supercon import (
    MODELS,
    DNNParams,
    GBMParams,
    SuperconConfig,
    load_supercon_config,
)

__all__ = [
    "MODELS",
    "ConfigError",
    "DNNParams",
    "GalaxyConfig",
    "GBMParams",
    "SuperconConfig",
    "deep_merge",
    "load_config",
    "load_galaxy_config",
    "load_supercon_config",
    "parse_override",
    "projects_dir",
]
