"""Drift rules from YAML -> decisions -> actions (log, alert file, webhook, retrain)."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from loguru import logger

from obesity_risk.config.sections import DriftRule, MonitoringConfig


def lookup(metrics: dict[str, Any], path: str) -> float | None:
    """Value at a dotted path of the report JSON, or None when the report has no such metric."""
    node: Any = metrics
    for part in path.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return float(node) if isinstance(node, int | float) else None


def evaluate(rules: list[DriftRule], metrics: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """One decision per rule: value, threshold, fired / not applicable."""
    decisions = {}
    for rule in rules:
        value = lookup(metrics, rule.metric)
        decisions[rule.name] = {
            "metric": rule.metric,
            "threshold": rule.threshold,
            "value": value,
            "applicable": value is not None,
            "fired": value is not None and value >= rule.threshold,
        }
    return decisions


def post_webhook(url: str, payload: dict[str, Any], timeout: float, retries: int) -> dict[str, Any]:
    """POST ``payload``; retries with backoff; never raises (the outcome is returned)."""
    error = None
    for attempt in range(1, retries + 1):
        try:
            response = httpx.post(url, json=payload, timeout=timeout)
            if response.status_code < 400:
                return {"delivered": True, "status": response.status_code, "attempts": attempt}
            error = f"HTTP {response.status_code}"
        except httpx.HTTPError as exc:
            error = f"{type(exc).__name__}: {exc}"
        if attempt < retries:
            time.sleep(min(0.2 * 2 ** (attempt - 1), 2.0))
    logger.error("webhook {} failed after {} attempts: {}", url, retries, error)
    return {"delivered": False, "error": error, "attempts": retries}


def start_retraining(budget: str) -> dict[str, Any]:
    """Start ``obesity-risk train`` in the background; it registers a challenger (or champion)."""
    # detached on purpose: training outlives the report build; fixed argv, no shell
    process = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, "-m", "obesity_risk.cli", "train", "--budget", budget, "--no-progress"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    return {"started": True, "pid": process.pid, "budget": budget}


def act(
    config: MonitoringConfig,
    report: dict[str, Any],
    decisions: dict[str, dict[str, Any]],
    alerts_dir: Path,
    retrain: Callable[[str], dict[str, Any]] = start_retraining,
) -> dict[str, Any]:
    """Run the configured actions when any rule fired; return what each action did."""
    fired = [name for name, d in decisions.items() if d["fired"]]
    if not fired:
        return {}
    payload = {
        "fired": fired,
        "kind": report.get("kind"),
        "created_at": report.get("created_at"),
        "model_version": report.get("model_version"),
        "window": report.get("window"),
        "decisions": {name: decisions[name] for name in fired},
        "report": report.get("html"),
    }
    outcome: dict[str, Any] = {}
    if "log" in config.actions:
        logger.warning("drift rule(s) fired on {} report: {}", report.get("kind"), fired)
        outcome["log"] = True
    if "alert_file" in config.actions:
        alerts_dir.mkdir(parents=True, exist_ok=True)
        stamp = datetime.now(UTC).strftime("%Y%m%dT%H%M%S%fZ")
        path = alerts_dir / f"{stamp}-{report.get('kind')}.json"
        path.write_text(json.dumps(payload, indent=2, default=str))
        outcome["alert_file"] = str(path)
    if "webhook" in config.actions:
        if config.webhook_url:
            outcome["webhook"] = post_webhook(
                config.webhook_url, payload, config.webhook_timeout_s, config.webhook_retries
            )
        else:
            outcome["webhook"] = {"delivered": False, "error": "monitoring.webhook_url is not set"}
    if "retrain" in config.actions:
        outcome["retrain"] = retrain(config.retrain_budget)
    return outcome
