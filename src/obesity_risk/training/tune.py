"""Optuna studies: cross-validated objective with fold-level pruning, one MLflow run per trial."""

from __future__ import annotations

import os
import random
import time
from typing import Any

import mlflow
import numpy as np
import optuna
import sqlalchemy
from loguru import logger
from mlflow.entities import Metric, Param, RunTag
from optuna.trial import TrialState
from pydantic import ConfigDict, Field

from obesity_risk.config import Settings
from obesity_risk.config.schema import Budget, ModelFamily
from obesity_risk.errors import ObesityRiskError
from obesity_risk.features import build_pipeline
from obesity_risk.metrics import get_metric
from obesity_risk.registry.card import StudyFigures
from obesity_risk.training.cv import CVScores, cross_validate
from obesity_risk.training.families import clip_to_space, make_estimator, suggest
from obesity_risk.training.splits import TrainingData


class NoCompletedTrialError(ObesityRiskError):
    """A study ended without a single completed trial."""


class StudyResult(StudyFigures):
    """What one family's study found; ``scores`` holds the best trial's out-of-fold
    probabilities (not serialized)."""

    model_config = ConfigDict(extra="forbid", frozen=True, arbitrary_types_allowed=True)

    family: str
    scores: CVScores | None = Field(None, exclude=True)


class CVObjective:
    """Optuna objective: mean CV score of one family's pipeline (holds its data and folds)."""

    def __init__(
        self,
        settings: Settings,
        family_name: str,
        family: ModelFamily,
        data: TrainingData,
        parent_run_id: str | None = None,
        time_limit_s: float | None = None,
    ) -> None:
        self.settings = settings
        self.time_limit_s = time_limit_s
        self.family_name = family_name
        self.family = family
        self.data = data
        self.parent_run_id = parent_run_id
        self.metric = settings.models.metric
        self.best: tuple[float, int, CVScores] | None = None  # this process's best trial

    def scores_of(self, trial_number: int) -> CVScores | None:
        """The CV scores (with OOF probabilities) of a trial, if it was this process's best."""
        if self.best is not None and self.best[1] == trial_number:
            return self.best[2]
        return None

    def __call__(self, trial: optuna.Trial) -> float:
        """Score one sampled configuration; log it as a child run."""
        params = suggest(trial, self.family.space)
        pipeline = build_pipeline(
            self.settings.data,
            self.settings.features,
            make_estimator(self.settings, self.family, params),
        )
        started = time.perf_counter()
        state = "FINISHED"
        scores: dict[str, list[float]] = {}
        try:
            # the time limit never applies before a first trial has completed: a slow machine
            # still gets a result instead of a study with every trial pruned
            has_result = bool(trial.study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,)))
            result = cross_validate(
                pipeline,
                self.data,
                self.metric,
                trial,
                self.time_limit_s if has_result else None,
            )
            scores = result.per_fold()
        except optuna.TrialPruned:
            state = "KILLED"
            scores = trial.user_attrs.get("fold_scores", {})
            raise
        except Exception:
            state = "FAILED"
            scores = {}
            raise
        finally:
            duration = time.perf_counter() - started
            trial.set_user_attr("duration_s", duration)
            self._log_trial(trial, params, scores, duration, state)
        for name, values in scores.items():
            trial.set_user_attr(f"cv_{name}", float(np.mean(values)))
        value = result.mean(self.metric)
        if self.best is None or get_metric(self.metric).better(value, self.best[0]):
            self.best = (value, trial.number, result)
        return value

    def _log_trial(
        self,
        trial: optuna.Trial,
        params: dict[str, Any],
        scores: dict[str, list[float]],
        duration: float,
        state: str,
    ) -> None:
        if self.parent_run_id is None or not self.settings.tracking.log_trials:
            return
        client = mlflow.MlflowClient()
        parent = client.get_run(self.parent_run_id)
        status = {"FINISHED": "complete", "KILLED": "pruned", "FAILED": "failed"}[state]
        run = client.create_run(
            parent.info.experiment_id,
            run_name=f"{self.family_name}-trial-{trial.number:03d}",
            tags={
                "mlflow.parentRunId": self.parent_run_id,
                "family": self.family_name,
                "optuna_trial": str(trial.number),
                "trial_state": status,
            },
        )
        now = int(time.time() * 1000)
        metrics = [
            Metric(f"fold_{name}", value, now, step)
            for name, values in scores.items()
            for step, value in enumerate(values)
        ]
        metrics += [Metric(f"cv_{n}", float(np.mean(v)), now, 0) for n, v in scores.items() if v]
        metrics.append(Metric("duration_s", duration, now, 0))
        folds_run = max((len(v) for v in scores.values()), default=0)
        metrics.append(Metric("folds_run", float(folds_run), now, 0))
        client.log_batch(
            run.info.run_id,
            metrics=metrics,
            params=[Param(k, str(v)) for k, v in params.items()],
            tags=[RunTag("optuna_study", trial.study.study_name)],
        )
        client.set_terminated(run.info.run_id, status=state)


