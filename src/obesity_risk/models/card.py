"""Typed contracts between stages: the champion's card and the training summary.

Training writes a :class:`ModelCard` (into the registry as the model version's ``card`` tag,
into ``models/champion/card.json`` and into the run's artifacts); the registry, the API, the
monitoring service and the reports read it back through :meth:`ModelCard.parse`. A renamed
field is a validation error, never a silent ``None``.

The card also carries the SHA-256 of the model file that loading deserializes: the loader
checks it before unpickling (:func:`verify_artifacts`). With a signing key configured, training
signs the card (HMAC-SHA256) and the loader refuses a card without a valid signature, so whoever
can write to the registry or the artifact store but does not hold the key cannot make the API
run a pickle of their choosing.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from obesity_risk.data import file_sha256
from obesity_risk.errors import ObesityRiskError

CARD_FILE = "card.json"
CARD_TAG = "card"


class IntegrityError(ObesityRiskError):
    """A model artifact or card does not match what training recorded; nothing was loaded."""


class _Frozen(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class CardMetrics(_Frozen):
    """Accuracy figures of the champion (``None`` where not measured)."""

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
    classes: list[str] = Field(default_factory=list)
    features: CardFeatures = CardFeatures()
    params: dict[str, Any] = Field(default_factory=dict)
    members: dict[str, float] = Field(
        default_factory=dict, description="ensemble: family -> blend weight"
    )
    class_weights: list[float] | None = None
    calibration: str | None = None  # the ensemble's calibration method, if one was kept
    slices: list[dict[str, Any]] = Field(default_factory=list, description="test split")
    importance: dict[str, float] = Field(
        default_factory=dict, description="mean |TreeSHAP contribution| per input column"
    )
    importance_space: str | None = None
    rows: dict[str, int] = Field(default_factory=dict)
    data: dict[str, str] = Field(default_factory=dict, description="data file -> sha256")
    artifacts: dict[str, str] = Field(
        default_factory=dict, description="model file deserialized at load -> sha256"
    )
    signature: str | None = Field(None, description="HMAC-SHA256 of the card (signing key)")

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
        return self.model_copy(update={"signature": None}).to_json().encode()

    def signed(self, key: str | None) -> ModelCard:
        """This card with its HMAC signature (unchanged when no key is configured)."""
        if not key:
            return self
        digest = hmac.new(key.encode(), self._payload(), hashlib.sha256).hexdigest()
        return self.model_copy(update={"signature": digest})

    def check_signature(self, key: str | None, source: str) -> None:
        """With a key: the signature must match (constant-time comparison).

        Raises:
            IntegrityError: unsigned, or signed with another key, or changed since.
        """
        if not key:
            return
        if not self.signature:
            raise IntegrityError(f"{source}: card is not signed and a signing key is configured")
        expected = hmac.new(key.encode(), self._payload(), hashlib.sha256).hexdigest()
        if not hmac.compare_digest(expected, self.signature):
            raise IntegrityError(f"{source}: card signature does not match the signing key")


# ---------------------------------------------------------------------------- artifacts
def pickled_file(model_dir: Path) -> str:
    """Name of the file ``mlflow.sklearn.load_model`` deserializes (read from ``MLmodel``)."""
    mlmodel = Path(model_dir) / "MLmodel"
    try:
        spec = yaml.safe_load(mlmodel.read_text(encoding="utf-8"))
        return str(spec["flavors"]["sklearn"]["pickled_model"])
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        raise IntegrityError(f"{mlmodel}: not an MLflow sklearn model ({exc})") from None


def artifact_digests(model_dir: Path) -> dict[str, str]:
    """``{pickled model file: sha256}`` of an MLflow sklearn model directory."""
    name = pickled_file(model_dir)
    return {name: file_sha256(Path(model_dir) / name)}


def verify_artifacts(model_dir: Path, card: ModelCard, signing_key: str | None = None) -> None:
    """Check the card's signature (if a key is set) and every recorded hash, before loading.

    Raises:
        IntegrityError: no hashes recorded, a file missing or changed, or a bad signature.
    """
    source = f"{card.name} v{card.version}" if card.version else str(model_dir)
    card.check_signature(signing_key, source)
    if not card.artifacts:
        raise IntegrityError(f"{source}: the card records no artifact hashes")
    name = pickled_file(model_dir)
    if name not in card.artifacts:
        raise IntegrityError(f"{source}: {name} is not among the card's verified files")
    for relative, expected in card.artifacts.items():
        path = Path(model_dir) / relative
        if not path.resolve().is_relative_to(Path(model_dir).resolve()):
            raise IntegrityError(f"{source}: artifact path {relative!r} leaves the model folder")
        try:
            actual = file_sha256(path)
        except OSError as exc:
            raise IntegrityError(f"{source}: cannot read {relative}: {exc}") from None
        if not hmac.compare_digest(actual, expected):
            raise IntegrityError(
                f"{source}: {relative} sha256 {actual[:12]}... differs from the card's"
                f" {expected[:12]}... (refusing to deserialize it)"
            )


# ---------------------------------------------------------------------------- training summary
class StudyFigures(_Frozen):
    """What one family's study found: best CV figures, trial counts, wall time (the study's
    own result and the summary's record of it share these)."""

    study_name: str
    run_id: str | None
    best_value: float
    best_params: dict[str, Any]
    cv_accuracy: float
    cv_f1_macro: float
    n_trials: int
    n_complete: int
    n_pruned: int
    n_failed: int
    wall_s: float


class StudySummary(StudyFigures):
    """One family's study in the summary: its figures plus validation and test figures."""

    val_accuracy: float
    val_f1_macro: float
    test_accuracy: float | None = None


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
