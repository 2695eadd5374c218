"""One validated settings object built from the packaged YAML files.

Precedence (lowest to highest): packaged defaults (``config/*.yaml``) < the file named by
``OBESITY_RISK_CONFIG`` < environment variables ``OBESITY_RISK__SECTION__KEY`` (and
``MLFLOW_TRACKING_URI`` for ``tracking.uri``) < keyword overrides passed to :func:`load_settings`.
"""

from __future__ import annotations

import os
from functools import cached_property
from pathlib import Path
from typing import Annotated, Any, Literal, get_args

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

from obesity_risk import signing
from obesity_risk.config.training import BatchConfig, EnsembleConfig, EvaluationConfig
from obesity_risk.errors import ConfigError
from obesity_risk.formulas import OPS

CONFIG_DIR = Path(__file__).resolve().parent
ENV_CONFIG = "OBESITY_RISK_CONFIG"
ENV_HOME = "OBESITY_RISK_HOME"
ENV_PREFIX = "OBESITY_RISK__"


class _Strict(BaseModel):
    """Base for config sections: unknown keys are errors, not silently ignored."""

    model_config = ConfigDict(extra="forbid", frozen=True)


# ----------------------------------------------------------------------------- data schema
class NumericColumn(_Strict):
    """A numeric feature with an optional valid range (inclusive)."""

    type: Literal["numeric"]
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _range_is_ordered(self) -> NumericColumn:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CategoricalColumn(_Strict):
    """A categorical feature with its allowed values (in order when ``ordered``)."""

    type: Literal["categorical"]
    categories: list[str] = Field(min_length=1)
    ordered: bool = False
    nullable: bool = False
    description: str = ""

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("categories must be unique")
        return value


ColumnSpec = Annotated[NumericColumn | CategoricalColumn, Field(discriminator="type")]


class DataSchema(_Strict):
    """Where the data is and what it must look like."""

    train_file: Path
    external_file: Path | None = None
    id_column: str | None = None
    target: str
    classes: list[str] = Field(min_length=2)
    validation_size: float = Field(0.15, gt=0.0, lt=0.9)  # promotion, gate, blend check
    test_size: float = Field(0.1, ge=0.0, lt=0.5)  # untouched: reported, never selected on
    # the external (original) file: none | validate (scored, optimistic: it is the source of
    # the synthetic rows) | augment (added to training folds only, repeated external_repeat x)
    external_usage: Literal["none", "validate", "augment"] = "validate"
    external_repeat: int = Field(1, ge=1, le=10)
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    example: dict[str, Any] | None = None  # one valid record: API docs and the form's defaults

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("classes must be unique")
        return value

    @model_validator(mode="after")
    def _splits_leave_training_rows(self) -> DataSchema:
        if self.test_size + self.validation_size >= 0.9:
            raise ValueError(
                f"test_size ({self.test_size}) + validation_size ({self.validation_size}) must"
                " leave at least 10% of the rows for training"
            )
        return self

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> DataSchema:
        if self.target in self.columns:
            raise ValueError(f"target {self.target!r} must not also be listed in columns")
        return self

    @property
    def numeric(self) -> list[str]:
        """Numeric feature names, in schema order."""
        return [n for n, c in self.columns.items() if isinstance(c, NumericColumn)]

    @property
    def categorical(self) -> list[str]:
        """Categorical feature names, in schema order."""
        return [n for n, c in self.columns.items() if isinstance(c, CategoricalColumn)]


