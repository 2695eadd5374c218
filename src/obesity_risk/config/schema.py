"""The dataset's schema, the engineered features and the model families, budgets and search
spaces: what the data looks like and what is trained on it."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Field, field_validator, model_validator

from obesity_risk.config.base import Strict
from obesity_risk.formulas import OPS


# ----------------------------------------------------------------------------- data schema
class NumericColumn(Strict):
    """A numeric feature with an optional valid range (inclusive)."""

    type: Literal["numeric"]
    min: float | None = None
    max: float | None = None
    nullable: bool = False
    description: str = ""

    @model_validator(mode="after")
    def _range_is_ordered(self) -> NumericColumn:
        if self.min is not None and self.max is not None and self.min > self.max:
            raise ValueError(f"min ({self.min}) is greater than max ({self.max})")
        return self


class CategoricalColumn(Strict):
    """A categorical feature with its allowed values (in order when ``ordered``)."""

    type: Literal["categorical"]
    categories: list[str] = Field(min_length=1)
    ordered: bool = False
    nullable: bool = False
    description: str = ""

    @field_validator("categories")
    @classmethod
    def _unique(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("categories must be unique")
        return value


ColumnSpec = Annotated[NumericColumn | CategoricalColumn, Field(discriminator="type")]
Task = Literal["multiclass", "binary", "regression"]


class DataSchema(Strict):
    """Where the data is and what it must look like."""

    train_file: Path
    external_file: Path | None = None
    # the dataset's own prose: the model card page and the API's description show it
    description: str = ""
    intended_use: str = ""
    limitations: list[str] = Field(default_factory=list)
    id_column: str | None = None
    target: str
    # multiclass | binary | regression; inferred when absent (see _task_agrees_with_classes)
    task: Task = None  # type: ignore[assignment]  # always set after validation
    classes: list[str] | None = Field(None, min_length=2)  # binary: [negative, positive]
    # a regression target's declared range (validated on every labelled file and feedback)
    target_min: float | None = None
    target_max: float | None = None
    validation_size: float = Field(0.15, gt=0.0, lt=0.9)  # promotion, gate, blend check
    test_size: float = Field(0.1, ge=0.0, lt=0.5)  # untouched: reported, never selected on
    # the external (original) file: none | validate (scored, optimistic: it is the source of
    # the synthetic rows) | augment (added to training folds only, repeated external_repeat x)
    external_usage: Literal["none", "validate", "augment"] = "validate"
    external_repeat: int = Field(1, ge=1, le=10)
    columns: dict[str, ColumnSpec] = Field(min_length=1)
    example: dict[str, Any] | None = None  # one valid record: API docs and the form's defaults

    @field_validator("classes")
    @classmethod
    def _unique_classes(cls, value: list[str] | None) -> list[str] | None:
        if value is not None and len(set(value)) != len(value):
            raise ValueError("classes must be unique")
        return value

    @model_validator(mode="before")
    @classmethod
    def _task_agrees_with_classes(cls, values: Any) -> Any:
        """``task`` inferred when absent: 2 classes -> binary, more -> multiclass, none ->
        regression; a task that contradicts ``classes`` is an error naming both."""
        if not isinstance(values, dict):
            return values
        classes, task = values.get("classes"), values.get("task")
        count = len(classes) if isinstance(classes, list) else 0
        inferred = "regression" if not count else "binary" if count == 2 else "multiclass"
        if task is None:
            return {**values, "task": inferred}
        if task == "regression" and count:
            raise ValueError(f"task is regression but classes lists {count} classes")
        if task in ("binary", "multiclass") and not count:
            raise ValueError(f"task is {task}: classes must list the target's classes")
        if task == "binary" and count != 2:
            raise ValueError(f"task is binary but classes lists {count} classes (binary: 2)")
        if task == "multiclass" and count == 2:
            raise ValueError("task is multiclass but classes lists 2 classes: use task: binary")
        return values

    @model_validator(mode="after")
    def _target_range_is_numeric(self) -> DataSchema:
        if self.task != "regression" and (
            self.target_min is not None or self.target_max is not None
        ):
            raise ValueError("target_min/target_max bound a numeric target: a regression only")
        low, high = self.target_min, self.target_max
        if low is not None and high is not None and low > high:
            raise ValueError("target_min must not exceed target_max")
        return self

    @property
    def positive(self) -> str | None:
        """A binary task's positive class: the second of ``classes`` (``[no, yes]`` -> yes)."""
        return self.classes[1] if self.task == "binary" and self.classes else None

    @property
    def labels(self) -> list[str]:
        """The classes (empty for a regression): the columns of the model's outputs."""
        return list(self.classes or [])

    @property
    def is_classification(self) -> bool:
        """Whether the target is a class (binary or multiclass), not a number."""
        return self.task != "regression"

    @model_validator(mode="after")
    def _splits_leave_training_rows(self) -> DataSchema:
        if self.test_size + self.validation_size >= 0.9:
            raise ValueError(
                f"test_size ({self.test_size}) + validation_size ({self.validation_size}) must"
                " leave at least 10% of the rows for training"
            )
        return self

    @model_validator(mode="after")
    def _target_not_a_feature(self) -> DataSchema:
        if self.target in self.columns:
            raise ValueError(f"target {self.target!r} must not also be listed in columns")
        return self

    @property
    def numeric(self) -> list[str]:
        """Numeric feature names, in schema order."""
        return [n for n, c in self.columns.items() if isinstance(c, NumericColumn)]

    @property
    def categorical(self) -> list[str]:
        """Categorical feature names, in schema order."""
        return [n for n, c in self.columns.items() if isinstance(c, CategoricalColumn)]