def rdb_storage(url: str, attempts: int = 5) -> optuna.storages.RDBStorage:
    """Open (and on first use create) an Optuna RDB storage.

    Workers started together race to create the schema; the loser retries instead of dying.
    """
    attempt = 1
    while True:
        try:
            return optuna.storages.RDBStorage(url, heartbeat_interval=None)
        except sqlalchemy.exc.SQLAlchemyError:
            if attempt >= attempts:
                raise
            time.sleep(0.5 * attempt + random.random())
            attempt += 1


def create_study(settings: Settings, study_name: str, storage: str | None) -> optuna.Study:
    """A study in the direction of ``models.metric`` with a TPE sampler and a median pruner on
    fold scores.

    In memory the sampler is seeded (reproducible). On shared storage each worker process
    offsets the seed by its pid, so parallel workers do not sample identical trials.
    """
    pruner_cfg = settings.models.pruner
    seed = settings.seed if storage is None else settings.seed + os.getpid()
    return optuna.create_study(
        study_name=study_name,
        storage=None if storage is None else rdb_storage(storage),
        direction=get_metric(settings.models.metric).direction,
        sampler=optuna.samplers.TPESampler(seed=seed),
        pruner=optuna.pruners.MedianPruner(
            n_startup_trials=pruner_cfg.n_startup_trials,
            n_warmup_steps=pruner_cfg.n_warmup_steps,
        ),
        load_if_exists=True,
    )


def run_study(
    settings: Settings,
    family_name: str,
    family: ModelFamily,
    budget: Budget,
    data: TrainingData,
    *,
    storage: str | None = None,
    parent_run_id: str | None = None,
    show_progress_bar: bool = True,
) -> StudyResult:
    """Tune one family within the budget; several processes may share ``storage``.

    The result carries the best trial's out-of-fold probabilities: kept from the trial when
    this process ran it, else computed again with the best parameters (same folds)."""
    study_name = f"{settings.tracking.experiment}-{family_name}"
    study = create_study(settings, study_name, storage)
    if budget.warm_start and not study.trials:
        for params in family.warm_start:
            study.enqueue_trial(clip_to_space(params, family.space), skip_if_exists=True)
    started = time.perf_counter()
    objective = CVObjective(
        settings, family_name, family, data, parent_run_id, budget.trial_timeout_s
    )
    study.optimize(
        objective,
        n_trials=budget.n_trials.get(family_name, 10),
        timeout=budget.timeout_s.get(family_name),
        show_progress_bar=show_progress_bar,
        catch=(ValueError, ArithmeticError),
    )
    wall = time.perf_counter() - started
    states = [t.state for t in study.trials]
    complete = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    if not complete:
        raise NoCompletedTrialError(
            f"study {study_name}: no trial completed (all pruned or failed)"
        )
    best = study.best_trial
    scores = objective.scores_of(best.number)
    if scores is None:  # another worker ran it: same folds, same parameters, same OOF
        pipeline = build_pipeline(
            settings.data, settings.features, make_estimator(settings, family, best.params)
        )
        scores = cross_validate(pipeline, data, settings.models.metric)
    result = StudyResult(
        family=family_name,
        study_name=study_name,
        best_params=dict(best.params),
        best_value=float(best.value),
        cv_accuracy=float(best.user_attrs.get("cv_accuracy", np.nan)),
        cv_f1_macro=float(best.user_attrs.get("cv_f1_macro", np.nan)),
        n_trials=len(states),
        n_complete=len(complete),
        n_pruned=states.count(optuna.trial.TrialState.PRUNED),
        n_failed=states.count(optuna.trial.TrialState.FAIL),
        wall_s=wall,
        run_id=parent_run_id,
        scores=scores,
    )
    logger.info(
        "study {}: best {}={:.5f} ({} trials, {} pruned) in {:.1f}s",
        study_name,
        settings.models.metric,
        result.best_value,
        result.n_trials,
        result.n_pruned,
        wall,
    )
    return result
