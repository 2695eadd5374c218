"""Ground truth for logged predictions: labels arrive later (a clinician's diagnosis, a
follow-up survey) and turn the prediction log into labelled data for the performance report.

A label names a logged prediction by its request id and the record's position in that request.
A batch is all-or-nothing: an unknown class or a prediction not in the log rejects the whole
batch (with what was wrong), so nothing is stored half-way; posting a label again replaces it.
"""

from __future__ import annotations

from collections import Counter
from datetime import UTC, datetime

import sqlalchemy as sa
from pydantic import BaseModel, ConfigDict, Field

from obesity_risk.errors import DataValidationError
from obesity_risk.monitoring.tables import FEEDBACK, PREDICTIONS

MAX_LISTED = 5  # problems named in an error message


class GroundTruth(BaseModel):
    """The true class (a regression: value) of one logged prediction."""

    model_config = ConfigDict(extra="forbid")

    request_id: str = Field(min_length=1, max_length=64)
    position: int = Field(0, ge=0, description="the record's index in its request (0: /predict)")
    label: str | float = Field(min_length=1, max_length=128)

    @property
    def text(self) -> str:
        """The label as stored: a class name, or a value as exact text (``repr``)."""
        return self.label if isinstance(self.label, str) else repr(float(self.label))


class FeedbackNotFoundError(DataValidationError):
    """A label names a prediction the log does not have (HTTP 404)."""


def _listed(items: list[str]) -> str:
    more = f" and {len(items) - MAX_LISTED} more" if len(items) > MAX_LISTED else ""
    return ", ".join(items[:MAX_LISTED]) + more


def save_labels(engine: sa.Engine, labels: list[GroundTruth], classes: list[str]) -> int:
    """Store ``labels`` in one transaction; return how many (no ``classes``: a regression's
    values, checked by the caller's model).

    Raises:
        DataValidationError: a label is not one of ``classes``.
        FeedbackNotFoundError: a (request id, position) is not in the prediction log.
    """
    unknown = sorted({g.text for g in labels} - set(classes)) if classes else []
    if unknown:
        raise DataValidationError(
            f"unknown label(s) {_listed(unknown)}; the model's classes: {', '.join(classes)}"
        )
    requests = sorted({g.request_id for g in labels})
    with engine.begin() as conn:
        sizes = Counter(
            dict(
                conn.execute(
                    sa.select(PREDICTIONS.c.request_id, sa.func.count())
                    .where(PREDICTIONS.c.request_id.in_(requests))
                    .group_by(PREDICTIONS.c.request_id)
                ).all()
            )
        )
        missing = [
            f"{g.request_id}[{g.position}]" for g in labels if g.position >= sizes[g.request_id]
        ]
        if missing:
            raise FeedbackNotFoundError(f"no logged prediction for {_listed(missing)}")
        latest = {(g.request_id, g.position): g.text for g in labels}  # last one wins
        conn.execute(
            sa.delete(FEEDBACK).where(
                sa.tuple_(FEEDBACK.c.request_id, FEEDBACK.c.position).in_(list(latest))
            )
        )
        now = datetime.now(UTC)
        conn.execute(
            FEEDBACK.insert(),
            [
                {"request_id": r, "position": p, "label": label, "created_at": now}
                for (r, p), label in latest.items()
            ],
        )
    return len(latest)
