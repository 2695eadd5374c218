"""The MLflow registry client and verified loading: every load checks every file of the model
against its card (and the card's Ed25519 signature when a verify key is set) and unpickles only a
private copy of the verified bytes (:mod:`obesity_risk.registry.integrity`)."""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import io
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlparse

import mlflow
import mlflow.sklearn
import pandas as pd
from loguru import logger
from mlflow.exceptions import MlflowException

from obesity_risk import signing
from obesity_risk.config import Settings
from obesity_risk.errors import ModelNotFoundError, ObesityRiskError, TrackingError
from obesity_risk.registry.card import CARD_TAG, IntegrityError, ModelCard
from obesity_risk.registry.compat import load_pickle
from obesity_risk.registry.integrity import manifest, verified_copy

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import (
        Ed25519PrivateKey,
        Ed25519PublicKey,
    )

EXPORT_NAME = "champion"
REFERENCE_FILE = "reference.parquet"


class ArtifactStoreError(ObesityRiskError):
    """The registry answered but the model's files could not be fetched."""


class ModelLoadError(ObesityRiskError):
    """The model's files were verified but could not be deserialized (missing module...)."""


@dataclass(frozen=True)
class LoadedModel:
    """A fitted pipeline, its card, and where it came from."""

    pipeline: Any
    source: str
    card: ModelCard
    loaded_from: str | None = None

    @property
    def version(self) -> str | None:
        """Registry version (None for an unversioned export)."""
        return self.card.version


def redact(uri: str) -> str:
    """The URI with any password masked (safe to log)."""
    parsed = urlparse(uri)
    if parsed.password:
        return uri.replace(f":{parsed.password}@", ":***@")
    return uri


def first_line(exc: BaseException) -> str:
    """The first line of an exception's message (at most 300 characters), for one-line errors."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0][:300]


def bound_mlflow_retries(settings: Settings) -> None:
    """For entry points only (the CLI, the service factory; never library functions): bound
    MLflow's HTTP retries, which MLflow reads from the environment at call time (its defaults
    retry a dead server for minutes). Values the user exported are kept."""
    cfg = settings.tracking
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_MAX_RETRIES", str(cfg.request_max_retries))
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "1")
    os.environ.setdefault("MLFLOW_HTTP_REQUEST_TIMEOUT", str(cfg.request_timeout_s))


def signing_key(settings: Settings) -> Ed25519PrivateKey | None:
    """Training's card signing key (None: cards are not signed)."""
    key = settings.tracking.signing_key
    return signing.private_key(key.get_secret_value()) if key is not None else None


def verify_key(settings: Settings) -> Ed25519PublicKey | None:
    """The key every load checks cards with: ``tracking.verify_key``, else the public half of
    the signing key (a training machine); None: integrity hashes only."""
    if settings.tracking.verify_key:
        return signing.public_key(settings.tracking.verify_key)
    private = signing_key(settings)
    return private.public_key() if private is not None else None


def deserialize(model_dir: Path, card: ModelCard, settings: Settings) -> Any:
    """Verify every file of ``model_dir`` against ``card``, then unpickle a private copy of the
    verified bytes (a file changed after the check is never read).

    Raises:
        IntegrityError: a file added, missing or changed, a bad signature, or an ``MLmodel``
            that would run code (nothing was imported or unpickled).
        ModelLoadError: the verified file cannot be loaded (a missing module, say).
    """
    with tempfile.TemporaryDirectory(prefix="obesity-risk-verified-") as tmp:
        pickled = verified_copy(Path(model_dir), card, Path(tmp) / "model", verify_key(settings))
        try:
            return load_pickle(pickled)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # unpickling can raise anything (ImportError, AttributeError, EOFError, ...)
            raise ModelLoadError(
                f"{model_dir}: cannot load the model: {type(exc).__name__}: {first_line(exc)}"
            ) from exc


