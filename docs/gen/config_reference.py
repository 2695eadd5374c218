"""Build-time page (mkdocs-gen-files): the configuration reference, from the pydantic models.

Walks ``obesity_risk.config.Settings``: every field that is a pydantic model is a section
(nested models are sub-sections, models inside lists and mappings are documented as their
items), every other field a key. For each key: its type with its bounds, the model's default,
the value the packaged YAML files give it, and its description (the field's ``description``,
else the comment beside or above it in the source, else the model's docstring for a section).
Nothing here names a section, so a section added to ``Settings`` shows up by itself.
"""

from __future__ import annotations

import dataclasses
import inspect
import io
import json
import os
import re
import tokenize
import types
import typing
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Literal, get_args, get_origin

import annotated_types
import mkdocs_gen_files
import yaml
from pydantic import BaseModel, SecretStr
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from obesity_risk.config import Settings, load_settings, loader

MAX_VALUE = 70  # longer values are cut (the packaged YAML file has the whole of them)
ROOT_TEXT = str(
    Path(__file__).resolve().parents[2]
)  # shown as <project root>, not this machine's path


# --------------------------------------------------------------------------- source comments
def field_comments(model: type[BaseModel]) -> dict[str, str]:
    """Comments of each field in the class body: the ones right above it, then the one beside."""
    try:
        source = inspect.getsource(model)
    except (OSError, TypeError):
        return {}
    lines = source.splitlines()
    comments: dict[int, str] = {}
    for tok in tokenize.generate_tokens(io.StringIO(source).readline):
        if tok.type == tokenize.COMMENT:
            comments[tok.start[0]] = tok.string.lstrip("#").strip()
    found: dict[str, str] = {}
    names = set(model.model_fields)
    for number, line in enumerate(lines, start=1):
        stripped = line.strip()
        name = stripped.split(":", 1)[0].strip()
        if name not in names or ":" not in stripped or name in found:
            continue
        above = []
        row = number - 1
        while row in comments and lines[row - 1].strip().startswith("#"):
            above.insert(0, comments[row])
            row -= 1
        beside = comments.get(number) if not stripped.startswith("#") else None
        text = " ".join([*above, *([beside] if beside else [])]).strip()
        if text and not text.startswith("noqa"):
            found[name] = text
    return found


_KEY = re.compile(r"^(\s*)([A-Za-z_][\w-]*):(.*)$")
_TRAILING = re.compile(r"\s#\s?(.*)$")


def yaml_comments() -> dict[tuple[str, ...], str]:
    """The packaged YAML files' comments per key path: the comment lines right above a key,
    its trailing comment and the comment lines continuing it (indented further)."""
    found: dict[tuple[str, ...], str] = {}
    for path in sorted(loader.CONFIG_DIR.glob("*.yaml")):
        stack: list[tuple[int, str]] = []
        above: list[str] = []
        last: tuple[tuple[str, ...], int] | None = None  # key whose trailing comment may continue
        for line in path.read_text(encoding="utf-8").splitlines():
            stripped = line.strip()
            indent = len(line) - len(line.lstrip())
            if stripped.startswith("#"):
                text = stripped.lstrip("#").strip()
                if last is not None and indent > last[1]:
                    found[last[0]] = f"{found[last[0]]} {text}".strip()
                else:
                    last = None
                    above.append(text)
                continue
            match = _KEY.match(line)
            if not match or stripped.startswith("-"):
                above, last = [], None
                continue
            while stack and stack[-1][0] >= indent:
                stack.pop()
            key_path = (*(k for _, k in stack), match.group(2))
            stack.append((indent, match.group(2)))
            trailing = _TRAILING.search(match.group(3))
            text = " ".join([*above, *([trailing.group(1)] if trailing else [])]).strip()
            if text:
                found[key_path] = text
            last = (key_path, indent) if trailing else None
            above = []
    return found


YAML_COMMENTS = yaml_comments()


# --------------------------------------------------------------------------- types
def models_in(annotation: Any) -> list[type[BaseModel]]:
    """Every pydantic model an annotation refers to (inside unions, lists, dicts...)."""
    if isinstance(annotation, type) and issubclass(annotation, BaseModel):
        return [annotation]
    out: list[type[BaseModel]] = []
    for arg in get_args(annotation):
        for model in models_in(arg):
            if model not in out:
                out.append(model)
    return out


