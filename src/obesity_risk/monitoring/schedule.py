"""Unattended monitoring: report ticks on a fixed interval, and retention of old data.

``obesity-risk monitor --every 1h --window 24h`` runs a tick, then one every ``every``: each
tick builds the configured reports over the last ``window`` of the prediction log, evaluates
the rules, runs their actions (:func:`~obesity_risk.monitoring.service.run_reports`) and
prunes per ``monitoring.retention``. Each tick appends one JSON status line to
``reports/monitoring/status.jsonl`` (and logs it). A tick over a window without predictions is
skipped (``ok``, with the reason in ``skipped``); a failing tick (no model, database down...) is
recorded and the next tick runs as scheduled. The schedule does not drift:
tick *n* starts at ``start + n * every``; a tick that overruns skips the slots it missed.
"""

from __future__ import annotations

import re
import threading
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import sqlalchemy as sa
from loguru import logger
from pydantic import BaseModel, Field

from obesity_risk.config import Settings
from obesity_risk.errors import ConfigError
from obesity_risk.monitoring import reports
from obesity_risk.monitoring.contracts import ReportRun
from obesity_risk.monitoring.database import make_engine
from obesity_risk.monitoring.tables import IDEMPOTENCY_KEYS, PREDICTIONS, create_tables

_UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400}
DELETE_BATCH = 5000  # rows per delete transaction: concurrent writers wait at most one batch


def parse_duration(text: str) -> timedelta:
    """``90s``, ``15m``, ``1h``, ``7d`` (or a bare number of seconds) as a timedelta."""
    match = re.fullmatch(r"\s*(\d+(?:\.\d+)?)\s*([smhd]?)\s*", str(text))
    if not match or float(match.group(1)) <= 0:
        raise ConfigError(f"not a positive duration: {text!r} (use e.g. 90s, 15m, 1h, 7d)")
    return timedelta(seconds=float(match.group(1)) * _UNITS[match.group(2) or "s"])


class TickStatus(BaseModel):
    """One line of ``status.jsonl``."""

    started_at: str
    window_start: str
    ok: bool
    duration_s: float
    skipped: str | None = None  # why no report was built (no predictions in the window)
    fired: list[str] = Field(default_factory=list)
    reports: list[str] = Field(default_factory=list)
    pruned_predictions: int = 0
    pruned_reports: int = 0
    error: str | None = None


def prune_predictions(settings: Settings, older_than: timedelta) -> int:
    """Delete logged predictions (and idempotency keys) older than ``older_than``, in short
    batches (concurrent API writes wait for one batch at most); return the predictions deleted."""
    engine = make_engine(settings.prediction_store_url, settings.serving.store)
    cutoff = datetime.now(UTC) - older_than
    deleted = 0
    try:
        create_tables(engine)
        while True:
            with engine.begin() as conn:
                ids = (
                    sa.select(PREDICTIONS.c.id)
                    .where(PREDICTIONS.c.created_at < cutoff)
                    .limit(DELETE_BATCH)
                    .scalar_subquery()
                )
                count = conn.execute(sa.delete(PREDICTIONS).where(PREDICTIONS.c.id.in_(ids)))
            deleted += count.rowcount or 0
            if (count.rowcount or 0) < DELETE_BATCH:
                break
        with engine.begin() as conn:  # keys (and stored responses) of requests older than any retry
            keys = IDEMPOTENCY_KEYS
            conn.execute(sa.delete(keys).where(keys.c.created_at < cutoff))
        return deleted
    finally:
        engine.dispose()


def tick(
    settings: Settings,
    window: timedelta,
    run: Callable[..., ReportRun] | None = None,
) -> TickStatus:
    """One monitoring tick; never raises (a failure is the status's ``error``)."""
    from obesity_risk.monitoring.service import EmptyWindowError, Window, run_reports

    run = run or run_reports
    started, clock = datetime.now(UTC), time.perf_counter()
    status: dict[str, Any] = {
        "started_at": started.isoformat(timespec="seconds"),
        "window_start": (started - window).isoformat(timespec="seconds"),
    }
    try:
        results = run(settings, None, Window(since=started - window))
        status |= {
            "ok": True,
            "fired": results.fired,
            "reports": [r.html for r in results],
        }
    except EmptyWindowError as exc:
        status |= {"ok": True, "skipped": str(exc)}
    except Exception as exc:  # pylint: disable=broad-exception-caught
        status |= {"ok": False, "error": f"{type(exc).__name__}: {exc}".splitlines()[0][:500]}
    retention = settings.monitoring.retention
    try:
        if retention.predictions_days is not None:
            status["pruned_predictions"] = prune_predictions(
                settings, timedelta(days=retention.predictions_days)
            )
        out_dir = settings.reports_dir / "monitoring"
        status["pruned_reports"] = len(
            reports.prune_reports(out_dir, settings.monitoring.keep_reports)
        )
    except Exception as exc:  # pylint: disable=broad-exception-caught
        problem = f"retention: {exc}".splitlines()[0][:500]
        earlier = status.get("error")
        status |= {"ok": False, "error": f"{earlier}; {problem}" if earlier else problem}
    result = TickStatus(duration_s=time.perf_counter() - clock, **status)
    try:
        record(settings, result)
    except OSError as exc:  # a full disk must not stop the schedule
        logger.error("monitor tick status not recorded: {}", exc)
    return result


def record(settings: Settings, status: TickStatus) -> None:
    """Append the status line to ``status.jsonl`` and log it."""
    path = settings.reports_dir / "monitoring" / "status.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    line = orjson.dumps(status.model_dump()).decode()
    with path.open("a", encoding="utf-8") as handle:
        handle.write(line + "\n")
    if status.skipped:
        logger.info("monitor tick skipped ({}): {}", status.skipped, line)
    else:
        (logger.info if status.ok else logger.error)("monitor tick: {}", line)


def run_every(
    settings: Settings,
    every: timedelta,
    window: timedelta,
    stop: threading.Event | None = None,
    max_ticks: int | None = None,
    on_tick: Callable[[TickStatus], None] | None = None,
) -> list[TickStatus]:
    """Tick now and every ``every`` until ``stop`` is set (or ``max_ticks`` ran); each tick's
    status goes to ``on_tick`` (metrics)."""
    stop = stop or threading.Event()
    start = time.monotonic()
    done: list[TickStatus] = []
    slot = 0
    while not stop.is_set():
        done.append(tick(settings, window))
        if on_tick is not None:
            on_tick(done[-1])
        if max_ticks is not None and len(done) >= max_ticks:
            break
        slot = max(slot + 1, int((time.monotonic() - start) / every.total_seconds()) + 1)
        stop.wait(max(0.0, start + slot * every.total_seconds() - time.monotonic()))
    return done