class Registry:
    """The MLflow registry of one configuration (explicit URI, bounded retries)."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings
        self.uri = settings.tracking_uri
        self.name = settings.tracking.registered_model
        try:
            self.client = mlflow.MlflowClient(self.uri, self.uri)
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # e.g. a store whose driver is not installed (a SQL store without alembic)
            raise self._error(exc) from exc

    def _error(self, exc: BaseException) -> TrackingError:
        return TrackingError(f"registry {redact(self.uri)}: {first_line(exc)}")

    def version_for(self, alias: str) -> Any:
        """The model version behind ``alias``.

        Raises:
            ModelNotFoundError: no such alias; TrackingError: the registry cannot be used.
        """
        try:
            return self.client.get_model_version_by_alias(self.name, alias)
        except MlflowException as exc:
            if exc.error_code in {
                "RESOURCE_DOES_NOT_EXIST",
                "INVALID_PARAMETER_VALUE",
                "NOT_FOUND",
            }:
                raise ModelNotFoundError(
                    f"no model {self.name}@{alias} in {redact(self.uri)}"
                ) from exc
            raise self._error(exc) from exc
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # requests/SQLAlchemy/OS errors of an unreachable store
            raise self._error(exc) from exc

    def card_for(self, model_version: Any) -> ModelCard:
        """The card registered with ``model_version`` (its ``card`` tag)."""
        source = f"{self.name} v{model_version.version}"
        text = (model_version.tags or {}).get(CARD_TAG)
        if not text:
            raise IntegrityError(f"{source}: no model card registered (train it again)")
        card = ModelCard.parse(text, source)
        if card.version != str(model_version.version) or card.run_id != model_version.run_id:
            raise IntegrityError(f"{source}: the card belongs to another model version")
        return card

    def load(self, alias: str | None = None) -> LoadedModel:
        """Load the verified pipeline registered under ``alias`` (default: champion).

        The local export is used instead of a download when it holds this very version.
        """
        alias = alias or self.settings.tracking.champion_alias
        model_version = self.version_for(alias)
        card = self.card_for(model_version)
        source = f"models:/{self.name}@{alias}"
        export = self.settings.models_dir / EXPORT_NAME
        with contextlib.suppress(IntegrityError):
            local = ModelCard.read(export)  # this very version, verified in full by deserialize
            if (local.version, local.run_id) == (card.version, card.run_id):
                pipeline = deserialize(export, local, self.settings)
                return LoadedModel(pipeline, source, local, loaded_from=str(export))
        uri = f"models:/{self.name}/{model_version.version}"
        with tempfile.TemporaryDirectory(prefix="obesity-risk-model-") as tmp:
            try:
                location = self.client.get_model_version_download_uri(
                    self.name, model_version.version
                )
                local = mlflow.artifacts.download_artifacts(
                    artifact_uri=location, dst_path=tmp, tracking_uri=self.uri
                )
            except Exception as exc:  # pylint: disable=broad-exception-caught
                # botocore, requests, OS errors: the artifact store is down or the files gone
                raise ArtifactStoreError(
                    f"artifact store for {uri}: {type(exc).__name__}: {first_line(exc)}"
                ) from exc
            pipeline = deserialize(Path(local), card, self.settings)
        return LoadedModel(pipeline, source, card, loaded_from=uri)

    def register(self, model_uri: str, card: ModelCard) -> str:
        """Register ``model_uri`` with its card: the manifest of its files (read back from the
        artifact store), the new version and run, signed when a key is configured; return the
        version."""
        with tempfile.TemporaryDirectory(prefix="obesity-risk-register-") as tmp:
            local = mlflow.artifacts.download_artifacts(
                artifact_uri=model_uri, dst_path=tmp, tracking_uri=self.uri
            )
            artifacts = manifest(Path(local))
        model_version = mlflow.register_model(model_uri, self.name)
        number = str(model_version.version)
        final = card.model_copy(
            update={"version": number, "run_id": model_version.run_id, "artifacts": artifacts}
        ).signed(signing_key(self.settings))
        self.client.set_model_version_tag(self.name, number, CARD_TAG, final.to_json())
        return number

    def set_alias(self, alias: str, model_version: str) -> None:
        """Point ``alias`` at ``model_version``."""
        self.client.set_registered_model_alias(self.name, alias, model_version)


def load_exported(settings: Settings) -> LoadedModel:
    """Load the verified ``models/champion`` (no tracking server needed)."""
    target = settings.models_dir / EXPORT_NAME
    if not (target / "MLmodel").is_file():
        raise ModelNotFoundError(f"no exported champion in {target} (run `obesity-risk train`)")
    card = ModelCard.read(target)
    return LoadedModel(deserialize(target, card, settings), str(target), card, str(target))


def load_reference(settings: Settings, model: LoadedModel) -> pd.DataFrame:
    """The monitoring reference stored with ``model`` (local export, else the model's run).

    Raises:
        ModelNotFoundError: the model has no stored reference.
    """
    if model.loaded_from and (Path(model.loaded_from) / REFERENCE_FILE).is_file():
        return _verified_reference(Path(model.loaded_from) / REFERENCE_FILE, model)
    if not model.card.run_id:
        raise ModelNotFoundError(f"model {model.source} has no monitoring reference")
    try:
        path = mlflow.artifacts.download_artifacts(
            run_id=model.card.run_id,
            artifact_path=f"reference/{REFERENCE_FILE}",
            tracking_uri=settings.tracking_uri,
        )
    except Exception as exc:  # pylint: disable=broad-exception-caught
        raise ModelNotFoundError(
            f"model {model.source} has no monitoring reference: {first_line(exc)}"
        ) from exc
    return _verified_reference(Path(path), model)


def _verified_reference(path: Path, model: LoadedModel) -> pd.DataFrame:
    """The reference at ``path``, read only when it hashes to what the card records (the
    export's manifest, else the card's ``reference``)."""
    expected = model.card.artifacts.get(REFERENCE_FILE, model.card.reference)
    if expected is None:
        raise IntegrityError(f"model {model.source}: the card records no reference hash")
    data = path.read_bytes()
    if not hmac.compare_digest(hashlib.sha256(data).hexdigest(), expected):
        raise IntegrityError(f"model {model.source}: {path.name} differs from the card's hash")
    return pd.read_parquet(io.BytesIO(data))


LOAD_FAILURES = (
    TrackingError,
    ModelNotFoundError,
    ArtifactStoreError,
    IntegrityError,
    ModelLoadError,
)


def _existing_registry(settings: Settings) -> Registry:
    """The registry to read from; a SQLite one only when its database exists: a reader never
    creates a registry (MLflow would, or retry for minutes on a read-only filesystem), so an
    image without one goes straight to its export."""
    uri = settings.tracking_uri
    database = uri.removeprefix("sqlite:///") if uri.startswith("sqlite:///") else ""
    if database and not Path(database).is_file():
        raise ModelNotFoundError(f"no registry database at {database}")
    return Registry(settings)


def load_champion(settings: Settings) -> LoadedModel:
    """The champion every caller (API, CLI, batch workers, monitoring) serves: from the
    registry, falling back to the verified local export when the registry, its artifact store
    or the registered files fail (each reason logged); the export only with
    ``serving.model_source: local``.

    Raises:
        ModelNotFoundError: neither could be loaded; the message gives both reasons.
    """
    if settings.serving.model_source == "local":
        return load_exported(settings)
    try:
        return _existing_registry(settings).load()
    except LOAD_FAILURES as exc:
        logger.warning("registry champion unavailable ({}); trying the local export", exc)
        try:
            return load_exported(settings)
        except LOAD_FAILURES as local_exc:
            raise ModelNotFoundError(f"registry: {exc}; local export: {local_exc}") from local_exc
