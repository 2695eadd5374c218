"""The registry: the model card and its integrity, tracking writes, verified loading and
export. Imports neither training nor serving."""

from obesity_risk.registry.client import (
    EXPORT_NAME,
    LOAD_FAILURES,
    REFERENCE_FILE,
    ArtifactStoreError,
    LoadedModel,
    ModelLoadError,
    Registry,
    bound_mlflow_retries,
    deserialize,
    load_champion,
    load_exported,
    load_reference,
    redact,
    signing_key,
    verify_key,
)
from obesity_risk.registry.publish import (
    champion_uri,
    experiment_id,
    export_local,
    log_pipeline,
    pip_requirements,
    tracking_scope,
)

__all__ = [
    "EXPORT_NAME",
    "LOAD_FAILURES",
    "REFERENCE_FILE",
    "ArtifactStoreError",
    "LoadedModel",
    "ModelLoadError",
    "Registry",
    "bound_mlflow_retries",
    "champion_uri",
    "deserialize",
    "experiment_id",
    "export_local",
    "load_champion",
    "load_exported",
    "load_reference",
    "log_pipeline",
    "pip_requirements",
    "redact",
    "signing_key",
    "tracking_scope",
    "verify_key",
]
