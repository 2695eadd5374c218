"""Config sections for what happens after the studies: the ensemble, evaluation slices and
calibration, and the quality gate before promotion."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator

from obesity_risk.config.base import Strict


class EnsembleConfig(Strict):
    """A blend of the studies' best pipelines, weighted on out-of-fold probabilities."""

    enabled: bool = True
    families: list[str] | None = None  # None: every family that completed a study
    class_weights: bool = True  # per-class probability weights tuned on OOF for accuracy
    weight_trials: int = Field(300, ge=10)  # Optuna trials for the class weights
    min_gain: float = Field(0.0, ge=0.0)  # validation accuracy the blend must add (ties: OOF)
    min_weight: float = Field(0.1, ge=0.0, lt=1.0)  # lighter members are dropped (serving cost)
    # none | sigmoid | isotonic | auto: a method is kept only if it lowers the cross-fitted OOF
    # log-loss and costs at most calibration_max_accuracy_drop OOF accuracy (auto tries both)
    calibration: Literal["none", "sigmoid", "isotonic", "auto"] = "auto"
    calibration_max_accuracy_drop: float = Field(0.001, ge=0.0, le=1.0)


class Slice(Strict):
    """A subgroup: rows whose ``column`` equals one of its values, or falls in a numeric band.

    ``bins`` are band edges (left-closed); a column not in the data but computed by an
    engineered feature (e.g. BMI) is evaluated on that feature."""

    column: str
    bins: list[float] | None = None

    @model_validator(mode="after")
    def _bins_increase(self) -> Slice:
        if self.bins is not None and sorted(set(self.bins)) != self.bins:
            raise ValueError(f"slice {self.column}: bins must be strictly increasing")
        return self


class GateConfig(Strict):
    """Promotion quality gate, checked on the validation split against the current champion."""

    min_accuracy: float | None = Field(None, ge=0.0, le=1.0)
    min_score: float | None = None  # of models.metric, in its direction (log_loss: at most)
    max_slice_drop: float | None = Field(None, ge=0.0, le=1.0)  # per slice, vs the champion
    min_slice_rows: int = Field(30, ge=1)  # smaller slices are reported, not gated


class EvaluationConfig(Strict):
    """Slices, calibration and the gate."""

    slices: list[Slice] | None = None  # None: derived from the schema (Settings.slices)
    calibration_bins: int = Field(10, ge=2, le=100)
    gate: GateConfig = GateConfig()


class BatchConfig(Strict):
    """``obesity-risk predict --engine dask``: the LocalCluster started when no scheduler is
    given, and how input files are cut into partitions."""

    workers: int = Field(2, ge=1)
    threads_per_worker: int = Field(1, ge=1)
    memory_limit: str = "2GB"  # per worker
    blocksize: str = "4MB"  # CSV bytes per partition (Parquet keeps its row groups)
    connect_timeout_s: int = Field(30, ge=1)  # to an external scheduler
