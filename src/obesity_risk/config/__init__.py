"""Configuration: packaged YAML defaults validated into one :class:`Settings` object."""

from obesity_risk.config.settings import (
    CategoricalColumn,
    DataSchema,
    NumericColumn,
    Settings,
    load_settings,
)

__all__ = ["CategoricalColumn", "DataSchema", "NumericColumn", "Settings", "load_settings"]
