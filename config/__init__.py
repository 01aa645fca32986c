"""Typed configuration of the softswitch: `load_config(path)` → frozen `SwitchConfig`."""

from .load import ConfigError, load_config, parse_config
from .schema import SwitchConfig

__all__ = ["ConfigError", "SwitchConfig", "load_config", "parse_config"]
