"""Tables of the prediction store's database: the log, idempotency keys, ground truth, report
jobs."""

from __future__ import annotations

import time

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

METADATA = sa.MetaData()
_ID = sa.BigInteger().with_variant(sa.Integer, "sqlite")

PREDICTIONS = sa.Table(
    "predictions",
    METADATA,
    sa.Column("id", _ID, primary_key=True, autoincrement=True),
    sa.Column("request_id", sa.String(64), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("model_version", sa.String(64)),
    sa.Column("label", sa.String(128), nullable=False),
    sa.Column("probabilities", sa.Text, nullable=False),
    sa.Column("inputs", sa.Text, nullable=False),
)

# a request logged with an Idempotency-Key: the request's fingerprint (route, explain flag,
# records) and the response it was answered with; the primary key lets one request win. It
# replaces ``prediction_requests`` (key and request id only), which is no longer read or written:
# a database that has it keeps it untouched (it can be dropped).
IDEMPOTENCY_KEYS = sa.Table(
    "idempotency_keys",
    METADATA,
    sa.Column("idempotency_key", sa.String(128), primary_key=True),
    sa.Column("request_id", sa.String(64), nullable=False),
    sa.Column("fingerprint", sa.String(64), nullable=False),
    sa.Column("response", sa.Text, nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
)

# ground truth posted later for logged predictions (``position``: the record's index in its
# request); a label posted again replaces the earlier one
FEEDBACK = sa.Table(
    "feedback",
    METADATA,
    sa.Column("request_id", sa.String(64), primary_key=True),
    sa.Column("position", sa.Integer, primary_key=True, autoincrement=False),
    sa.Column("label", sa.String(128), nullable=False),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
)

# report builds requested through the API, visible to every worker
REPORT_JOBS = sa.Table(
    "report_jobs",
    METADATA,
    sa.Column("id", sa.String(32), primary_key=True),
    sa.Column("kind", sa.String(32), nullable=False),
    sa.Column("status", sa.String(16), nullable=False, index=True),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False, index=True),
    sa.Column("started_at", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("request", sa.Text, nullable=False),
    sa.Column("error", sa.Text),
    sa.Column("reports", sa.Text),
)


def create_tables(engine: sa.Engine, attempts: int = 5) -> None:
    """Create missing tables. Several workers may start together: the DDL runs in one
    transaction, so a loser of the race ("already exists") retries and finds them in place."""
    for attempt in range(attempts):
        try:
            METADATA.create_all(engine)
            return
        except SQLAlchemyError as exc:
            racing = "already exists" in str(exc) or "duplicate" in str(exc).lower()
            if not racing or attempt == attempts - 1:
                raise
            time.sleep(0.05 * (attempt + 1))
