"""The operational sections: paths, tracking (MLflow and model signing), logging,
monitoring, the prediction log, serving and the raw-data store."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import ConfigDict, Field, SecretStr, ValidationInfo, field_validator, model_validator

from obesity_risk import signing
from obesity_risk.config.base import Strict, no_placeholder


class PathsConfig(Strict):
    """Project directories; relative ones resolve from ``root``."""

    root: Path | None = None
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    logs_dir: Path = Path("logs")
    mlruns_dir: Path = Path("mlruns")


class TrackingConfig(Strict):
    """MLflow tracking and registry."""

    uri: str | None = None
    artifact_location: str | None = None
    # both filled in by Settings from data.train_file when not configured
    experiment: str = Field("", min_length=1)
    registered_model: str = Field("", min_length=1)
    champion_alias: str = "champion"
    challenger_alias: str = "challenger"
    log_trials: bool = True
    request_timeout_s: int = Field(10, ge=1)
    request_max_retries: int = Field(2, ge=0)
    # Ed25519 private key: training signs model cards (held by training alone)
    signing_key: SecretStr | None = None
    # Ed25519 public key: every consumer refuses cards it does not verify (cannot sign)
    verify_key: str | None = None

    @field_validator("signing_key")
    @classmethod
    def _private_key(cls, value: SecretStr | None) -> SecretStr | None:
        value = no_placeholder(value, "tracking.signing_key")
        if value is not None:
            signing.private_key(value.get_secret_value(), "tracking.signing_key")
        return value

    @field_validator("verify_key")
    @classmethod
    def _public_key(cls, value: str | None) -> str | None:
        if value is not None and value.strip():
            signing.public_key(value, "tracking.verify_key")
            return value.strip()
        return None

    @model_validator(mode="after")
    def _keys_are_a_pair(self) -> TrackingConfig:
        if self.signing_key is not None and self.verify_key is not None:
            derived = signing.private_key(self.signing_key.get_secret_value()).public_key()
            if signing.public_text(derived) != signing.public_text(
                signing.public_key(self.verify_key)
            ):
                raise ValueError("tracking.verify_key is not the public key of signing_key")
        return self


class LoggingConfig(Strict):
    """loguru sinks."""

    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    json_: bool = Field(False, alias="json")
    file: bool = True
    rotation: str = "10 MB"
    retention: int = 5

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DriftRule(Strict):
    """Fires when the report's ``metric`` (a dotted path in its JSON) reaches ``threshold``."""

    name: str
    metric: str
    threshold: float


class Retention(Strict):
    """What the monitor (and ``obesity-risk prune``) deletes; None keeps everything."""

    predictions_days: float | None = Field(90, gt=0)


class MonitoringConfig(Strict):
    """Drift monitoring: sampling, Evidently thresholds, rules and their actions."""

    max_rows: int = Field(20000, ge=100)
    column_drift_threshold: float = Field(0.1, gt=0, le=1)
    rules: list[DriftRule] = Field(default_factory=list)
    actions: list[Literal["log", "alert_file", "webhook", "retrain"]] = Field(["log", "alert_file"])
    webhook_url: str | None = None
    webhook_timeout_s: float = Field(5.0, gt=0)
    webhook_retries: int = Field(3, ge=1)
    retrain_budget: str = "default"
    max_concurrent_builds: int = Field(1, ge=1)  # across all API workers (jobs live in the DB)
    max_queued_builds: int = Field(4, ge=1)
    job_timeout_s: float = Field(1800, gt=0)  # a build running longer is reported failed
    keep_reports: int = Field(50, ge=1)  # report files kept per kind (older ones pruned)
    keep_jobs: int = Field(200, ge=1)  # finished report jobs kept in the database
    every: str = "1h"  # obesity-risk monitor: tick interval
    window: str = "24h"  # ... and the slice of the prediction log each tick reports on
    metrics_port: int | None = Field(None, ge=1, le=65535)  # monitor's /metrics (None: off)
    retention: Retention = Retention()


class StoreConfig(Strict):
    """Prediction log behaviour: durability, back-pressure, timeouts."""

    synchronous: Literal["normal", "full"] = "normal"  # SQLite: full = fsync on every commit
    queue_max: int = Field(2000, ge=1)  # requests waiting for a commit; more -> 503 Retry-After
    commit_timeout_s: float = Field(10.0, gt=0)  # a request waits this long for its commit
    connect_timeout_s: int = Field(5, ge=1)
    statement_timeout_s: int = Field(10, ge=1)
    retry_after_s: int = Field(2, ge=1)
    # SQLite: checkpoint the WAL every this many seconds in a thread of its own, never inside a
    # commit (0: SQLite's automatic checkpoints, which stall the commit that triggers them)
    checkpoint_s: float = Field(1.0, ge=0.0)


class BatchingConfig(Strict):
    """Micro-batching of concurrent ``POST /predict`` requests (per worker process)."""

    enabled: bool = False  # opt in: measured slower on this machine (docs/benchmarks.md)
    max_batch: int = Field(32, ge=1, le=255)  # records per shared model call
    max_wait_ms: float = Field(0.0, ge=0.0, le=50.0)  # extra wait for stragglers (2+ waiting)


class ServingConfig(Strict):
    """The FastAPI service."""

    host: str = "127.0.0.1"
    port: int = Field(8000, ge=1, le=65535)
    workers: int = Field(1, ge=1)
    worker_ready_timeout_s: int = Field(60, ge=1)
    max_batch: int = Field(10000, ge=1)
    explain_top: int = Field(5, ge=1, le=100)  # input columns per explanation (?explain=true)
    model_source: Literal["registry", "local"] = "registry"
    model_threads: int = Field(2, ge=1)
    prediction_store: str | None = None
    log_predictions: bool = True
    store: StoreConfig = StoreConfig()
    admin_token: SecretStr | None = None  # bearer token of the control routes (unset: 403)
    metrics_auth: bool = False  # GET /metrics needs the metrics token (or the admin token)
    metrics_token: SecretStr | None = None  # read-only: what a scraper holds, opens no control
    max_body_bytes: int = Field(65536, ge=1024)  # every route but /predict/batch
    load_retry_s: float = Field(10.0, gt=0)  # retry loading the model while not ready
    max_explain_batch: int = Field(100, ge=1)  # records per /predict/batch?explain=true
    header_timeout_s: float = Field(10.0, gt=0)  # request line + headers, from connect/first byte
    body_timeout_s: float = Field(30.0, gt=0)  # a request body, from its headers
    keep_alive_s: int = Field(5, ge=1)  # an idle keep-alive connection is closed after this
    max_connections: int = Field(256, ge=1)  # per worker; beyond: 503 (uvicorn limit_concurrency)
    batching: BatchingConfig = BatchingConfig()

    @field_validator("admin_token", "metrics_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        value = no_placeholder(value, f"serving.{info.field_name}")
        if value is not None and len(value.get_secret_value()) < 16:
            raise ValueError(f"serving.{info.field_name} must be at least 16 characters")
        return value

    @model_validator(mode="after")
    def _distinct_tokens(self) -> ServingConfig:
        if (
            self.metrics_token is not None
            and self.admin_token is not None
            and self.metrics_token.get_secret_value() == self.admin_token.get_secret_value()
        ):
            raise ValueError("serving.metrics_token must differ from serving.admin_token")
        return self


class DatastoreConfig(Strict):
    """Where ``obesity-risk data push|pull`` keeps raw-data versions."""

    bucket: str = "obesity-risk-data"
    prefix: str = "raw"
    endpoint_url: str | None = None
