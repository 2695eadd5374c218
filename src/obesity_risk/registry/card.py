"""Typed contracts between stages: the champion's card and the training summary.

Training writes a :class:`ModelCard` (into the registry as the model version's ``card`` tag,
into ``models/champion/card.json`` and into the run's artifacts); the registry, the API, the
monitoring service and the reports read it back through :meth:`ModelCard.parse`. A renamed
field is a validation error, never a silent ``None``.

The card carries the SHA-256 of every file of the exported model (a manifest, checked before
MLflow reads the folder: :mod:`obesity_risk.registry.integrity`) and of the monitoring reference.
With a signing key configured, training signs the card with Ed25519; consumers hold only the
public key, refuse a card without a valid signature, and cannot sign one themselves. Whoever can
write to the registry, the artifact store or ``models/`` but does not hold the private key
cannot make a consumer run code of their choosing.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from obesity_risk import signing
from obesity_risk.errors import ObesityRiskError

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

CARD_FILE = "card.json"
CARD_TAG = "card"


class IntegrityError(ObesityRiskError):
    """A model artifact or card does not match what training recorded; nothing was loaded."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CardMetrics(_Frozen):
    """The champion's figures (``None`` where not measured)."""

    cv_accuracy: float | None = None
    cv_f1_macro: float | None = None
    val_accuracy: float | None = None
    val_f1_macro: float | None = None
    test_accuracy: float | None = None  # the untouched split: reported, never selected on
    test_f1_macro: float | None = None
    test_log_loss: float | None = None
    test_ece: float | None = None  # top-label expected calibration error
    external_accuracy: float | None = None
    external_f1_macro: float | None = None
    # models.metric, what the champion was selected on, and its figures (binary: ROC AUC too)
    metric: str = "accuracy"
    cv_score: float | None = None
    val_score: float | None = None
    test_score: float | None = None
    test_balanced_accuracy: float | None = None
    test_roc_auc: float | None = None
    test_pr_auc: float | None = None
    test_brier: float | None = None
    val_rmse: float | None = None  # regression: monitoring's reference for the live RMSE
    test_rmse: float | None = None  # regression: these five (the untouched test split)
    test_mae: float | None = None
    test_r2: float | None = None
    test_coverage: float | None = None  # share of test rows inside the prediction interval
    test_interval_width: float | None = None


class CardInterval(_Frozen):
    """A regression's prediction interval: ``prediction ± half_width`` at ``coverage``,
    calibrated (split conformal) on ``rows`` held-out validation rows."""

    coverage: float = Field(gt=0.0, lt=1.0)
    half_width: float = Field(ge=0.0)
    rows: int = Field(ge=1)
    method: str = ""


class CardFeatures(_Frozen):
    """The model's input columns after feature selection, by encoding."""

    numeric: list[str] = Field(default_factory=list)
    ordinal: list[str] = Field(default_factory=list)
    nominal: list[str] = Field(default_factory=list)


