"""Permutation-importance feature selection over every model column (training folds only)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel
from sklearn.inspection import permutation_importance
from sklearn.model_selection import train_test_split
from sklearn.pipeline import Pipeline

from obesity_risk.config import Settings
from obesity_risk.config.schema import Budget
from obesity_risk.data import strata
from obesity_risk.features import build_pipeline, model_columns
from obesity_risk.metrics import get_metric
from obesity_risk.training.cv import cross_validate
from obesity_risk.training.families import clip_to_space, effective_family, make_estimator
from obesity_risk.training.splits import TrainingData


class FeatureSelection(BaseModel):
    """What selection measured and decided (``selected`` None: keep the configuration)."""

    family: str
    importances: dict[str, float]
    kept: list[str]
    dropped: list[str]
    configured: list[str] | None
    metric: str = "accuracy"  # models.metric, of the next two figures
    cv_score_configured: float
    cv_score_kept: float
    selected: list[str] | None


def select_features(
    settings: Settings,
    data: TrainingData,
    family: str = "lgbm",
    budget: Budget | None = None,
) -> FeatureSelection:
    """Keep the columns whose permutation importance is positive, if that scores better.

    Fits ``family`` (its first warm-start configuration) with *all* raw and engineered columns
    on three quarters of the fit rows, measures the accuracy drop when each column is shuffled
    on the last quarter (R² for a regression), then compares the CV ``models.metric`` of the
    kept columns with the configured ``features.selected`` on the same folds. Neither the
    validation nor the test split is read.
    """
    fam = effective_family(settings, family, budget)
    params = clip_to_space(fam.warm_start[0], fam.space) if fam.warm_start else {}

    def pipeline_for(selected: list[str] | None) -> Pipeline:
        features = settings.features.model_copy(update={"selected": selected})
        return build_pipeline(settings.data, features, make_estimator(settings, fam, params))

    every = pipeline_for(None)
    X_fit, X_hold, y_fit, y_hold = train_test_split(
        data.fit.X,
        data.fit.y,
        test_size=0.25,
        stratify=strata(data.fit.y),
        random_state=settings.seed,
    )
    every.fit(X_fit, y_fit)
    front = Pipeline(every.steps[:2])  # guard + engineered features
    back = Pipeline(every.steps[2:])  # preprocess + model
    all_features = settings.features.model_copy(update={"selected": None})
    columns = [c for group in model_columns(settings.data, all_features) for c in group]
    imp: Any = permutation_importance(
        back,
        front.transform(X_hold)[columns],
        y_hold,
        n_repeats=3,
        random_state=settings.seed,
        scoring="accuracy" if settings.data.is_classification else "r2",
    )
    importances = dict(zip(columns, map(float, imp.importances_mean), strict=True))
    kept = [c for c in columns if importances[c] > 0]
    metric = get_metric(settings.models.metric)
    configured = cross_validate(pipeline_for(settings.features.selected), data, metric.name).mean(
        metric.name
    )
    kept_cv = cross_validate(pipeline_for(kept), data, metric.name).mean(metric.name)
    return FeatureSelection(
        family=family,
        importances=dict(sorted(importances.items(), key=lambda kv: -kv[1])),
        kept=kept,
        dropped=[c for c in columns if c not in kept],
        configured=settings.features.selected,
        metric=metric.name,
        cv_score_configured=configured,
        cv_score_kept=kept_cv,
        selected=kept if metric.better(kept_cv, configured) else None,
    )
