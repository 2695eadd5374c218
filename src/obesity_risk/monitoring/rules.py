"""Drift rules from YAML -> decisions -> actions (log, alert file, webhook, retrain)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from loguru import logger

from obesity_risk.config.sections import DriftRule, MonitoringConfig
from obesity_risk.monitoring.contracts import (
    ActionOutcome,
    Alert,
    ReportSummary,
    RetrainOutcome,
    RuleDecision,
    WebhookDelivery,
)

Retrain = Callable[[str], RetrainOutcome | Mapping[str, Any]]


def lookup(metrics: Mapping[str, Any], path: str) -> float | None:
    """Value at a dotted path of the report JSON, or None when the report has no such metric."""
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, Mapping) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) else None


def evaluate(
    rules: list[DriftRule], metrics: ReportSummary | Mapping[str, Any]
) -> dict[str, RuleDecision]:
    """One decision per rule: value, threshold, fired / not applicable. A rule's metric is a
    dotted path into the report's JSON."""
    document = metrics.to_json() if isinstance(metrics, ReportSummary) else metrics
    decisions = {}
    for rule in rules:
        value = lookup(document, rule.metric)
        decisions[rule.name] = RuleDecision(
            metric=rule.metric,
            threshold=rule.threshold,
            value=value,
            applicable=value is not None,
            fired=value is not None and value >= rule.threshold,
        )
    return decisions


def post_webhook(
    url: str, payload: Mapping[str, Any], timeout: float, retries: int
) -> WebhookDelivery:
    """POST ``payload``; retries with backoff; never raises (the outcome is returned)."""
    error = None
    for attempt in range(1, retries + 1):
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
            if response.status_code < 400:
                return WebhookDelivery(
                    delivered=True, status=response.status_code, attempts=attempt
                )
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt < retries:
            time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
    logger.error("webhook {} failed after {} attempts: {}", url, retries, error)
    return WebhookDelivery(delivered=False, error=error, attempts=retries)


def start_retraining(budget: str) -> RetrainOutcome:
    """Start ``obesity-risk train`` in the background; it registers a challenger (or champion)."""
    # detached on purpose: training outlives the report build; fixed argv, no shell
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "obesity_risk.cli", "train", "--budget", budget, "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return RetrainOutcome(started=True, pid=process.pid, budget=budget)


def act(
    config: MonitoringConfig,
    report: ReportSummary | Mapping[str, Any],
    decisions: Mapping[str, RuleDecision],
    alerts_dir: Path,
    retrain: Retrain = start_retraining,
    *,
    html: str | None = None,
) -> ActionOutcome:
    """Run the configured actions when any rule fired; return what each action did.

    ``html`` is the report's HTML file, named in the alert.
    """
    if not isinstance(report, ReportSummary):
        report = ReportSummary.model_validate(report)
    fired = [name for name, d in decisions.items() if d.fired]
    if not fired:
        return ActionOutcome()
    alert = Alert(
        fired=fired,
        kind=report.kind,
        created_at=report.created_at,
        model_version=report.model_version,
        window=report.window,
        decisions={name: decisions[name] for name in fired},
        report=html,
    )
    payload = alert.to_json()
    outcome: dict[str, Any] = {}
    if "log" in config.actions:
        logger.warning("drift rule(s) fired on {} report: {}", report.kind, fired)
        outcome["log"] = True
    if "alert_file" in config.actions:
        alerts_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = alerts_dir / f"{stamp}-{report.kind}.json"
        path.write_text(json.dumps(payload, indent=2))
        outcome["alert_file"] = str(path)
    if "webhook" in config.actions:
        if config.webhook_url:
            outcome["webhook"] = post_webhook(
                config.webhook_url, payload, config.webhook_timeout_s, config.webhook_retries
            )
        else:
            outcome["webhook"] = WebhookDelivery(
                delivered=False, error="monitoring.webhook_url is not set"
            )
    if "retrain" in config.actions:
        outcome["retrain"] = retrain(config.retrain_budget)
    return ActionOutcome.model_validate(outcome)
