"""The compiled serving path equals the sklearn pipeline, bit for bit where it matters."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import MinMaxScaler

from obesity_risk.data import load_dataset
from obesity_risk.serving.fastpath import SMALL_BATCH, CompiledPipeline, UnsupportedPipelineError
from tests.helpers.paths import UCI_CSV
from tests.helpers.settings import quiet_settings


@pytest.fixture(scope="module")
def uci_records():
    settings = quiet_settings()
    X = load_dataset(UCI_CSV, settings.data, labelled=None).X
    return X, X.to_dict(orient="records")


def test_matrix_equals_column_transformer_output(small_pipeline, uci_records) -> None:
    X, records = uci_records
    compiled = CompiledPipeline(small_pipeline)
    expected = Pipeline(small_pipeline.steps[:-1]).transform(X)
    np.testing.assert_array_equal(compiled.transform(records), expected)


def test_probabilities_equal_pipeline_for_single_rows_and_batches(
    small_pipeline, uci_records
) -> None:
    X, records = uci_records
    compiled = CompiledPipeline(small_pipeline)
    expected = small_pipeline.predict_proba(X)
    np.testing.assert_allclose(compiled.predict_proba(records), expected, rtol=0, atol=1e-12)
    for i in range(0, len(records), 97):  # single rows take the one-thread estimator copy
        np.testing.assert_allclose(
            compiled.predict_proba([records[i]]), expected[[i]], rtol=0, atol=1e-12
        )
    assert len(records) >= SMALL_BATCH


def test_unknown_categories_counted_and_encoded_like_the_pipeline(
    small_pipeline, uci_records
) -> None:
    X, _ = uci_records
    odd = X.head(5).assign(MTRANS="Teleport", CALC="Always")
    compiled = CompiledPipeline(small_pipeline)
    odd_records = odd.to_dict(orient="records")
    assert compiled.unknown_counts(odd_records) == {"CALC": 5, "MTRANS": 5}
    np.testing.assert_allclose(
        compiled.predict_proba(odd_records), small_pipeline.predict_proba(odd), rtol=0, atol=1e-12
    )


def test_single_row_copy_uses_one_thread(small_pipeline) -> None:
    compiled = CompiledPipeline(small_pipeline, n_threads=2)
    assert compiled.single.estimator_.get_params()["n_jobs"] == 1
    assert compiled.multi.estimator_.get_params()["n_jobs"] == 2
    assert small_pipeline.named_steps["model"].estimator_.get_params()["n_jobs"] == 2  # untouched


def test_unsupported_step_is_refused(small_pipeline) -> None:
    pre = small_pipeline.named_steps["preprocess"]
    name, _, columns = pre.transformers_[0]
    pre_copy = Pipeline(small_pipeline.steps)  # shallow: swap one transformer on a copy
    import copy

    broken = copy.deepcopy(pre_copy)
    ct = broken.named_steps["preprocess"]
    ct.transformers_[0] = (name, MinMaxScaler().fit(np.zeros((2, len(columns)))), columns)
    with pytest.raises(UnsupportedPipelineError, match="no compiled form for MinMaxScaler"):
        CompiledPipeline(broken)


def test_the_one_row_path_equals_the_many_row_transform_on_every_row(
    small_pipeline, uci_records
) -> None:
    """`transform_one` (what one record takes) builds exactly the row the many-row transform
    builds for it, including unknown categories (all-zero one-hot) and unseen ordinals."""
    X, records = uci_records
    compiled = CompiledPipeline(small_pipeline)
    many = compiled._transform(  # pylint: disable=protected-access
        len(records), lambda name: np.array([r[name] for r in records], dtype=object)
    )
    for i, record in enumerate(records):
        np.testing.assert_array_equal(compiled.transform_one(record), many[[i]])
    odd = {**records[0], "MTRANS": "Teleport", "CAEC": "Never"}
    expected = Pipeline(small_pipeline.steps[:-1]).transform(
        X.head(1).assign(MTRANS="Teleport", CAEC="Never")
    )
    np.testing.assert_array_equal(compiled.transform_one(odd), expected)
