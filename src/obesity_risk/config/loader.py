"""Loading the settings: the packaged YAML files, merged with the override file and the
environment, validated into :class:`~obesity_risk.config.settings.Settings`.

Precedence (lowest to highest): packaged defaults (``config/*.yaml``) < the obesity dataset
(``config/datasets/obesity.yaml``) < the file named by ``OBESITY_RISK_CONFIG`` < environment
variables ``OBESITY_RISK__SECTION__KEY`` (and ``MLFLOW_TRACKING_URI`` for ``tracking.uri``) <
keyword overrides passed to :func:`load_settings`.

The packaged defaults belong to no dataset. The obesity dataset's file (its schema, engineered
features, slices, gate floor, column rules, names) applies only when no source gives its own
``data.columns``: another dataset never inherits what depends on obesity's columns.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any, get_args

import yaml
from pydantic import BaseModel, SecretStr, ValidationError

from obesity_risk.config.settings import Settings
from obesity_risk.errors import ConfigError

CONFIG_DIR = Path(__file__).resolve().parent
ENV_CONFIG = "OBESITY_RISK_CONFIG"
ENV_PREFIX = "OBESITY_RISK__"
DEFAULT_DATASET = "obesity.yaml"  # the project's first configuration (config/datasets/)


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file is a directory: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from exc
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(content).__name__}")
    return content


# mappings that are one unit: an override replaces them whole instead of merging into them
_REPLACED_WHOLE = {("data", "columns")}


def _deep_merge(
    base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        where = (*path, key)
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and where not in _REPLACED_WHOLE
        ):
            merged[key] = _deep_merge(merged[key], value, where)
        else:
            merged[key] = value
    return merged


def _clean_loc(tree: dict[str, Any], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union tags pydantic inserts into error locations (``...Age.numeric.min``)."""
    clean: list[Any] = []
    node: Any = tree
    for part in loc:
        if isinstance(node, dict) and part not in node and part in ("numeric", "categorical"):
            continue
        clean.append(part)
        node = node.get(part) if isinstance(node, dict) else None
    return tuple(clean)


def _has_key(tree: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = tree
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            return False
    return True


def _format_errors(
    exc: ValidationError, merged: dict[str, Any], sources: list[tuple[str, dict[str, Any]]]
) -> str:
    lines = []
    for err in exc.errors():
        loc = _clean_loc(merged, err["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        origin = "packaged defaults"
        for depth in range(len(loc), 0, -1):
            found = [name for name, tree in sources if _has_key(tree, loc[:depth])]
            if found:
                origin = found[-1]
                break
        lines.append(f"  {origin}: {key}: {err['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def _packaged(own_dataset: bool) -> list[tuple[str, dict[str, Any]]]:
    """The packaged defaults: the files that belong to no dataset, then the obesity dataset's
    own (``datasets/obesity.yaml``) unless the user configures another dataset."""
    files = sorted(CONFIG_DIR.glob("*.yaml"))
    if not own_dataset:
        files.append(CONFIG_DIR / "datasets" / DEFAULT_DATASET)
    return [(str(path), _read_yaml(path)) for path in files]


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings.

    Args:
        config_file: override YAML; defaults to ``$OBESITY_RISK_CONFIG`` when set.
        **overrides: top-level sections merged last (used by tests and notebooks).

    Raises:
        ConfigError: naming the file and the key of every invalid value.
    """
    sources: list[tuple[str, dict[str, Any]]] = []
    config_file = config_file or os.environ.get(ENV_CONFIG)
    if config_file:
        path = Path(config_file).expanduser().resolve()
        sources.append((str(path), _read_yaml(path)))
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    if env:
        sources.append(("environment", _env_tree(env)))
    if os.environ.get("MLFLOW_TRACKING_URI"):
        sources.append(("environment", {"tracking": {"uri": os.environ["MLFLOW_TRACKING_URI"]}}))
    if overrides:
        sources.append(("load_settings()", overrides))
    own_dataset = any(_has_key(tree, ("data", "columns")) for _, tree in sources)
    sources = _packaged(own_dataset) + sources

    merged: dict[str, Any] = {}
    for _, tree in sources:
        merged = _deep_merge(merged, tree)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, merged, sources)) from None


_NONE = type(None)


def _text_field(parts: list[str]) -> tuple[bool, bool]:
    """Whether the setting at ``parts`` is text (``str``/``SecretStr``), and whether it may be
    None; ``(False, _)`` for anything else or an unknown key."""
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        if part not in fields:
            return False, False
        annotation = fields[part].annotation
        args = [a for a in get_args(annotation) if a is not _NONE] or [annotation]
        if depth == len(parts) - 1:
            text = all(a in (str, SecretStr) for a in args)
            return text, _NONE in get_args(annotation)
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return False, False
        model = nested[0]
    return False, False


def _env_tree(env: dict[str, str]) -> dict[str, Any]:
    """``OBESITY_RISK__A__B=v`` -> ``{"a": {"b": v}}``.

    Text settings (tokens, keys, passwords, URLs, names) are taken literally, exactly as
    exported: ``#``, quotes, ``: `` and spaces stay part of the value (YAML would turn
    ``#x`` into a comment and ``abc #x`` into ``abc``). Other values are parsed as YAML scalars
    (``true``, ``3``, ``[a, b]``); an empty text value means unset where unset is allowed.
    """
    tree: dict[str, Any] = {}
    for key, raw in env.items():
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        text, nullable = _text_field(parts)
        if text:
            node[parts[-1]] = None if raw == "" and nullable else raw
            continue
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return tree
