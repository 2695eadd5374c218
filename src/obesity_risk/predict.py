"""Batch scoring with the champion pipeline."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from obesity_risk.config import Settings
from obesity_risk.data import load_dataset
from obesity_risk.models.registry import LoadedModel, load_champion


def score_frame(model: LoadedModel, X: pd.DataFrame) -> pd.DataFrame:
    """Label and one probability column per class, index aligned with ``X``."""
    proba = model.pipeline.predict_proba(X)
    classes = list(model.pipeline.classes_)
    out = pd.DataFrame(proba, columns=[f"proba_{c}" for c in classes], index=X.index)
    out.insert(0, "prediction", [classes[i] for i in proba.argmax(axis=1)])
    return out


def predict_file(settings: Settings, input_csv: Path, output_csv: Path) -> int:
    """Validate ``input_csv``, score it, write ``output_csv`` (id column kept); return row count.

    Nothing is written when the input is invalid.
    """
    data = load_dataset(input_csv, settings.data, labelled=None)
    model = load_champion(settings)
    scored = score_frame(model, data.X)
    if data.ids is not None:
        scored.insert(0, str(data.ids.name), data.ids)
    scored["model_version"] = model.version
    output_csv.parent.mkdir(parents=True, exist_ok=True)
    tmp = output_csv.with_suffix(output_csv.suffix + ".tmp")
    scored.to_csv(tmp, index=False)
    tmp.replace(output_csv)
    return len(scored)
