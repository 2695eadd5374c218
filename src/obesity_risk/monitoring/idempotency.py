"""Idempotency keys: a request retried with its ``Idempotency-Key`` is logged once and answered
with the original response.

A key is bound to its request by a fingerprint: the SHA-256 of the route, the ``explain`` flag
and the validated records as canonical JSON (sorted keys, the values as validated), so spacing,
key order or ``20`` for ``20.0`` do not matter and any other difference does. The key, the
fingerprint and the response body are stored in ``idempotency_keys`` in the transaction that
logs the request's rows. A later request with the same key then gets:

- same fingerprint: the stored response, byte for byte (same request id and predictions, even
  after a model reload); nothing is logged;
- another fingerprint: :class:`IdempotencyConflictError` (HTTP 409 Conflict: the body
  itself is valid, so not 422), nothing is logged.

Concurrent duplicates are logged once. In one group commit, the first request with a key is
logged and the later ones are answered from it (:func:`claim`); across group commits, API
workers and processes, the key's primary key decides: a losing insert fails, and the loser is
answered from the winner's stored row (:func:`recover`).
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import orjson
import sqlalchemy as sa

from obesity_risk.errors import ObesityRiskError
from obesity_risk.monitoring.tables import IDEMPOTENCY_KEYS

if TYPE_CHECKING:
    from obesity_risk.monitoring.pending import Pending


@dataclass(frozen=True)
class Idempotent:
    """What is stored for a request sent with an ``Idempotency-Key``."""

    key: str
    fingerprint: str  # see :func:`fingerprint`
    response: bytes  # the response body, answered again to the request's retries


class IdempotencyConflictError(ObesityRiskError):
    """The key was already used for a different request (HTTP 409)."""

    def __init__(self, key: str) -> None:
        super().__init__(
            f"Idempotency-Key {key!r} was already used for a different request (another"
            " route, explain flag or body); send a new key with a new request"
        )


def fingerprint(route: str, explain: bool, records: list[dict[str, Any]]) -> str:
    """SHA-256 (hex) of the route name, the explain flag and the validated records."""
    canonical = orjson.dumps(
        {"route": route, "explain": explain, "records": records}, option=orjson.OPT_SORT_KEYS
    )
    return hashlib.sha256(canonical).hexdigest()


def lookup(conn: sa.Connection, keys: Iterable[str]) -> dict[str, tuple[str, str]]:
    """The stored (fingerprint, response) of those ``keys`` that are logged."""
    table = IDEMPOTENCY_KEYS.c
    found = conn.execute(
        sa.select(table.idempotency_key, table.fingerprint, table.response).where(
            table.idempotency_key.in_(sorted(set(keys)))
        )
    ).all()
    return {key: (stored, response) for key, stored, response in found}


def stored_answer(engine: sa.Engine, key: str, fingerprint_: str) -> bytes | None:
    """The response logged under ``key`` for the same request, checked before any work is
    done for a retry (None: the key is new, so score and log as usual; a race with a
    concurrent duplicate is still settled by :func:`claim` and :func:`recover`).

    A log that cannot be read now (down, its tables not created yet) gives None: the write
    that follows is the authority, with its own fault handling (503, Retry-After, recovery).

    Raises:
        IdempotencyConflictError: the key is logged for a different request.
    """
    try:
        with engine.connect() as conn:
            stored = lookup(conn, [key]).get(key)
    except sa.exc.SQLAlchemyError:
        return None
    if stored is None:
        return None
    if stored[0] != fingerprint_:
        raise IdempotencyConflictError(key)
    return stored[1].encode()


def claim(conn: sa.Connection, batch: Sequence[Pending]) -> None:
    """Settle the keyed requests of ``batch`` whose key is taken (logged before, or by an
    earlier request of the batch) and insert the keys of the others; the caller then inserts
    the rows of the requests still to be logged, in the same transaction."""
    keyed = [(p, p.once) for p in batch if p.once is not None]
    if not keyed:
        return
    stored = lookup(conn, (once.key for _, once in keyed))
    first: dict[str, tuple[Pending, Idempotent]] = {}
    for pending, once in keyed:
        if once.key in stored:
            pending.settle(*stored[once.key])
        elif once.key in first:
            leader = first[once.key][1]
            pending.settle(leader.fingerprint, leader.response)
        else:
            first[once.key] = (pending, once)
    if first:  # in key order: concurrent writers lock the keys in the same order (no deadlock)
        now = datetime.now(UTC)
        conn.execute(
            IDEMPOTENCY_KEYS.insert(),
            [
                {
                    "idempotency_key": key,
                    "request_id": p.request_id,
                    "fingerprint": once.fingerprint,
                    "response": once.response.decode(),
                    "created_at": now,
                }
                for key, (p, once) in sorted(first.items())
            ],
        )


def recover(engine: sa.Engine, pending: Pending) -> bool:
    """After ``pending``'s insert failed: whether its key was logged meanwhile by another
    writer (then ``pending`` is settled from that row)."""
    if pending.once is None:
        return False
    with engine.connect() as conn:
        stored = lookup(conn, [pending.once.key]).get(pending.once.key)
    if stored is None:
        return False
    pending.settle(*stored)
    return True
