"""Model cards, loaded models and a small real pipeline, as training and the registry make them."""

from __future__ import annotations

from tests.helpers.paths import TRAIN_CSV
from tests.helpers.settings import quiet_settings

SMALL = {
    "dt": {"max_depth": 8},
    "rf": {"n_estimators": 20, "max_depth": 8},
    "xgb": {"n_estimators": 20},
    "lgbm": {"n_estimators": 20},
    "catboost": {"iterations": 20},
}


def make_loaded(
    pipeline,
    version: str | None = "7",
    source: str = "test://small",
    family: str = "lgbm",
    **metrics,
):
    """A LoadedModel with a typed card (what the registry or the export would give)."""
    from obesity_risk.registry.client import LoadedModel

    return LoadedModel(pipeline, source, make_card(version, family, **metrics))


def make_card(version: str | None = "3", family: str = "lgbm", **metrics):
    """A model card as training writes it (artifact hashes are added by ``export_local``)."""
    from obesity_risk.registry.card import CardMetrics, ModelCard

    data = quiet_settings().data
    return ModelCard(
        name="obesity-risk",
        family=family,
        version=version,
        classes=list(data.classes),
        metrics=CardMetrics(**metrics),
        description=data.description,  # what training copies from data.* into the card
        intended_use=data.intended_use,
        limitations=list(data.limitations),
    )


def build_small_pipeline():
    """A real LightGBM pipeline (100 trees, 4,000 S4E2 rows): the ``small_pipeline`` fixture."""
    from obesity_risk.data import load_dataset, sample_stratified
    from obesity_risk.features import build_pipeline
    from obesity_risk.training.families import effective_family, make_estimator

    settings = quiet_settings()
    data = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(data.X, data.y, 4000, 0)
    family = effective_family(settings, "lgbm")
    params = family.warm_start[0] | {"n_estimators": 100}
    estimator = make_estimator(settings, family, params)
    return build_pipeline(settings.data, settings.features, estimator).fit(X, y)
