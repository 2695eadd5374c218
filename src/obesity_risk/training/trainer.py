"""Training orchestration: studies per family, the ensemble, evaluation, registration, promotion.

Each step lives in its own module and exchanges typed objects: :mod:`splits` (who sees which
rows), :mod:`tune` (studies, out-of-fold probabilities), :mod:`selection`, :mod:`ensemble`,
:mod:`calibration`, :mod:`evaluation`, :mod:`candidates` (measured, logged, chosen),
:mod:`promotion`. This module wires them to MLflow and the registry.
"""

from __future__ import annotations

import time
from datetime import UTC, datetime
from typing import Any

import mlflow
from loguru import logger

from obesity_risk import __version__, registry
from obesity_risk.config import Settings
from obesity_risk.config.schema import Budget
from obesity_risk.errors import ConfigError
from obesity_risk.estimators.encoded import output_columns
from obesity_risk.features import build_pipeline
from obesity_risk.metrics import get_metric
from obesity_risk.registry.card import TrainingSummary
from obesity_risk.training.blending import BlendFit, build_blend, fit_blend
from obesity_risk.training.candidates import Candidate, choose, measure, steps
from obesity_risk.training.champion import register_champion
from obesity_risk.training.evaluation import (
    families_figure,
)
from obesity_risk.training.families import effective_family, make_estimator
from obesity_risk.training.outputs import log_inputs, study_summaries, write_json
from obesity_risk.training.selection import select_features
from obesity_risk.training.splits import TrainingData, load_training_data
from obesity_risk.training.tune import NoCompletedTrialError, StudyResult, run_study

EXPERIMENT_KIND = {"mlflow.experimentKind": "custom_model_development"}


