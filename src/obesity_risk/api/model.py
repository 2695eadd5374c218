"""The model being served: loaded once, swapped atomically on reload, retried while missing."""

from __future__ import annotations

import importlib
import threading
from collections.abc import Callable

from loguru import logger

from obesity_risk.config import Settings
from obesity_risk.registry.client import LoadedModel, load_champion
from obesity_risk.serving.predictor import Predictor


def default_loader(settings: Settings) -> Callable[[], LoadedModel]:
    """Registry champion (falling back to ``models/``), or ``models/`` only, per config."""
    return lambda: load_champion(settings)


def describe(exc: BaseException) -> str:
    """One line for ``/ready`` and the log: the package's own message, or type and text."""
    from obesity_risk.errors import ObesityRiskError

    text = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
    return text if isinstance(exc, ObesityRiskError) else f"{type(exc).__name__}: {text}"


class ModelHolder:
    """Holds the current :class:`Predictor`. Readers take a reference; reload swaps it in one
    assignment, so in-flight requests finish on the model they started with.

    A failed load never raises out of :meth:`load`: the service stays up, not ready, with the
    reason, and the app retries every ``serving.load_retry_s`` until a load succeeds.
    """

    def __init__(self, settings: Settings, loader: Callable[[], LoadedModel] | None = None) -> None:
        self.settings = settings
        self.loader = loader or default_loader(settings)
        self.current: Predictor | None = None
        self.reason: str | None = "not loaded yet"
        self.load_failures = 0
        self._reload_lock = threading.Lock()

    def _load(self) -> Predictor:
        importlib.invalidate_caches()  # a module installed since the last failure is found
        return Predictor.configured(self.loader(), self.settings)

    def load(self) -> bool:
        """Load if nothing is loaded; a failure leaves the service not ready with the reason."""
        if self.current is not None:
            return True
        try:
            with self._reload_lock:
                self.current = self._load()
                self.reason = None
        except Exception as exc:  # pylint: disable=broad-exception-caught
            # anything a broken registry, artifact store or pickle raises: degrade, never crash
            self.reason = describe(exc)
            self.load_failures += 1
            logger.error("no model loaded: {}", self.reason)
            return False
        logger.info("serving model version {} from {}", self.current.version, self.source)
        return True

    @property
    def source(self) -> str | None:
        """Where the current model came from."""
        return self.current.model.source if self.current is not None else None

    def reload(self) -> tuple[Predictor | None, Predictor]:
        """Load the current champion and swap it in; (old, new).

        Raises:
            Exception: whatever the load raised; the old model stays in service.
        """
        with self._reload_lock:
            try:
                new = self._load()
            except Exception:
                self.load_failures += 1
                raise
            old, self.current, self.reason = self.current, new, None
        logger.info("reloaded: version {} -> {}", old.version if old else None, new.version)
        return old, new