def type_name(annotation: Any) -> str:  # noqa: PLR0911 - one return per kind of annotation
    """An annotation as a reader writes it: ``int | None``, ``"a" | "b"``, ``dict[str, X]``."""
    origin = get_origin(annotation)
    args = get_args(annotation)
    if annotation is type(None):
        return "None"
    if origin is typing.Annotated:
        return type_name(args[0])
    if origin is Literal:
        return " | ".join(json.dumps(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(type_name(a) for a in args)
    if origin is not None:
        name = getattr(origin, "__name__", str(origin))
        return f"{name}[{', '.join(type_name(a) for a in args)}]"
    if isinstance(annotation, type):
        return annotation.__name__
    return str(annotation).replace("typing.", "")


_BOUNDS = {
    annotated_types.Gt: ">",
    annotated_types.Ge: "≥",
    annotated_types.Lt: "<",
    annotated_types.Le: "≤",
    annotated_types.MinLen: "length ≥",
    annotated_types.MaxLen: "length ≤",
}


def bounds(info: FieldInfo) -> str:
    """The field's numeric and length bounds, e.g. ``≥ 1, ≤ 65535``."""
    parts = []
    for item in info.metadata:
        symbol = _BOUNDS.get(type(item))
        if symbol is not None:
            parts.append(f"{symbol} {getattr(item, dataclasses.fields(item)[0].name)}")
    return ", ".join(parts)


# --------------------------------------------------------------------------- values
def show(value: Any) -> str:
    if isinstance(value, SecretStr):
        return "(secret)"
    if isinstance(value, BaseModel):
        value = value.model_dump(mode="json", by_alias=True)
    if isinstance(value, Path):
        value = str(value)
    try:
        text = json.dumps(value, default=str, ensure_ascii=False)
    except (TypeError, ValueError):
        text = repr(value)
    text = text.replace(ROOT_TEXT, "<project root>")
    if len(text) > MAX_VALUE:
        text = text[: MAX_VALUE - 1] + "…"
    return text


def default_of(info: FieldInfo) -> str:
    if info.default_factory is not None:
        return show(info.default_factory())
    if info.default is PydanticUndefined:
        return "required"
    return show(info.default)


MISSING = object()


def packaged_value(packaged: Any, path: list[str]) -> Any:
    node = packaged
    for part in path:
        if not isinstance(node, BaseModel):
            return MISSING
        name = next((n for n, f in type(node).model_fields.items() if (f.alias or n) == part), part)
        node = getattr(node, name, MISSING)
        if node is MISSING:
            return MISSING
    return node


@contextmanager
def packaged_only():
    """load_settings() sees the packaged files alone: no override file, no environment."""
    saved = {
        k: os.environ.pop(k)
        for k in list(os.environ)
        if k.startswith(loader.ENV_PREFIX)
        or k in (loader.ENV_CONFIG, "MLFLOW_TRACKING_URI")
    }
    try:
        yield
    finally:
        os.environ.update(saved)


def files_by_section() -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for path in sorted(loader.CONFIG_DIR.glob("*.yaml")):
        tree = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
        for key in tree:
            out.setdefault(key, []).append(path.name)
    return out


def prose(text: str) -> str:
    """reST markup of docstrings and comments as Markdown: ``x`` -> `x`, :class:`~a.B` -> `B`."""
    text = re.sub(r":[a-z]+:`~?([^`]+)`", lambda m: "`" + m.group(1).rsplit(".", 1)[-1] + "`", text)
    return text.replace("``", "`")


def cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or "—"


def code(text: str) -> str:
    return f"`{text}`" if text and text != "—" else "—"


# --------------------------------------------------------------------------- the page
def key_table(model: type[BaseModel], prefix: str, packaged: Any, in_values: bool) -> list[str]:
    comments = field_comments(model)
    rows = ["| key | type | default | packaged | description |", "| --- | --- | --- | --- | --- |"]
    for name, info in model.model_fields.items():
        key = info.alias or name
        typ = type_name(info.annotation)
        limit = bounds(info)
        described = info.description or comments.get(name, "")
        if not in_values:
            packaged_comment = YAML_COMMENTS.get(
                (*prefix.split("."), key) if prefix else (key,), ""
            )
            if packaged_comment and packaged_comment not in described:
                described = f"{described}<br>{packaged_comment}" if described else packaged_comment
        nested = models_in(info.annotation)
        if len(nested) == 1 and not described:
            described = inspect.getdoc(nested[0]) or ""
            described = described.split("\n\n")[0].replace("\n", " ")
        value = (
            MISSING
            if in_values
            else packaged_value(packaged, [*prefix.split("."), key] if prefix else [key])
        )
        if nested:  # a section, or a mapping / list of them: its keys are in their own table
            default = "required" if info.is_required() else "see below"
            shown = "see below" if value is not MISSING else "—"
        else:
            default = code(default_of(info))
            shown = "—" if value is MISSING else code(show(value))
        rows.append(
            "| "
            + " | ".join(
                [
                    code(key),
                    cell(code(typ) + (f" ({limit})" if limit else "")),
                    cell(default),
                    cell(shown),
                    cell(
                        "<br>".join(
                            prose(part).replace("<", "&lt;") for part in described.split("<br>")
                        )
                    ),
                ]
            )
            + " |"
        )
    return rows


def section(
    model: type[BaseModel],
    path: str,
    level: int,
    packaged: Any,
    in_values: bool,
    files: dict[str, list[str]],
    seen: set[type[BaseModel]],
    out: list[str],
) -> None:
    seen.add(model)
    out.append(
        f"{'#' * level} `{path}` ({model.__name__})" if path else f"{'#' * level} Top-level keys"
    )
    out.append("")
    doc = inspect.getdoc(model)
    if doc and model is not Settings:
        out.append(prose(doc))
        out.append("")
    top = path.split(".", maxsplit=1)[0].split("[", maxsplit=1)[0]
    if level == 2 and files.get(top):
        out.append("Packaged in " + ", ".join(f"`config/{f}`" for f in files[top]) + ".")
        out.append("")
    out.extend(key_table(model, path, packaged, in_values))
    out.append("")
    for name, info in model.model_fields.items():
        key = info.alias or name
        annotation = info.annotation
        for sub in models_in(annotation):
            if sub in seen:
                continue
            direct = isinstance(annotation, type) and issubclass(annotation, BaseModel)
            optional = get_origin(annotation) in (typing.Union, types.UnionType) and set(
                get_args(annotation)
            ) - {type(None)} == {sub}
            if direct or optional:
                sub_path, items = f"{path}.{key}" if path else key, in_values
            else:
                origin = get_origin(annotation)
                shape = "{name}" if origin is dict else "[]"
                sub_path = f"{path}.{key}.{shape}" if origin is dict else f"{path}.{key}{shape}"
                sub_path = sub_path.lstrip(".")
                items = True
            section(
                sub, sub_path, min(level + 1, 6) if path else 2, packaged, items, files, seen, out
            )


def main() -> None:
    with packaged_only():
        packaged = load_settings()
    files = files_by_section()
    out = [
        "# Configuration reference",
        "",
        "Every section and key of `obesity_risk.config.Settings`, generated from the pydantic"
        " models when this site is built (`docs/gen/config_reference.py`), so it follows the"
        " code. **default** is the model's own default (`required`: the packaged YAML must set"
        " it); **packaged** is the value after loading the packaged YAML files alone (no"
        " override file, no environment), cut at 70 characters (see the named file for the"
        " whole value); **description** is the field's description or its comment in the"
        " model's source, and the comment beside the key in the packaged YAML file."
        " How the files, an override file and the environment combine:"
        " [Configuration](configuration.md). Secrets are never set in YAML: only from the"
        " environment (`OBESITY_RISK__SECTION__KEY`).",
        "",
    ]
    section(Settings, "", 2, packaged, False, files, set(), out)
    with mkdocs_gen_files.open("configuration-reference.md", "w") as page:
        page.write("\n".join(out) + "\n")


main()
