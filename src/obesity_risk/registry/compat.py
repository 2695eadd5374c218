"""Unpickling a verified model, with the one compatibility path for models exported before the
package layout changed (classes that lived in ``obesity_risk.models.*``).

cloudpickle stores importable classes by reference (module and name): a pickle written before
the move names ``obesity_risk.models.ensemble.BlendClassifier``. :data:`MOVED` maps each such
name to where the class lives now; anything else is looked up as pickle always does. Only ever
called on bytes :func:`~obesity_risk.registry.integrity.verified_copy` has checked.
"""

from __future__ import annotations

import pickle
from pathlib import Path
from typing import Any

_OLD = "obesity_risk.models"
MOVED: dict[tuple[str, str], str] = {
    (f"{_OLD}.families", "EncodedTargetClassifier"): "obesity_risk.estimators.encoded",
    (f"{_OLD}.ensemble", "BlendClassifier"): "obesity_risk.estimators.blend",
    (f"{_OLD}.ensemble", "blend"): "obesity_risk.estimators.blend",
    (f"{_OLD}.ensemble", "reweight"): "obesity_risk.estimators.blend",
    (f"{_OLD}.calibration", "Calibrator"): "obesity_risk.estimators.calibration",
    (f"{_OLD}.calibration", "ProbabilityInput"): "obesity_risk.estimators.calibration",
    (f"{_OLD}.calibration", "calibrate"): "obesity_risk.estimators.calibration",
}


class _Unpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str) -> Any:
        return super().find_class(MOVED.get((module, name), module), name)


def load_pickle(path: Path) -> Any:
    """The object pickled (pickle or cloudpickle) at ``path``, old class paths mapped."""
    with Path(path).open("rb") as handle:
        return _Unpickler(handle).load()
