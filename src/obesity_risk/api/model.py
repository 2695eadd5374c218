"""The model being served, loaded once, swapped atomically on reload."""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import numpy as np
import pandas as pd
from loguru import logger

from obesity_risk.config import Settings
from obesity_risk.errors import ObesityRiskError
from obesity_risk.models.fastpath import CompiledPipeline, UnsupportedPipelineError
from obesity_risk.models.registry import LoadedModel, load_champion, load_exported


@dataclass(frozen=True)
class ServedModel:
    """A loaded pipeline plus its compiled fast path and descriptive metadata."""

    loaded: LoadedModel
    compiled: CompiledPipeline | None
    classes: list[str]
    loaded_at: str = field(default_factory=lambda: datetime.now(UTC).isoformat(timespec="seconds"))

    @property
    def version(self) -> str | None:
        """Registry version (None for an unversioned export)."""
        return self.loaded.version

    def predict_proba(self, records: Sequence[Mapping[str, Any]]) -> np.ndarray:
        """Probabilities for ``records`` (compiled path when available)."""
        if self.compiled is not None:
            return self.compiled.predict_proba(records)
        return self.loaded.pipeline.predict_proba(pd.DataFrame.from_records(records))

    def unknown_counts(self, records: Sequence[Mapping[str, Any]]) -> dict[str, int]:
        """Unseen-category counts per column (empty without the compiled path)."""
        return self.compiled.unknown_counts(records) if self.compiled is not None else {}


def serve_model(loaded: LoadedModel, n_threads: int) -> ServedModel:
    """Wrap a loaded pipeline for serving; compile it when every step is supported."""
    try:
        compiled: CompiledPipeline | None = CompiledPipeline(loaded.pipeline, n_threads)
    except (UnsupportedPipelineError, AttributeError) as exc:
        logger.warning("serving through the sklearn pipeline (no compiled path: {})", exc)
        compiled = None
    return ServedModel(loaded, compiled, [str(c) for c in loaded.pipeline.classes_])


def default_loader(settings: Settings) -> Callable[[], LoadedModel]:
    """Registry champion (falling back to ``models/``), or ``models/`` only, per config."""
    if settings.serving.model_source == "local":
        return lambda: load_exported(settings)
    return lambda: load_champion(settings)


class ModelHolder:
    """Holds the current model. Readers take a reference; reload swaps it in one assignment,
    so in-flight requests finish on the model they started with."""

    def __init__(self, settings: Settings, loader: Callable[[], LoadedModel] | None = None) -> None:
        self.settings = settings
        self.loader = loader or default_loader(settings)
        self.current: ServedModel | None = None
        self.reason: str | None = "not loaded yet"
        self._reload_lock = threading.Lock()

    def _load(self) -> ServedModel:
        return serve_model(self.loader(), self.settings.serving.model_threads)

    def load(self) -> None:
        """Initial load: a failure leaves the service running, not ready, with the reason."""
        try:
            self.current = self._load()
            self.reason = None
            logger.info(
                "serving model version {} from {}", self.current.version, self.current.loaded.source
            )
        except (ObesityRiskError, OSError, ValueError) as exc:
            self.reason = str(exc)
            logger.error("no model loaded: {}", exc)

    def reload(self) -> tuple[ServedModel | None, ServedModel]:
        """Load the current champion and swap it in; (old, new).

        Raises:
            ObesityRiskError/OSError/ValueError: the load failed; the old model stays.
        """
        with self._reload_lock:
            new = self._load()
            old, self.current, self.reason = self.current, new, None
        logger.info("reloaded: version {} -> {}", old.version if old else None, new.version)
        return old, new
