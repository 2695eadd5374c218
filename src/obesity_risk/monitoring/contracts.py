"""Typed monitoring contracts: what a report build, the rules and their actions produce.

:mod:`~obesity_risk.monitoring.reports` writes a :class:`ReportSummary` beside each HTML report
(``<stamp>-<kind>.json``); :mod:`~obesity_risk.monitoring.rules` turns it into one
:class:`RuleDecision` per rule and an :class:`ActionOutcome` (with an :class:`Alert` for the alert
file and the webhook); :func:`~obesity_risk.monitoring.service.run_reports` returns a
:class:`ReportRun`. The index, the Prometheus collector, the CLI, the API and the monitor read
these types, and read a report's JSON back with :meth:`ReportSummary.read`.
"""

from __future__ import annotations

from collections.abc import Iterator

from pydantic import ConfigDict, Field, RootModel

from obesity_risk.contract import Contract, ContractError

__all__ = [
    "ActionOutcome",
    "Alert",
    "BuiltReport",
    "ContractError",
    "ReportRun",
    "ReportSummary",
    "ReportWindow",
    "RetrainOutcome",
    "RuleDecision",
    "WebhookDelivery",
]

Number = int | float  # as Evidently gave it: an int stays an int in the JSON


def _none(value: object) -> bool:
    return value is None


class ReportWindow(Contract):
    """The current rows a report describes."""

    rows: int = Field(description="rows in the window")
    sampled: bool = Field(description="whether the window was sampled down to max_rows")
    from_: str | None = Field(
        None, alias="from", exclude_if=_none, description="first logged prediction (ISO UTC)"
    )
    to: str | None = Field(None, exclude_if=_none, description="last logged prediction (ISO UTC)")
    rows_used: int | None = Field(None, description="rows the report was computed on")


class RuleDecision(Contract):
    """One drift rule evaluated on one report."""

    metric: str = Field(description="dotted path into the report's JSON")
    threshold: float
    value: float | None = Field(description="the metric's value; None when the report has none")
    applicable: bool
    fired: bool


class WebhookDelivery(Contract):
    """What the webhook action did."""

    delivered: bool
    status: int | None = None
    error: str | None = None
    attempts: int | None = None


class RetrainOutcome(Contract):
    """What the retrain action did."""

    started: bool
    pid: int | None = None
    budget: str | None = None
    reason: str | None = Field(None, description="why retraining did not start")


class ActionOutcome(Contract):
    """The actions run because a rule fired (no field set: nothing fired)."""

    log: bool | None = None
    alert_file: str | None = None
    webhook: WebhookDelivery | None = None
    retrain: RetrainOutcome | None = None


class ReportSummary(Contract):
    """A report's key numbers, its window, the rule decisions and the actions they triggered."""

    kind: str
    created_at: str | None = None
    window: ReportWindow | None = None
    model_version: str | None = None
    model_source: str | None = None
    source: str | None = Field(None, description="where the current rows came from")
    accuracy: float | None = None
    reference_accuracy: float | None = None
    accuracy_drop: float | None = None
    rmse: float | None = None  # a regression's live RMSE, its validation RMSE and their ratio
    reference_rmse: float | None = None
    rmse_ratio: float | None = None
    labelled_rows: int | None = None
    metrics: dict[str, Number] = Field(
        default_factory=dict,
        description="Evidently's classification or regression numbers (performance)",
    )
    drifted_columns: Number | None = None
    drift_share: float | None = None
    column_drift: dict[str, Number] = Field(default_factory=dict)
    decisions: dict[str, RuleDecision] = Field(default_factory=dict)
    actions: ActionOutcome | None = None

    def fired(self) -> list[str]:
        """The rules that fired on this report."""
        return [name for name, decision in self.decisions.items() if decision.fired]


class Alert(Contract):
    """The alert file's content and the webhook's body."""

    fired: list[str]
    kind: str
    created_at: str | None
    model_version: str | None
    window: ReportWindow | None
    decisions: dict[str, RuleDecision]
    report: str | None = Field(description="the HTML report")


class BuiltReport(Contract):
    """One report of a run: its files, the rules that fired, its window."""

    kind: str
    html: str
    json_path: str = Field(alias="json")
    latest: str
    fired: list[str]
    window: ReportWindow


class ReportRun(RootModel[list[BuiltReport]]):
    """What one ``obesity-risk report`` or monitor tick built, in build order."""

    model_config = ConfigDict(frozen=True)

    def __iter__(self) -> Iterator[BuiltReport]:  # type: ignore[override]
        return iter(self.root)

    def __getitem__(self, item: int) -> BuiltReport:
        return self.root[item]

    def __len__(self) -> int:
        return len(self.root)

    @property
    def fired(self) -> list[str]:
        """Every rule that fired on any report of the run, sorted."""
        return sorted({name for report in self.root for name in report.fired})
