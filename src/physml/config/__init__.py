"""Config as data: YAML defaults + a preset + single-key overrides -> one typed object per task."""

from physml.config.core import (
    ConfigError,
    deep_merge,
    get_dotted,
    load_config,
    parse_override,
    projects_dir,
)

__all__ = ["ConfigError", "deep_merge", "get_dotted", "load_config", "parse_override", "projects_dir"]
