"""Traffic simulator: real-looking requests against a running API, optionally drifted, with
ground truth posted later, so the metrics, dashboards, reports and rules can be watched moving.

``obesity-risk simulate --url URL --rate 20 --duration 5m --drift 'Weight*1.15,FAVC=yes:0.3'
--labels-after 10m`` samples records from the shipped data, sends them one per ``/predict``
request at a steady (or, with ``--bursty``, Poisson) rate, bounded in time and count, and then
posts the records' true classes to ``/feedback``.

Drift terms (comma-separated): ``Col*1.15`` multiplies a numeric column, ``Col+5`` adds to it,
``Col=value:0.3`` sets a categorical column to ``value`` in 30% of the records.
"""

from __future__ import annotations

import re
import time
from collections import Counter
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
from pydantic import BaseModel, Field
from tqdm import tqdm

from obesity_risk.config import DataSchema
from obesity_risk.data import load_dataset
from obesity_risk.errors import DataValidationError

_NUMERIC = re.compile(r"^\s*(?P<col>[\w.]+)\s*(?P<op>[*+])\s*(?P<value>-?\d+(?:\.\d+)?)\s*$")
_CATEGORY = re.compile(r"^\s*(?P<col>[\w.]+)\s*=\s*(?P<value>[^:]+?)\s*:\s*(?P<p>\d*\.?\d+)\s*$")
LABEL_CHUNK = 1000


class Plan(BaseModel):
    """What to send, how fast, for how long; and when to post the labels."""

    url: str
    rate: float = Field(gt=0)
    duration_s: float = Field(gt=0)
    max_requests: int | None = Field(None, ge=1)
    drift: str | None = None
    labels_after_s: float | None = Field(None, ge=0)
    bursty: bool = False
    token: str | None = None
    data: Path
    seed: int = 42


class DriftTerm(BaseModel):
    """One change applied to the sampled records."""

    column: str
    op: str  # "*", "+" or "="
    value: float | str
    share: float = Field(1.0, ge=0.0, le=1.0)


class SimulationSummary(BaseModel):
    """What a simulation sent and what came back."""

    sent: int
    ok: int
    statuses: dict[str, int]
    seconds: float
    rate: float
    p50_ms: float | None
    p99_ms: float | None
    labels_posted: int = 0
    label_error: str | None = None

    def line(self) -> str:
        """The one-line summary printed at the end."""
        failed = {k: v for k, v in self.statuses.items() if k != "200"}
        latency = (
            f"p50 {self.p50_ms:.1f} ms, p99 {self.p99_ms:.1f} ms"
            if self.p50_ms is not None and self.p99_ms is not None
            else "no latency"
        )
        labels = f"; {self.labels_posted} labels posted" if self.labels_posted else ""
        if self.label_error:
            labels = f"; labels NOT posted: {self.label_error}"
        return (
            f"sent {self.sent} requests in {self.seconds:.1f} s ({self.rate:.1f}/s): "
            f"{self.ok} ok, {sum(failed.values())} failed {failed or ''}; {latency}{labels}"
        )


def parse_drift(spec: str | None, schema: DataSchema) -> list[DriftTerm]:
    """``'Weight*1.15,FAVC=yes:0.3'`` -> terms, checked against the schema."""
    terms = []
    for part in filter(str.strip, (spec or "").split(",")):
        if match := _NUMERIC.match(part):
            column, op, value = match["col"], match["op"], float(match["value"])
            if column not in schema.numeric:
                raise DataValidationError(f"drift {part!r}: {column!r} is not a numeric column")
            terms.append(DriftTerm(column=column, op=op, value=value))
        elif match := _CATEGORY.match(part):
            column, value, share = match["col"], match["value"], float(match["p"])
            if column not in schema.categorical:
                raise DataValidationError(f"drift {part!r}: {column!r} is not a categorical column")
            if not 0 <= share <= 1:
                raise DataValidationError(f"drift {part!r}: the share must be within 0..1")
            terms.append(DriftTerm(column=column, op="=", value=value, share=share))
        else:
            raise DataValidationError(
                f"drift term {part!r} not understood: use Col*1.15, Col+5 or Col=value:0.3"
            )
    return terms


def apply_drift(frame: pd.DataFrame, terms: list[DriftTerm], seed: int) -> pd.DataFrame:
    """A drifted copy of ``frame``."""
    out = frame.copy()
    rng = np.random.default_rng(seed)
    for term in terms:
        if term.op == "*":
            out[term.column] = out[term.column] * float(term.value)
        elif term.op == "+":
            out[term.column] = out[term.column] + float(term.value)
        else:
            chosen = rng.random(len(out)) < term.share
            out[term.column] = out[term.column].astype(object).where(~chosen, term.value)
    return out


