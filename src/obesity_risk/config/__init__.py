"""Configuration: packaged YAML defaults validated into one :class:`Settings` object.

``schema`` (data, features, models), ``stages`` (ensemble, evaluation, batch) and ``sections``
(paths, tracking, logging, monitoring, serving, datastore) hold the sections, ``settings`` the
whole, ``loader`` the reading, merging and validation.
"""

from obesity_risk.config.loader import load_settings
from obesity_risk.config.schema import CategoricalColumn, DataSchema, NumericColumn
from obesity_risk.config.settings import Settings

__all__ = ["CategoricalColumn", "DataSchema", "NumericColumn", "Settings", "load_settings"]