# ----------------------------------------------------------------------------- features
class EngineeredFeature(_Strict):
    """One engineered column: ``name = op(inputs, params)``."""

    name: str
    op: str
    inputs: dict[str, str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class FeatureConfig(_Strict):
    """Engineered features and per-type preprocessing."""

    engineered: list[EngineeredFeature] = Field(default_factory=list)
    selected: list[str] | None = None
    numeric_scaler: Literal["standard", "none"] = "standard"
    nominal_encoder: Literal["onehot", "ordinal"] = "onehot"

    @field_validator("engineered")
    @classmethod
    def _known_ops(cls, value: list[EngineeredFeature]) -> list[EngineeredFeature]:
        names = [f.name for f in value]
        if len(set(names)) != len(names):
            raise ValueError("engineered feature names must be unique")
        for feat in value:
            if feat.op not in OPS:
                raise ValueError(f"{feat.name}: unknown op {feat.op!r}; known: {sorted(OPS)}")
            missing = set(OPS[feat.op].inputs) - set(feat.inputs)
            extra = set(feat.inputs) - set(OPS[feat.op].inputs)
            if missing or extra:
                raise ValueError(
                    f"{feat.name}: op {feat.op!r} takes inputs {list(OPS[feat.op].inputs)}"
                    f" (missing {sorted(missing)}, unexpected {sorted(extra)})"
                )
        return value


# ----------------------------------------------------------------------------- models
class ParamSpace(_Strict):
    """One hyper-parameter's search distribution (Optuna ``suggest_*``)."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _complete(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical parameter needs non-empty 'choices'")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError(f"{self.type} parameter needs low <= high")
        return self


class ModelFamily(_Strict):
    """An estimator class, its fixed parameters and its search space."""

    estimator: str
    fixed: dict[str, Any] = Field(default_factory=dict)
    seed_param: str | None = "random_state"
    threads_param: str | None = "n_jobs"
    space: dict[str, ParamSpace] = Field(default_factory=dict)
    warm_start: list[dict[str, Any]] = Field(default_factory=list)


class Budget(_Strict):
    """How much work one ``train`` run does."""

    families: list[str] = Field(min_length=1)
    n_trials: dict[str, int] = Field(default_factory=dict)
    timeout_s: dict[str, float] = Field(default_factory=dict)
    trial_timeout_s: float | None = Field(None, gt=0)
    cv_folds: int = Field(5, ge=2)
    sample_rows: int | None = Field(None, ge=100)
    warm_start: bool = True
    feature_selection: bool = False
    space_overrides: dict[str, dict[str, ParamSpace]] = Field(default_factory=dict)
    fixed_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)


class PrunerConfig(_Strict):
    """Optuna MedianPruner settings: prunes a trial whose running fold mean is below median."""

    n_startup_trials: int = Field(3, ge=0)
    n_warmup_steps: int = Field(1, ge=0)


class ModelsConfig(_Strict):
    """Model families, budgets and the tuning objective."""

    metric: Literal["accuracy", "f1_macro"] = "accuracy"
    n_jobs: int = Field(2, ge=1)
    pruner: PrunerConfig = PrunerConfig()
    families: dict[str, ModelFamily] = Field(min_length=1)
    budgets: dict[str, Budget] = Field(min_length=1)

    @model_validator(mode="after")
    def _budgets_name_known_families(self) -> ModelsConfig:
        for name, budget in self.budgets.items():
            named = (
                set(budget.families)
                | set(budget.n_trials)
                | set(budget.timeout_s)
                | set(budget.space_overrides)
                | set(budget.fixed_overrides)
            )
            unknown = named - set(self.families)
            if unknown:
                raise ValueError(f"budget {name!r} names unknown families {sorted(unknown)}")
        return self


# ----------------------------------------------------------------------------- the rest
class PathsConfig(_Strict):
    """Project directories; relative ones resolve from ``root``."""

    root: Path | None = None
    data_dir: Path = Path("data")
    models_dir: Path = Path("models")
    reports_dir: Path = Path("reports")
    logs_dir: Path = Path("logs")
    mlruns_dir: Path = Path("mlruns")


class TrackingConfig(_Strict):
    """MLflow tracking and registry."""

    uri: str | None = None
    artifact_location: str | None = None
    experiment: str = "obesity-risk"
    registered_model: str = "obesity-risk"
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
        value = _no_placeholder(value, "tracking.signing_key")
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


class LoggingConfig(_Strict):
    """loguru sinks."""

    level: Literal["TRACE", "DEBUG", "INFO", "SUCCESS", "WARNING", "ERROR", "CRITICAL"] = "INFO"
    json_: bool = Field(False, alias="json")
    file: bool = True
    rotation: str = "10 MB"
    retention: int = 5

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class DriftRule(_Strict):
    """Fires when the report's ``metric`` (a dotted path in its JSON) reaches ``threshold``."""

    name: str
    metric: str
    threshold: float


class Retention(_Strict):
    """What the monitor (and ``obesity-risk prune``) deletes; None keeps everything."""

    predictions_days: float | None = Field(90, gt=0)


class MonitoringConfig(_Strict):
    """Drift monitoring: sampling, Evidently thresholds, rules and their actions."""

    max_rows: int = Field(20000, ge=100)
    column_drift_threshold: float = Field(0.1, gt=0, le=1)
    rules: list[DriftRule] = Field(default_factory=list)
    actions: list[Literal["log", "alert_file", "webhook", "retrain"]] = ["log", "alert_file"]
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


_PLACEHOLDERS = ("change-me", "changeme", "password", "secret", "admin")


def _no_placeholder(value: SecretStr | None, key: str) -> SecretStr | None:
    """Empty means unset; a placeholder value is refused."""
    if value is None or not value.get_secret_value():
        return None
    if value.get_secret_value().lower().startswith(_PLACEHOLDERS):
        raise ValueError(f"{key} is a placeholder value: set a real secret")
    return value


class StoreConfig(_Strict):
    """Prediction log behaviour: durability, back-pressure, timeouts."""

    synchronous: Literal["normal", "full"] = "normal"  # SQLite: full = fsync on every commit
    queue_max: int = Field(2000, ge=1)  # requests waiting for a commit; more -> 503 Retry-After
    commit_timeout_s: float = Field(10.0, gt=0)  # a request waits this long for its commit
    connect_timeout_s: int = Field(5, ge=1)
    statement_timeout_s: int = Field(10, ge=1)
    retry_after_s: int = Field(2, ge=1)


class ServingConfig(_Strict):
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

    @field_validator("admin_token", "metrics_token")
    @classmethod
    def _strong_token(cls, value: SecretStr | None, info: ValidationInfo) -> SecretStr | None:
        value = _no_placeholder(value, f"serving.{info.field_name}")
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


class DatastoreConfig(_Strict):
    """Where ``obesity-risk data push|pull`` keeps raw-data versions."""

    bucket: str = "obesity-risk-data"
    prefix: str = "raw"
    endpoint_url: str | None = None


class Settings(_Strict):
    """The whole configuration. Build it with :func:`load_settings`."""

    seed: int = 42
    paths: PathsConfig = PathsConfig()
    data: DataSchema
    features: FeatureConfig = FeatureConfig()
    models: ModelsConfig
    ensemble: EnsembleConfig = EnsembleConfig()
    evaluation: EvaluationConfig = EvaluationConfig()
    batch: BatchConfig = BatchConfig()
    tracking: TrackingConfig = TrackingConfig()
    logging: LoggingConfig = LoggingConfig()
    monitoring: MonitoringConfig = MonitoringConfig()
    serving: ServingConfig = ServingConfig()
    datastore: DatastoreConfig = DatastoreConfig()

    @model_validator(mode="after")
    def _cross_checks(self) -> Settings:
        known = set(self.data.columns) | {f.name for f in self.features.engineered}
        for feat in self.features.engineered:
            missing = set(feat.inputs.values()) - known
            if missing:
                raise ValueError(
                    f"features.engineered {feat.name}: inputs {sorted(missing)} are neither"
                    " data columns nor engineered features"
                )
        if self.features.selected is not None:
            unknown = set(self.features.selected) - known
            if unknown:
                raise ValueError(f"features.selected: unknown columns {sorted(unknown)}")
        for item in self.evaluation.slices:
            if item.column not in known:
                raise ValueError(f"evaluation.slices: unknown column {item.column!r}")
        unknown = set(self.ensemble.families or ()) - set(self.models.families)
        if unknown:
            raise ValueError(f"ensemble.families: unknown families {sorted(unknown)}")
        return self

    # ------------------------------------------------------------------ derived paths
    @cached_property
    def root(self) -> Path:
        """The project root every relative path resolves from."""
        return resolve_root(self.paths.root)

    def path(self, value: Path | str) -> Path:
        """Resolve ``value`` against the project root (absolute paths pass through)."""
        path = Path(value).expanduser()
        return path if path.is_absolute() else (self.root / path).resolve()

    @property
    def models_dir(self) -> Path:
        """Local model exports (the API's fallback when tracking is unreachable)."""
        return self.path(self.paths.models_dir)

    @property
    def reports_dir(self) -> Path:
        """Generated reports (training summaries, benchmarks, monitoring)."""
        return self.path(self.paths.reports_dir)

    @property
    def logs_dir(self) -> Path:
        """Log files."""
        return self.path(self.paths.logs_dir)

    @property
    def prediction_store_url(self) -> str:
        """SQLAlchemy URL of the prediction log."""
        if self.serving.prediction_store:
            return self.serving.prediction_store
        return f"sqlite:///{self.path(self.paths.data_dir) / 'predictions.db'}"

    @property
    def tracking_uri(self) -> str:
        """MLflow tracking URI: configured, else embedded SQLite under the project root."""
        if self.tracking.uri:
            return self.tracking.uri
        return f"sqlite:///{self.path(self.paths.mlruns_dir) / 'mlflow.db'}"

    @property
    def artifact_location(self) -> str | None:
        """Artifact root for new experiments; local stores keep artifacts under the root."""
        if self.tracking.artifact_location:
            return self.tracking.artifact_location
        if self.tracking_uri.startswith(("sqlite:", "file:")) or "://" not in self.tracking_uri:
            return (self.path(self.paths.mlruns_dir) / "artifacts").as_uri()
        return None


def resolve_root(configured: Path | None = None) -> Path:
    """Project root: configured value, else ``$OBESITY_RISK_HOME``, else the source checkout."""
    if configured is not None:
        return Path(configured).expanduser().resolve()
    if os.environ.get(ENV_HOME):
        return Path(os.environ[ENV_HOME]).expanduser().resolve()
    for parent in Path(__file__).resolve().parents:
        if (parent / "pyproject.toml").is_file() and (parent / "src" / "obesity_risk").is_dir():
            return parent
    raise ConfigError(
        f"cannot find the project root: set {ENV_HOME} or paths.root"
        " (the package is not running from its source checkout)"
    )


# ----------------------------------------------------------------------------- loading
def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        content = yaml.safe_load(path.read_text(encoding="utf-8"))
    except FileNotFoundError as exc:
        raise ConfigError(f"config file not found: {path}") from exc
    except IsADirectoryError as exc:
        raise ConfigError(f"config file is a directory: {path}") from exc
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: cannot be read as UTF-8 text: {exc}") from exc
    except yaml.YAMLError as exc:
        raise ConfigError(f"{path}: malformed YAML: {exc}") from exc
    if content is None:
        return {}
    if not isinstance(content, dict):
        raise ConfigError(f"{path}: top level must be a mapping, got {type(content).__name__}")
    return content


# mappings that are one unit: an override replaces them whole instead of merging into them
_REPLACED_WHOLE = {("data", "columns")}


def _deep_merge(
    base: dict[str, Any], override: dict[str, Any], path: tuple[str, ...] = ()
) -> dict[str, Any]:
    merged = dict(base)
    for key, value in override.items():
        where = (*path, key)
        if (
            isinstance(value, dict)
            and isinstance(merged.get(key), dict)
            and where not in _REPLACED_WHOLE
        ):
            merged[key] = _deep_merge(merged[key], value, where)
        else:
            merged[key] = value
    return merged


def _clean_loc(tree: dict[str, Any], loc: tuple[Any, ...]) -> tuple[Any, ...]:
    """Drop the union tags pydantic inserts into error locations (``...Age.numeric.min``)."""
    clean: list[Any] = []
    node: Any = tree
    for part in loc:
        if isinstance(node, dict) and part not in node and part in ("numeric", "categorical"):
            continue
        clean.append(part)
        node = node.get(part) if isinstance(node, dict) else None
    return tuple(clean)


def _has_key(tree: dict[str, Any], loc: tuple[Any, ...]) -> bool:
    node: Any = tree
    for part in loc:
        in_dict = isinstance(node, dict) and part in node
        in_list = isinstance(node, list) and isinstance(part, int) and part < len(node)
        if in_dict or in_list:
            node = node[part]
        else:
            return False
    return True


def _format_errors(
    exc: ValidationError, merged: dict[str, Any], sources: list[tuple[str, dict[str, Any]]]
) -> str:
    lines = []
    for err in exc.errors():
        loc = _clean_loc(merged, err["loc"])
        key = ".".join(str(p) for p in loc) or "<root>"
        origin = "packaged defaults"
        for depth in range(len(loc), 0, -1):
            found = [name for name, tree in sources if _has_key(tree, loc[:depth])]
            if found:
                origin = found[-1]
                break
        lines.append(f"  {origin}: {key}: {err['msg']}")
    return "invalid configuration:\n" + "\n".join(lines)


def load_settings(config_file: Path | str | None = None, **overrides: Any) -> Settings:
    """Load and validate the settings.

    Args:
        config_file: override YAML; defaults to ``$OBESITY_RISK_CONFIG`` when set.
        **overrides: top-level sections merged last (used by tests and notebooks).

    Raises:
        ConfigError: naming the file and the key of every invalid value.
    """
    sources: list[tuple[str, dict[str, Any]]] = [
        (str(path), _read_yaml(path)) for path in sorted(CONFIG_DIR.glob("*.yaml"))
    ]
    config_file = config_file or os.environ.get(ENV_CONFIG)
    if config_file:
        path = Path(config_file).expanduser().resolve()
        sources.append((str(path), _read_yaml(path)))
    env = {k: v for k, v in os.environ.items() if k.startswith(ENV_PREFIX)}
    if env:
        sources.append(("environment", _env_tree(env)))
    if os.environ.get("MLFLOW_TRACKING_URI"):
        sources.append(("environment", {"tracking": {"uri": os.environ["MLFLOW_TRACKING_URI"]}}))
    if overrides:
        sources.append(("load_settings()", overrides))

    merged: dict[str, Any] = {}
    for _, tree in sources:
        merged = _deep_merge(merged, tree)
    try:
        return Settings.model_validate(merged)
    except ValidationError as exc:
        raise ConfigError(_format_errors(exc, merged, sources)) from None


_NONE = type(None)


def _text_field(parts: list[str]) -> tuple[bool, bool]:
    """Whether the setting at ``parts`` is text (``str``/``SecretStr``), and whether it may be
    None; ``(False, _)`` for anything else or an unknown key."""
    model: type[BaseModel] = Settings
    for depth, part in enumerate(parts):
        fields = {f.alias or n: f for n, f in model.model_fields.items()}
        if part not in fields:
            return False, False
        annotation = fields[part].annotation
        args = [a for a in get_args(annotation) if a is not _NONE] or [annotation]
        if depth == len(parts) - 1:
            text = all(a in (str, SecretStr) for a in args)
            return text, _NONE in get_args(annotation)
        nested = [a for a in args if isinstance(a, type) and issubclass(a, BaseModel)]
        if not nested:
            return False, False
        model = nested[0]
    return False, False


def _env_tree(env: dict[str, str]) -> dict[str, Any]:
    """``OBESITY_RISK__A__B=v`` -> ``{"a": {"b": v}}``.

    Text settings (tokens, keys, passwords, URLs, names) are taken literally, exactly as
    exported: ``#``, quotes, ``: `` and spaces stay part of the value (YAML would turn
    ``#x`` into a comment and ``abc #x`` into ``abc``). Other values are parsed as YAML scalars
    (``true``, ``3``, ``[a, b]``); an empty text value means unset where unset is allowed.
    """
    tree: dict[str, Any] = {}
    for key, raw in env.items():
        parts = key[len(ENV_PREFIX) :].lower().split("__")
        node = tree
        for part in parts[:-1]:
            node = node.setdefault(part, {})
        text, nullable = _text_field(parts)
        if text:
            node[parts[-1]] = None if raw == "" and nullable else raw
            continue
        try:
            node[parts[-1]] = yaml.safe_load(raw)
        except yaml.YAMLError:
            node[parts[-1]] = raw
    return tree