class Trainer:
    """Wires data, studies, the ensemble, MLflow and the registry for one ``train`` run."""

    def __init__(
        self,
        settings: Settings,
        budget_name: str,
        families: list[str] | None = None,
        storage: str | None = None,
        feature_selection: bool | None = None,
        show_progress_bar: bool = True,
    ) -> None:
        if budget_name not in settings.models.budgets:
            known = ", ".join(settings.models.budgets)
            raise ConfigError(f"unknown budget {budget_name!r}; known: {known}")
        self.settings = settings
        self.budget_name = budget_name
        self.budget: Budget = settings.models.budgets[budget_name]
        self.families = families or list(self.budget.families)
        for name in self.families:
            effective_family(settings, name)  # unknown family -> ConfigError now, not later
        self.storage = storage
        self.feature_selection = (
            self.budget.feature_selection if feature_selection is None else feature_selection
        )
        self.show_progress_bar = show_progress_bar
        self.champion_pipeline: Any = None
        self._experiment_id: str | None = None

    def run(self) -> TrainingSummary:
        """Tune every family, blend, pick and register the champion, write the summary."""
        started = time.perf_counter()
        s = self.settings
        data = load_training_data(s, self.budget)
        with registry.tracking_scope(s):
            summary = self._tracked_run(s, data, started)
        path = write_json(
            s.reports_dir / "training" / "summary.json", summary.model_dump(mode="json")
        )
        card, metrics = summary.champion.card, summary.champion.card.metrics
        logger.success(
            "champion {} v{} ({}): {} cv {:.4f}, validation {:.4f}, test {} -> {}",
            card.family,
            card.version,
            summary.champion.alias,
            metrics.metric,
            metrics.cv_score,
            metrics.val_score,
            "n/a" if metrics.test_score is None else f"{metrics.test_score:.4f}",
            path,
        )
        return summary

    def _tracked_run(self, s: Settings, data: TrainingData, started: float) -> TrainingSummary:
        """The MLflow part of :meth:`run` (inside the tracking scope)."""
        experiment_id = self._experiment_id = registry.experiment_id(s)
        client = mlflow.MlflowClient()
        for key, value in EXPERIMENT_KIND.items():
            client.set_experiment_tag(experiment_id, key, value)
        with mlflow.start_run(
            run_name=f"train-{self.budget_name}-{datetime.now(UTC):%Y%m%dT%H%M%S}",
            experiment_id=experiment_id,
        ) as session:
            log_inputs(s, data, self.budget_name, self.budget, self.families, storage=self.storage)
            if self.feature_selection:
                s = self._feature_selection(data)
            candidates: dict[str, Candidate] = {}
            results: dict[str, StudyResult] = {}
            skipped: dict[str, str] = {}
            for name in self.families:
                try:
                    results[name], candidates[name] = self._study(s, name, data)
                except NoCompletedTrialError as exc:
                    logger.warning("{}; family {} skipped", exc, name)
                    skipped[name] = str(exc)
            if not candidates:
                raise NoCompletedTrialError(f"no family completed a trial: {skipped}")
            metric = get_metric(s.models.metric)  # the best single family, on OOF only
            mlflow.log_metrics(
                {f"cv_{metric.name}_{n}": c.cv.value(metric.name) for n, c in candidates.items()}
            )
            best = max(candidates.values(), key=lambda c: metric.gain(c.cv.value(metric.name), 0))
            fitted, chosen, ensemble = None, best, None
            blended = [n for n in (s.ensemble.families or candidates) if n in candidates]
            if s.ensemble.enabled and len(blended) > 1:
                fitted, ensemble = self._ensemble(s, data, {n: candidates[n] for n in blended})
                chosen = choose(s, best, ensemble)
            self.champion_pipeline = chosen.pipeline
            shown = candidates | ({} if ensemble is None else {"ensemble": ensemble})
            mlflow.log_figure(
                families_figure(
                    {
                        n: {
                            "oof": c.cv.value(metric.name),
                            "validation": c.validation.value(metric.name),
                            "test": None if c.test is None else c.test.value(metric.name),
                        }
                        for n, c in shown.items()
                    },
                    metric.name,
                ),
                "families.png",
            )
            champion = register_champion(
                s, self.budget_name, data, chosen, results, session.info.run_id
            )
            summary = TrainingSummary(
                budget=self.budget_name,
                run_id=session.info.run_id,
                experiment_id=experiment_id,
                tracking_uri=registry.redact(s.tracking_uri),
                package_version=__version__,
                seed=s.seed,
                rows=data.rows,
                features={"selected": s.features.selected},
                champion=champion,
                studies=study_summaries(results, candidates, metric.name),
                ensemble=None if fitted is None else fitted.model_dump(),
                steps=steps(best, fitted, ensemble, metric.name),
                skipped_families=skipped,
                wall_s=time.perf_counter() - started,
            )
            mlflow.log_dict(summary.model_dump(mode="json"), "summary.json")
            mlflow.log_metric("wall_s", summary.wall_s)
        return summary

    # ------------------------------------------------------------------ steps
    def _feature_selection(self, data: TrainingData) -> Settings:
        with mlflow.start_run(
            run_name="feature-selection", nested=True, experiment_id=self._experiment_id
        ):
            result = select_features(self.settings, data, budget=self.budget)
            mlflow.log_dict(result.model_dump(), "feature_selection.json")
            mlflow.log_metrics(
                {
                    f"cv_{result.metric}_configured": result.cv_score_configured,
                    f"cv_{result.metric}_kept": result.cv_score_kept,
                }
            )
            mlflow.log_param("dropped", ",".join(result.dropped) or "-")
        write_json(
            self.settings.reports_dir / "training" / "feature_selection.json", result.model_dump()
        )
        logger.info(
            "feature selection: kept {}/{} columns, cv {} {:.4f} (configured) vs {:.4f} (kept)"
            " -> {}",
            len(result.kept),
            len(result.importances),
            result.metric,
            result.cv_score_configured,
            result.cv_score_kept,
            "using the kept columns" if result.selected is not None else "keeping the configured",
        )
        if result.selected is None:
            return self.settings
        features = self.settings.features.model_copy(update={"selected": result.selected})
        return self.settings.model_copy(update={"features": features})

    def _study(self, s: Settings, name: str, data: TrainingData) -> tuple[StudyResult, Candidate]:
        family = effective_family(s, name, self.budget)
        with mlflow.start_run(
            run_name=f"study-{name}", nested=True, experiment_id=self._experiment_id
        ) as run:
            mlflow.set_tags({"family": name, "stage": "study"})
            result = run_study(
                s,
                name,
                family,
                self.budget,
                data,
                storage=self.storage,
                parent_run_id=run.info.run_id,
                show_progress_bar=self.show_progress_bar,
            )
            refit = data.refit()
            pipeline = build_pipeline(
                s.data, s.features, make_estimator(s, family, result.best_params)
            ).fit(refit.X, refit.y)
            mlflow.log_params({f"best_{k}": v for k, v in result.best_params.items()})
            mlflow.log_metrics(
                {
                    "best_cv_score": result.best_value,
                    "n_trials": result.n_trials,
                    "n_pruned": result.n_pruned,
                    "wall_s": result.wall_s,
                }
            )
            candidate = measure(
                s, name, pipeline, result.scores.oof, data, result.best_params, run.info.run_id
            )
        return result, candidate

    def _ensemble(
        self, s: Settings, data: TrainingData, candidates: dict[str, Candidate]
    ) -> tuple[BlendFit, Candidate]:
        """Blend the chosen families' pipelines with weights fitted on their OOF predictions."""
        names = list(candidates)
        classes = output_columns(candidates[names[0]].pipeline)
        fitted = fit_blend(
            {n: candidates[n].oof for n in names},
            data.fit.y,
            classes,
            class_weights=s.ensemble.class_weights,
            trials=s.ensemble.weight_trials,
            seed=s.seed,
            min_weight=s.ensemble.min_weight,
            calibration=s.ensemble.calibration,
            max_accuracy_drop=s.ensemble.calibration_max_accuracy_drop,
            metric=s.models.metric,
        )
        model, oof = build_blend(
            fitted,
            {n: candidates[n].pipeline for n in fitted.members},
            {n: candidates[n].oof for n in fitted.members},
            data.fit.y,
        )
        method = None if fitted.calibration is None else fitted.calibration.method
        with mlflow.start_run(
            run_name="ensemble", nested=True, experiment_id=self._experiment_id
        ) as run:
            mlflow.set_tags({"family": "ensemble", "stage": "ensemble"})
            mlflow.log_dict(fitted.model_dump(), "ensemble.json")
            mlflow.log_params({f"weight_{n}": round(w, 4) for n, w in fitted.members.items()})
            mlflow.log_param("calibration", method or "none")
            if fitted.calibration is not None:  # cross-fitted on the OOF rows, per method
                mlflow.log_metrics(
                    {
                        f"calibration_oof_log_loss_{m}": v
                        for m, v in fitted.calibration.log_loss.items()
                    }
                )
            candidate = measure(
                s, "ensemble", model, oof, data, {"weights": fitted.members}, run.info.run_id
            )
        logger.info(
            "ensemble {}: OOF {} {:.4f} (best single {} {:.4f}); calibration {}"
            " (cross-fitted OOF log-loss {})",
            {n: round(w, 3) for n, w in fitted.members.items()},
            fitted.metric,
            fitted.blend_score,
            fitted.best_single,
            fitted.best_single_score,
            method or "none",
            {}
            if fitted.calibration is None
            else {m: round(v, 4) for m, v in fitted.calibration.log_loss.items()},
        )
        return fitted, candidate
