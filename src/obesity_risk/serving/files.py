"""Batch scoring of a file with the champion, through the one :class:`Predictor`."""

from __future__ import annotations

import json
from pathlib import Path

from obesity_risk.config import Settings
from obesity_risk.data import load_dataset
from obesity_risk.files import atomic_write
from obesity_risk.registry.client import load_champion
from obesity_risk.serving.predictor import Predictor


def predict_file(
    settings: Settings, input_csv: Path, output_csv: Path, explain: bool = False
) -> int:
    """Validate ``input_csv``, score it, write ``output_csv`` (id column kept); return row count.

    With ``explain``, each row also gets ``explanation``: the top input columns behind its
    label (``serving.explain_top``) as JSON, plus ``explanation_base`` and ``explanation_space``.
    Nothing is written when the input is invalid; the error names the failing rows and columns.
    """
    data = load_dataset(input_csv, settings.data, labelled=None)
    predictor = Predictor.configured(load_champion(settings), settings)
    if explain:
        predictions, items = predictor.explain_frame(data.X, settings.serving.explain_top)
        scored = predictions.frame(index=data.X.index)
        scored["explanation"] = [
            json.dumps(item.contributions | {"(other)": item.other}) for item in items
        ]
        scored["explanation_base"] = [item.base_value for item in items]
        scored["explanation_space"] = [item.space for item in items]
    else:
        scored = predictor.predict_frame(data.X).frame(index=data.X.index)
    if data.ids is not None:
        scored.insert(0, str(data.ids.name), data.ids)
    scored["model_version"] = predictor.version
    atomic_write(output_csv, lambda tmp: scored.to_csv(tmp, index=False))
    return len(scored)
