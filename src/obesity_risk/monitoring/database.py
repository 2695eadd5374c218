"""Database plumbing shared by the prediction log and the report jobs: engines with timeouts
and the configured durability, URLs safe to log, one time zone."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event
from sqlalchemy.exc import SQLAlchemyError

from obesity_risk.config.sections import StoreConfig
from obesity_risk.errors import StoreError


def as_utc(moment: datetime) -> datetime:
    """``moment`` in UTC, the time zone of the log; a naive time is taken as UTC."""
    return moment.astimezone(UTC) if moment.tzinfo else moment.replace(tzinfo=UTC)


def safe_url(url: str) -> str:
    """The URL with its password hidden."""
    try:
        return sa.engine.make_url(url).render_as_string(hide_password=True)
    except (SQLAlchemyError, ValueError):
        return url.rsplit("@", maxsplit=1)[-1]


def make_engine(url: str, cfg: StoreConfig) -> sa.Engine:
    """Engine with connect/statement timeouts and the configured SQLite durability."""
    try:
        backend = sa.engine.make_url(url).get_backend_name()
        if backend == "sqlite":
            engine = sa.create_engine(url, connect_args={"timeout": cfg.statement_timeout_s})
            database = engine.url.database
            if database and database != ":memory:":
                Path(database).expanduser().parent.mkdir(parents=True, exist_ok=True)

            def pragmas(dbapi_connection: Any, _record: Any) -> None:
                cursor = dbapi_connection.cursor()
                cursor.execute("PRAGMA journal_mode=WAL")  # readers never block the writer
                cursor.execute(f"PRAGMA synchronous={cfg.synchronous.upper()}")
                cursor.execute(f"PRAGMA busy_timeout={cfg.statement_timeout_s * 1000}")
                if cfg.checkpoint_s > 0:  # checkpoints run in their own thread (checkpoint.py)
                    cursor.execute("PRAGMA wal_autocheckpoint=0")
                cursor.close()

            event.listen(engine, "connect", pragmas)
            return engine
        connect_args: dict[str, Any] = {}
        if backend == "postgresql":
            connect_args = {
                "connect_timeout": cfg.connect_timeout_s,
                "options": f"-c statement_timeout={cfg.statement_timeout_s * 1000}",
            }
        return sa.create_engine(url, pool_pre_ping=True, connect_args=connect_args)
    except (SQLAlchemyError, OSError, ImportError, ValueError) as exc:
        raise StoreError(
            f"prediction store {safe_url(url)} is unusable: {exc}".splitlines()[0]
        ) from exc