class ModelCard(_Frozen):
    """What the champion is, how good it was, what it was trained on, what its files hash to."""

    card_version: Literal[1] = 1
    name: str
    family: str
    version: str | None = None
    run_id: str | None = None
    budget: str | None = None
    trained_at: str | None = None
    package_version: str | None = None
    metrics: CardMetrics = CardMetrics()
    task: Literal["multiclass", "binary", "regression"] = "multiclass"
    classes: list[str] = Field(default_factory=list)  # empty: a regression
    interval: CardInterval | None = None  # regression: the served prediction interval
    residuals: list[dict[str, float]] = Field(
        default_factory=list,
        description="regression, test split: residual quantiles per band of predicted value",
    )
    features: CardFeatures = CardFeatures()
    params: dict[str, Any] = Field(default_factory=dict)
    members: dict[str, float] = Field(
        default_factory=dict, description="ensemble: family -> blend weight"
    )
    class_weights: list[float] | None = None
    calibration: str | None = None  # the ensemble's calibration method, if one was kept
    # binary: the positive class (classes[1]) is predicted at probability >= threshold
    threshold: float | None = Field(None, gt=0.0, lt=1.0)
    calibration_curve: list[dict[str, float]] = Field(
        default_factory=list,
        description="binary, test split: mean predicted vs observed rate of the positive class",
    )
    slices: list[dict[str, Any]] = Field(default_factory=list, description="test split")
    importance: dict[str, float] = Field(
        default_factory=dict, description="mean |TreeSHAP contribution| per input column"
    )
    importance_space: str | None = None
    rows: dict[str, int] = Field(default_factory=dict)
    description: str = ""  # the dataset's prose (data.description, .intended_use, .limitations)
    intended_use: str = ""
    limitations: list[str] = Field(default_factory=list)
    data: dict[str, str] = Field(default_factory=dict, description="data file -> sha256")
    artifacts: dict[str, str] = Field(
        default_factory=dict, description="every file of the exported model -> sha256"
    )
    reference: str | None = Field(None, description="sha256 of the monitoring reference")
    signature: str | None = Field(None, description="Ed25519 signature of the card (base64)")

    # ------------------------------------------------------------------ (de)serialization
    def to_json(self) -> str:
        """Compact, key-sorted JSON (the registry tag and the signed payload)."""
        return json.dumps(self.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))

    @classmethod
    def parse(cls, text: str | bytes, source: str) -> ModelCard:
        """Validate a card read from ``source``.

        Raises:
            IntegrityError: not JSON, or not a card (the message names ``source`` and fields).
        """
        try:
            return cls.model_validate_json(text)
        except ValidationError as exc:
            fields = "; ".join(
                f"{'.'.join(map(str, e['loc'])) or '<card>'}: {e['msg']}" for e in exc.errors()
            )
            raise IntegrityError(f"{source}: not a valid model card ({fields})") from None

    @classmethod
    def read(cls, model_dir: Path) -> ModelCard:
        """The card stored beside an exported model."""
        path = Path(model_dir) / CARD_FILE
        try:
            return cls.parse(path.read_bytes(), str(path))
        except FileNotFoundError:
            raise IntegrityError(f"{path}: missing (the model cannot be verified)") from None

    # ------------------------------------------------------------------ signing
    def _payload(self) -> bytes:
        """What is signed: the card without its signature, fields at their default left out
        (a field added later with a default does not change the payload of older cards)."""
        unsigned = self.model_copy(update={"signature": None})
        data = unsigned.model_dump(mode="json", exclude_defaults=True)
        return json.dumps(data, sort_keys=True, separators=(",", ":")).encode()

    def signed(self, key: Ed25519PrivateKey | None) -> ModelCard:
        """This card with its Ed25519 signature (unchanged when no key is configured)."""
        if key is None:
            return self
        return self.model_copy(update={"signature": signing.sign(key, self._payload())})

    def check_signature(self, key: Ed25519PublicKey | None, source: str) -> None:
        """With a verify key: the signature must be that key's signature of this card.

        Raises:
            IntegrityError: unsigned, or signed with another key, or changed since.
        """
        if key is None:
            return
        if not self.signature:
            raise IntegrityError(f"{source}: card is not signed and a verify key is configured")
        if not signing.verifies(key, self._payload(), self.signature):
            raise IntegrityError(f"{source}: card signature does not match the verify key")


# ---------------------------------------------------------------------------- training summary
class StudyFigures(_Frozen):
    """What one family's study found: best CV figures, trial counts, wall time (the study's
    own result and the summary's record of it share these)."""

    study_name: str
    run_id: str | None
    best_value: float
    best_params: dict[str, Any]
    cv_accuracy: float  # NaN for a regression (best_value is its models.metric)
    cv_f1_macro: float
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    wall_s: float


class StudySummary(StudyFigures):
    """One family's study in the summary: its figures plus validation and test figures."""

    val_accuracy: float | None = None  # classification
    val_f1_macro: float | None = None
    test_accuracy: float | None = None
    metric: str = "accuracy"  # models.metric, of the next two figures
    val_score: float | None = None
    test_score: float | None = None


class ChampionSummary(_Frozen):
    """The trained champion: its card plus registration outcome and where it went."""

    card: ModelCard
    alias: str
    promoted: bool
    reason: str = ""
    previous_champion_val_accuracy: float | None = None
    model_uri: str
    alias_uri: str
    logged_model_uri: str
    session_run_id: str
    export: str | None = None


class TrainingSummary(_Frozen):
    """``reports/training/summary.json``: what one ``obesity-risk train`` run did."""

    budget: str
    run_id: str
    experiment_id: str
    tracking_uri: str
    package_version: str
    seed: int
    rows: dict[str, int]
    features: dict[str, list[str] | None]
    champion: ChampionSummary
    studies: dict[str, StudySummary]
    ensemble: dict[str, Any] | None = None  # the blend fitted on out-of-fold predictions
    steps: dict[str, dict[str, float | None]] = Field(
        default_factory=dict, description="OOF and test accuracy after each step"
    )
    skipped_families: dict[str, str] = Field(default_factory=dict)
    wall_s: float
