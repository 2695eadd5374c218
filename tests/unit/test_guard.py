"""The batch record count of the request guard: exact however the body is cut into chunks,
and a small invalid body (nested objects, braces in strings) is never taken for a big batch."""

from __future__ import annotations

import asyncio
import json
import random

import pytest

from obesity_risk.api.guard import RecordCounter, RefusedError, read_body


def _body(records: int, rng: random.Random) -> bytes:
    tricky = ["x{y", 'a\\"{b', "\\\\", '[{"', "}]", ""]
    rows = [
        {"a": rng.choice(tricky) * rng.randint(0, 3), "b": {"c": [{"d": [1, {"e": "{"}]}]}}
        for _ in range(records)
    ]
    return json.dumps({"records": rows, "tail": "{{[["}).encode()


def _chunks(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)] or [b""]


@pytest.mark.parametrize("records", [0, 1, 7, 60])
@pytest.mark.parametrize("size", [1, 2, 3, 5, 64, 1 << 20])
def test_the_exact_count_does_not_depend_on_chunking(records: int, size: int) -> None:
    data = _body(records, random.Random(records * 31 + size))
    counter = RecordCounter()
    counted = 0
    for chunk in [b"", *_chunks(data, size)]:
        counted = counter.feed(chunk)
    assert counted == records and counter.depth == 0 and not counter.in_string


def _read(data: bytes, size: int, max_records: int) -> bytes | None:
    chunks = _chunks(data, size)
    messages = [
        {"type": "http.request", "body": c, "more_body": i < len(chunks) - 1}
        for i, c in enumerate(chunks)
    ]

    async def receive() -> dict:
        return messages.pop(0)

    return asyncio.run(read_body(receive, 10**8, max_records))


def test_nested_objects_are_not_counted_as_records() -> None:
    """5 records with many braces each: far more ``{`` than a limit of 10, still 5 records."""
    data = _body(5, random.Random(3))
    assert data.count(b"{") > 11
    assert _read(data, 7, 10) == data


def test_too_many_records_are_refused_while_reading() -> None:
    flat = json.dumps({"records": [{"a": 1}] * 11}).encode()
    with pytest.raises(RefusedError, match="more than 10 records in one batch"):
        _read(flat, 4, 10)
    nested = _body(11, random.Random(5))
    with pytest.raises(RefusedError, match="more than 10 records in one batch"):
        _read(nested, 9, 10)
    assert _read(json.dumps({"records": [{"a": 1}] * 10}).encode(), 4, 10) is not None
