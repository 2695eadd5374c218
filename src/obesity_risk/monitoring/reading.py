"""Reading the prediction log: counts and windows as frames (for reports and tests)."""

from __future__ import annotations

from datetime import datetime

import orjson
import pandas as pd
import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError

from obesity_risk.errors import StoreError
from obesity_risk.monitoring.database import as_utc, safe_url
from obesity_risk.monitoring.tables import FEEDBACK, PREDICTIONS, create_tables


class LogReader:
    """The read side of :class:`~obesity_risk.monitoring.store.PredictionStore`."""

    url: str
    engine: sa.Engine
    _schema_ready: bool

    def _ensure_schema(self) -> None:
        """Create the tables on first use (the writer, a probe or a reader, whichever first)."""
        if not self._schema_ready:
            create_tables(self.engine)
            self._schema_ready = True

    def _reading(self) -> None:
        try:
            self._ensure_schema()
        except SQLAlchemyError as exc:
            raise StoreError(
                f"prediction store {safe_url(self.url)} is unusable: {exc}".splitlines()[0]
            ) from exc

    def count(self) -> int:
        """Number of logged predictions."""
        self._reading()
        with self.engine.connect() as conn:
            return int(
                conn.execute(sa.select(sa.func.count()).select_from(PREDICTIONS)).scalar_one()
            )

    def read(self, last: int | None = None, since: datetime | None = None) -> pd.DataFrame:
        """Logged predictions as a frame: input columns, ``prediction``, metadata columns, and
        ``actual`` (ground truth posted later, missing where none was)."""
        self._reading()
        query = sa.select(PREDICTIONS).order_by(PREDICTIONS.c.id.desc())
        if since is not None:
            query = query.where(PREDICTIONS.c.created_at >= as_utc(since))
        if last is not None:
            query = query.limit(last)
        with self.engine.connect() as conn:
            rows = list(reversed(conn.execute(query).mappings().all()))
        if not rows:
            return pd.DataFrame()
        inputs = pd.DataFrame([orjson.loads(r["inputs"]) for r in rows])
        meta = pd.DataFrame(
            {
                "request_id": [r["request_id"] for r in rows],
                "created_at": [r["created_at"] for r in rows],
                "model_version": [r["model_version"] for r in rows],
                "prediction": [r["label"] for r in rows],
            }
        )
        frame = pd.concat([inputs, meta], axis=1)
        return self._with_feedback(frame, [r["id"] for r in rows])

    def _with_feedback(self, frame: pd.DataFrame, ids: list[int]) -> pd.DataFrame:
        """Add ``actual`` (the ground-truth label posted later, else missing) to the rows."""
        order = pd.Series(ids, index=frame.index)
        frame["position"] = order.groupby(frame["request_id"]).rank(method="first").astype(int) - 1
        requests = frame["request_id"].unique().tolist()
        found = []
        with self.engine.connect() as conn:
            for start in range(0, len(requests), 500):  # bounded IN lists
                chunk = requests[start : start + 500]
                found += conn.execute(
                    sa.select(FEEDBACK.c.request_id, FEEDBACK.c.position, FEEDBACK.c.label).where(
                        FEEDBACK.c.request_id.in_(chunk)
                    )
                ).all()
        truth = pd.DataFrame(found, columns=["request_id", "position", "actual"])
        return frame.merge(truth, on=["request_id", "position"], how="left")