def json_records(frame: pd.DataFrame) -> list[dict]:
    """JSON-ready records (NumPy scalars as Python numbers)."""
    return [
        {k: (v.item() if isinstance(v, np.generic) else v) for k, v in row.items()}
        for row in frame.to_dict(orient="records")
    ]


class Simulator:
    """Sends the requests and, later, the labels."""

    def __init__(self, url: str, token: str | None = None, timeout: float = 10.0) -> None:
        headers = {"Authorization": f"Bearer {token}"} if token else {}
        self.client = httpx.Client(base_url=url.rstrip("/"), timeout=timeout, headers=headers)

    def close(self) -> None:
        """Close the connections."""
        self.client.close()

    def run(
        self,
        records: list[dict],
        truth: list[str] | None,
        rate: float,
        duration_s: float,
        *,
        bursty: bool = False,
        labels_after_s: float | None = None,
        seed: int = 42,
        progress: Callable[[int], None] | None = None,
    ) -> SimulationSummary:
        """Send ``records`` in order at ``rate``/s until ``duration_s`` or the last record; then
        (after ``labels_after_s`` from the start) post ``truth`` for every acknowledged one."""
        rng = np.random.default_rng(seed)
        start = time.monotonic()
        due, statuses, latencies, acknowledged = start, Counter(), [], []
        for i, record in enumerate(records):
            if due - start >= duration_s:
                break
            time.sleep(max(0.0, due - time.monotonic()))
            sent = time.perf_counter()
            try:
                response = self.client.post("/predict", json=record)
                statuses[str(response.status_code)] += 1
                if response.status_code == 200:
                    latencies.append(time.perf_counter() - sent)
                    acknowledged.append((response.json()["request_id"], i))
            except httpx.HTTPError as exc:
                statuses[type(exc).__name__] += 1
            if progress is not None:
                progress(1)
            due += rng.exponential(1 / rate) if bursty else 1 / rate
        seconds = time.monotonic() - start
        sent_count = sum(statuses.values())
        summary = SimulationSummary(
            sent=sent_count,
            ok=statuses["200"],
            statuses=dict(statuses),
            seconds=seconds,
            rate=sent_count / seconds if seconds else 0.0,
            p50_ms=float(np.percentile(latencies, 50) * 1000) if latencies else None,
            p99_ms=float(np.percentile(latencies, 99) * 1000) if latencies else None,
        )
        if truth is not None and labels_after_s is not None and acknowledged:
            time.sleep(max(0.0, start + labels_after_s - time.monotonic()))
            summary.labels_posted, summary.label_error = self.post_labels(acknowledged, truth)
        return summary

    def post_labels(
        self, acknowledged: list[tuple[str, int]], truth: list[str]
    ) -> tuple[int, str | None]:
        """Post the true class of each acknowledged request; (labels stored, error or None)."""
        stored = 0
        for begin in range(0, len(acknowledged), LABEL_CHUNK):
            chunk = acknowledged[begin : begin + LABEL_CHUNK]
            body = {"labels": [{"request_id": r, "label": truth[i]} for r, i in chunk]}
            try:
                response = self.client.post("/feedback", json=body)
            except httpx.HTTPError as exc:
                return stored, f"{type(exc).__name__}: {exc}"
            if response.status_code != 200:
                return stored, f"HTTP {response.status_code}: {response.text[:200]}"
            stored += int(response.json()["stored"])
        return stored, None


def simulate_traffic(schema: DataSchema, plan: Plan, progress: bool = True) -> SimulationSummary:
    """Sample records from ``plan.data``, drift them, send them, post their labels."""
    terms = parse_drift(plan.drift, schema)
    source = load_dataset(plan.data, schema, labelled=None)
    if plan.labels_after_s is not None and source.y is None:
        raise DataValidationError(f"labels requested but {plan.data} has no {schema.target!r}")
    count = plan.max_requests or max(1, int(plan.rate * plan.duration_s))
    picked = source.X.sample(count, replace=True, random_state=plan.seed)
    truth = source.y.loc[picked.index].astype(str).tolist() if source.y is not None else None
    simulator = Simulator(plan.url, plan.token)
    try:
        with tqdm(total=count, disable=not progress, unit="req") as shown:
            return simulator.run(
                json_records(apply_drift(picked, terms, plan.seed)),
                truth,
                plan.rate,
                plan.duration_s,
                bursty=plan.bursty,
                labels_after_s=plan.labels_after_s,
                seed=plan.seed,
                progress=shown.update,
            )
    finally:
        simulator.close()