# ----------------------------------------------------------------------------- features
class EngineeredFeature(Strict):
    """One engineered column: ``name = op(inputs, params)``."""

    name: str
    op: str
    inputs: dict[str, str] = Field(min_length=1)
    params: dict[str, Any] = Field(default_factory=dict)


class FeatureConfig(Strict):
    """Engineered features and per-type preprocessing."""

    engineered: list[EngineeredFeature] = Field(default_factory=list)
    selected: list[str] | None = None
    numeric_scaler: Literal["standard", "none"] = "standard"
    nominal_encoder: Literal["onehot", "ordinal"] = "onehot"

    @field_validator("engineered")
    @classmethod
    def _known_ops(cls, value: list[EngineeredFeature]) -> list[EngineeredFeature]:
        names = [f.name for f in value]
        if len(set(names)) != len(names):
            raise ValueError("engineered feature names must be unique")
        for feat in value:
            if feat.op not in OPS:
                raise ValueError(f"{feat.name}: unknown op {feat.op!r}; known: {sorted(OPS)}")
            missing = set(OPS[feat.op].inputs) - set(feat.inputs)
            extra = set(feat.inputs) - set(OPS[feat.op].inputs)
            if missing or extra:
                raise ValueError(
                    f"{feat.name}: op {feat.op!r} takes inputs {list(OPS[feat.op].inputs)}"
                    f" (missing {sorted(missing)}, unexpected {sorted(extra)})"
                )
        return value


# ----------------------------------------------------------------------------- models
class ParamSpace(Strict):
    """One hyper-parameter's search distribution (Optuna ``suggest_*``)."""

    type: Literal["int", "float", "categorical"]
    low: float | None = None
    high: float | None = None
    log: bool = False
    step: float | None = None
    choices: list[Any] | None = None

    @model_validator(mode="after")
    def _complete(self) -> ParamSpace:
        if self.type == "categorical":
            if not self.choices:
                raise ValueError("categorical parameter needs non-empty 'choices'")
        elif self.low is None or self.high is None or self.low > self.high:
            raise ValueError(f"{self.type} parameter needs low <= high")
        return self


class RegressionVariant(Strict):
    """A family's regressor: its class, and what differs from the classifier's parameters
    (``fixed`` and ``space`` entries replace the classifier's of the same name)."""

    estimator: str
    fixed: dict[str, Any] = Field(default_factory=dict)
    # an entry replaces the classifier's of the same name; null removes it
    space: dict[str, ParamSpace | None] = Field(default_factory=dict)
    warm_start: list[dict[str, Any]] = Field(default_factory=list)  # replaces the classifier's


class ModelFamily(Strict):
    """An estimator class, its fixed parameters and its search space (``regression``: the
    family's regressor, used when ``data.task`` is regression)."""

    estimator: str
    fixed: dict[str, Any] = Field(default_factory=dict)
    seed_param: str | None = "random_state"
    threads_param: str | None = "n_jobs"
    space: dict[str, ParamSpace] = Field(default_factory=dict)
    warm_start: list[dict[str, Any]] = Field(default_factory=list)
    regression: RegressionVariant | None = None


class Budget(Strict):
    """How much work one ``train`` run does."""

    families: list[str] = Field(min_length=1)
    n_trials: dict[str, int] = Field(default_factory=dict)
    timeout_s: dict[str, float] = Field(default_factory=dict)
    trial_timeout_s: float | None = Field(None, gt=0)
    cv_folds: int = Field(5, ge=2)
    sample_rows: int | None = Field(None, ge=100)
    warm_start: bool = True
    feature_selection: bool = False
    space_overrides: dict[str, dict[str, ParamSpace]] = Field(default_factory=dict)
    fixed_overrides: dict[str, dict[str, Any]] = Field(default_factory=dict)


class PrunerConfig(Strict):
    """Optuna MedianPruner settings: prunes a trial whose running fold mean is below median."""

    n_startup_trials: int = Field(3, ge=0)
    n_warmup_steps: int = Field(1, ge=0)


class ModelsConfig(Strict):
    """Model families, budgets and the tuning objective."""

    # what the studies optimise and the ensemble, gate and promotion compare (obesity_risk.metrics)
    # (None: the task's default, accuracy for classification and rmse for regression)
    metric: (
        Literal[
            "accuracy", "balanced_accuracy", "f1_macro", "log_loss", "roc_auc", "rmse", "mae", "r2"
        ]
        | None
    ) = None
    # binary: predict the positive class at this probability; auto = the threshold with the
    # best models.metric on the validation split (0.5 for a metric of the probabilities)
    threshold: Literal["auto"] | Annotated[float, Field(gt=0.0, lt=1.0)] = "auto"
    # regression: the share of rows the served prediction interval covers (split conformal)
    interval_coverage: float = Field(0.9, gt=0.5, lt=1.0)
    n_jobs: int = Field(2, ge=1)
    pruner: PrunerConfig = PrunerConfig()
    families: dict[str, ModelFamily] = Field(min_length=1)
    budgets: dict[str, Budget] = Field(min_length=1)

    @model_validator(mode="after")
    def _budgets_name_known_families(self) -> ModelsConfig:
        for name, budget in self.budgets.items():
            named = (
                set(budget.families)
                | set(budget.n_trials)
                | set(budget.timeout_s)
                | set(budget.space_overrides)
                | set(budget.fixed_overrides)
            )
            unknown = named - set(self.families)
            if unknown:
                raise ValueError(f"budget {name!r} names unknown families {sorted(unknown)}")
        return self
