"""Batch scoring of a file with the champion, through the one :class:`Predictor`."""

from __future__ import annotations

from pathlib import Path

from obesity_risk.config import Settings
from obesity_risk.data import load_dataset
from obesity_risk.inference import Predictor
from obesity_risk.models.registry import load_champion


def predict_file(settings: Settings, input_csv: Path, output_csv: Path) -> int:
    """Validate ``input_csv``, score it, write ``output_csv`` (id column kept); return row count.

    Nothing is written when the input is invalid; the error names the failing rows and columns.
    """
    data = load_dataset(input_csv, settings.data, labelled=None)
    predictor = Predictor.configured(load_champion(settings), settings)
    scored = predictor.predict_frame(data.X).frame(index=data.X.index)
    if data.ids is not None:
        scored.insert(0, str(data.ids.name), data.ids)
    scored["model_version"] = predictor.version
    output_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_csv.with_suffix(output_csv.suffix + ".tmp")
    scored.to_csv(tmp, index=False)
    tmp.replace(output_csv)
    return len(scored)
