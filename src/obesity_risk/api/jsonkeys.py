"""Duplicate keys in JSON bodies are refused: parsers keep the last one silently.

The check costs about a re-encoding with orjson: a document in which no key repeats has as
many colons as its compact re-encoding (one per key, plus those inside strings, which both
keep). Only when the counts differ, or when ``\\u`` escapes could hide a colon, is the body
parsed again with a hook that finds the repeated key.
"""

from __future__ import annotations

import json
from typing import Any

import orjson
from fastapi import Depends
from fastapi.exceptions import RequestValidationError

from obesity_risk.api.deps import RawBodyDep


class _RepeatedKeyError(Exception):
    """Raised by the parse hook at the first key seen twice in one object."""

    def __init__(self, key: str) -> None:
        super().__init__(key)
        self.key = key


def _pairs(pairs: list[tuple[str, Any]]) -> dict[str, Any]:
    obj = dict(pairs)
    if len(obj) != len(pairs):
        seen: set[str] = set()
        for key, _ in pairs:
            if key in seen:
                raise _RepeatedKeyError(key)
            seen.add(key)
    return obj


def duplicate_key(raw: bytes) -> str | None:
    """The first key repeated within one object of the JSON document ``raw``, else None
    (also for a body that is not JSON: its parser reports that)."""
    if b"\\u" not in raw:
        try:
            if raw.count(b":") == orjson.dumps(orjson.loads(raw)).count(b":"):
                return None
        except orjson.JSONDecodeError:
            pass  # NaN, big integers...: JSON to Python's parser, checked below
    try:
        json.loads(raw, object_pairs_hook=_pairs)
    except _RepeatedKeyError as found:
        return found.key
    except (ValueError, RecursionError):
        return None
    return None


def refuse_duplicate_keys(raw: bytes) -> None:
    """Refuse a body in which a key repeats within one object.

    Raises:
        RequestValidationError: FastAPI's 422, naming the key.
    """
    key = duplicate_key(raw)
    if key is not None:
        raise RequestValidationError(
            [
                {
                    "type": "duplicate_key",
                    "loc": ("body",),
                    "msg": f"duplicate key {key!r}: a key may appear only once in an object",
                    "input": key,
                }
            ]
        )


async def unique_keys(raw: RawBodyDep) -> None:
    """Route dependency: the body's keys are unique (small bodies: on the event loop)."""
    refuse_duplicate_keys(raw)


UniqueKeysDep = Depends(unique_keys)  # pylint: disable=invalid-name
