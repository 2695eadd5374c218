"""obesity-risk: obesity-level classification, from YAML config to a served, monitored model."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("obesity-risk")
except PackageNotFoundError:  # pragma: no cover - running from a bare source tree
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
