"""Micro-batching: a record scored in a batch of any size (1-64) gets exactly what it gets alone,
for every family and the blend; the batcher shares model calls between concurrent requests,
fails only the batch a fault hit, and skips a request whose client went away."""

from __future__ import annotations

import asyncio

import numpy as np
import pytest

from obesity_risk.api.batching import MicroBatcher
from obesity_risk.data import load_dataset, sample_stratified
from obesity_risk.estimators.blend import BlendClassifier
from obesity_risk.features import build_pipeline
from obesity_risk.serving.predictor import Predictor
from obesity_risk.training.families import effective_family, make_estimator
from tests.helpers.models import SMALL, make_loaded
from tests.helpers.paths import TRAIN_CSV, UCI_CSV
from tests.helpers.settings import quiet_settings

SIZES = [1, 2, 3, 7, 16, 33, 64]


@pytest.fixture(scope="module")
def obesity():
    """Every family's small classifier (2,000 S4E2 rows) and 64 UCI records."""
    settings = quiet_settings()
    data = load_dataset(TRAIN_CSV, settings.data)
    X, y = sample_stratified(data.X, data.y, 2000, 0)
    pipelines = {}
    for name, params in SMALL.items():
        estimator = make_estimator(settings, effective_family(settings, name), params)
        pipelines[name] = build_pipeline(settings.data, settings.features, estimator).fit(X, y)
    records = load_dataset(UCI_CSV, settings.data, labelled=None).X.head(64)
    return settings, pipelines, records.to_dict(orient="records")


def _model(pipelines: dict, name: str):
    if name != "blend":
        return pipelines[name]
    blend = BlendClassifier(
        members={n: pipelines[n] for n in ("xgb", "lgbm", "catboost")},
        weights={"xgb": 0.3, "lgbm": 0.5, "catboost": 0.2},
        class_weights=[1.1, 0.9, 1.0, 1.0, 1.2, 0.8, 1.0],
    )
    blend.classes_ = pipelines["lgbm"].classes_
    return blend


@pytest.mark.parametrize("name", [*SMALL, "blend"])
def test_a_record_in_a_batch_gets_exactly_what_it_gets_alone(obesity, name: str) -> None:
    settings, pipelines, records = obesity
    predictor = Predictor.configured(make_loaded(_model(pipelines, name)), settings)
    alone = [predictor.predict_records([r]) for r in records]
    for size in SIZES:
        each = predictor.predict_each(records[:size])
        assert len(each) == size
        for i, one in enumerate(each):
            np.testing.assert_array_equal(one.probabilities, alone[i].probabilities)
            assert one.labels == alone[i].labels and one.classes == alone[i].classes


def test_unknown_categories_are_counted_per_record(obesity) -> None:
    settings, pipelines, records = obesity
    predictor = Predictor.configured(make_loaded(pipelines["lgbm"]), settings)
    odd = [records[0], {**records[1], "MTRANS": "Teleport"}, records[2]]
    assert [p.unknown for p in predictor.predict_each(odd)] == [{}, {"MTRANS": 1}, {}]


class _Counting:
    """A predictor stand-in around the real one that records each call's batch size and can
    fail the calls whose batch holds a poisoned record."""

    def __init__(self, predictor: Predictor, poison: dict | None = None) -> None:
        self.predictor, self.poison, self.sizes = predictor, poison, []

    def predict_each(self, records):
        self.sizes.append(len(records))
        if self.poison is not None and any(r is self.poison for r in records):
            raise RuntimeError("booster failed")
        return self.predictor.predict_each(records)


def test_concurrent_requests_share_model_calls_and_get_their_own_rows(obesity) -> None:
    settings, pipelines, records = obesity
    predictor = Predictor.configured(make_loaded(pipelines["lgbm"]), settings)
    counting = _Counting(predictor)
    batcher = MicroBatcher(max_batch=16, max_wait_ms=0)

    async def burst():
        return await asyncio.gather(*(batcher.predict(counting, r) for r in records))

    alone = asyncio.run(batcher.predict(counting, records[0]))
    assert counting.sizes == [1]  # a request that finds the model idle goes at once, alone
    counting.sizes.clear()
    results = asyncio.run(burst())
    batcher.close()
    assert counting.sizes == [16, 16, 16, 16]  # 64 waiting at once: shared calls of max_batch
    np.testing.assert_array_equal(alone.probabilities, results[0].probabilities)
    for record, got in zip(records, results, strict=True):
        expected = predictor.predict_records([record])
        np.testing.assert_array_equal(got.probabilities, expected.probabilities)


def test_a_failed_call_fails_its_batch_only_and_a_cancelled_request_stalls_nothing(
    obesity,
) -> None:
    settings, pipelines, records = obesity
    predictor = Predictor.configured(make_loaded(pipelines["dt"]), settings)
    poison = dict(records[5])
    counting = _Counting(predictor, poison)
    batcher = MicroBatcher(max_batch=4)

    async def scenario():
        first = asyncio.ensure_future(batcher.predict(counting, records[0]))  # runs alone
        await asyncio.sleep(0)
        queued = [asyncio.ensure_future(batcher.predict(counting, r)) for r in records[1:5]]
        poisoned = [asyncio.ensure_future(batcher.predict(counting, r)) for r in
                    (poison, records[6], records[7], records[8])]  # fmt: skip
        gone = asyncio.ensure_future(batcher.predict(counting, records[9]))
        after = asyncio.ensure_future(batcher.predict(counting, records[10]))
        await asyncio.sleep(0)
        gone.cancel()  # its client disconnected while it waited
        return await asyncio.gather(first, *queued, *poisoned, after, return_exceptions=True)

    out = asyncio.run(scenario())
    batcher.close()
    ok, failed = out[:5], out[5:9]
    assert all(not isinstance(x, Exception) for x in ok) and not isinstance(out[9], Exception)
    assert all(isinstance(x, RuntimeError) for x in failed)  # the poisoned batch, and only it
    assert counting.sizes == [1, 4, 4, 1]  # the cancelled request was never scored
