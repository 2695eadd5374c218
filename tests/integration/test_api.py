"""The FastAPI service: every endpoint, every error path (status + detail), parity, reload."""

from __future__ import annotations

import json
import math
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from fastapi.testclient import TestClient

from obesity_risk.api.app import create_app
from obesity_risk.config import Settings
from obesity_risk.data import load_dataset
from obesity_risk.errors import ModelNotFoundError
from obesity_risk.monitoring.store import PredictionStore
from obesity_risk.registry.client import LoadedModel
from tests.helpers.api import AUTH, TOKEN, record
from tests.helpers.models import make_loaded
from tests.helpers.paths import UCI_CSV
from tests.helpers.settings import quiet_settings


@pytest.fixture
def api_settings(tmp_path: Path) -> Settings:
    return quiet_settings(
        tmp_path,
        serving={
            "prediction_store": f"sqlite:///{tmp_path}/predictions.db",
            "max_batch": 3000,
            "admin_token": TOKEN,
        },
    )


@pytest.fixture
def loaded(small_pipeline) -> LoadedModel:
    return make_loaded(small_pipeline, "7", cv_accuracy=0.9)


@pytest.fixture
def client(api_settings: Settings, loaded: LoadedModel):
    with TestClient(create_app(api_settings, loader=lambda: loaded)) as test_client:
        yield test_client


@pytest.fixture(scope="module")
def uci():
    settings = quiet_settings()
    return load_dataset(UCI_CSV, settings.data, labelled=None)


# ----------------------------------------------------------------------------- predict
def test_predict_one_record(client: TestClient, uci, small_pipeline) -> None:
    response = client.post("/predict", json=record(uci, 3))
    assert response.status_code == 200, response.text
    body = response.json()
    expected = small_pipeline.predict_proba(uci.X.iloc[[3]])[0]
    assert body["label"] == small_pipeline.classes_[expected.argmax()]
    assert body["model_version"] == "7" and body["model_name"] == "obesity-risk"
    assert len(body["request_id"]) == 32
    np.testing.assert_allclose(
        [body["probabilities"][c] for c in small_pipeline.classes_], expected, rtol=0, atol=1e-12
    )


def test_batch_equals_offline_pipeline_on_the_whole_uci_file(
    client: TestClient, uci, small_pipeline
) -> None:
    records = [record(uci, i) for i in range(len(uci.X))]
    response = client.post("/predict/batch", json={"records": records})
    assert response.status_code == 200
    predictions = response.json()["predictions"]
    assert len(predictions) == len(uci.X) == 2111
    expected = small_pipeline.predict_proba(uci.X)
    got = np.array([[p["probabilities"][c] for c in small_pipeline.classes_] for p in predictions])
    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-9)
    assert [p["label"] for p in predictions] == list(small_pipeline.predict(uci.X))


def test_unseen_but_declared_category_is_accepted(client: TestClient, uci) -> None:
    response = client.post("/predict", json=record(uci) | {"CALC": "Always"})
    assert response.status_code == 200
    metrics = client.get("/metrics").text
    assert 'obesity_risk_unknown_categories_total{column="CALC"} 1.0' in metrics


@pytest.mark.parametrize(
    ("change", "field", "message"),
    [
        ({"Age": "old"}, "Age", "valid number"),
        ({"Height": 175.0}, "Height", "less than or equal to 2.3"),
        ({"Gender": "Other"}, "Gender", "Input should be 'Female' or 'Male'"),
        ({"extra": 1}, "extra", "Extra inputs are not permitted"),
        ({"Weight": None}, "Weight", "valid number"),
    ],
)
def test_invalid_record_is_422_with_field_message(
    client: TestClient, uci, change, field, message
) -> None:
    response = client.post("/predict", json=record(uci) | change)
    assert response.status_code == 422
    errors = response.json()["detail"]
    assert any(e["loc"][-1] == field and message in e["msg"] for e in errors), errors


def test_missing_field_is_422(client: TestClient, uci) -> None:
    body = record(uci)
    del body["FAF"]
    response = client.post("/predict", json=body)
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "FAF"]
    assert response.json()["detail"][0]["type"] == "missing"


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity"])
def test_nan_and_inf_are_rejected(client: TestClient, uci, literal: str) -> None:
    text = json.dumps(record(uci) | {"TUE": 1.0}).replace('"TUE": 1.0', f'"TUE": {literal}')
    response = client.post("/predict", content=text, headers={"content-type": "application/json"})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"][-1] == "TUE"


def test_malformed_json_is_422(client: TestClient) -> None:
    response = client.post(
        "/predict", content="{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "json_invalid"


def test_empty_batch_is_422(client: TestClient) -> None:
    response = client.post("/predict/batch", json={"records": []})
    assert response.status_code == 422
    assert "at least 1 item" in response.json()["detail"][0]["msg"]


def test_oversized_batch_is_413(client: TestClient, uci) -> None:
    response = client.post("/predict/batch", json={"records": [record(uci)] * 3001})
    assert response.status_code == 413
    assert response.json()["detail"] == "more than 3000 records in one batch; the maximum is 3000"


def test_oversized_body_is_413_before_it_is_parsed(client: TestClient) -> None:
    limit = 3000 * 4096  # max_batch (test settings) * bytes allowed per record
    declared = client.post(
        "/predict/batch",
        content=b" " * (limit + 1),
        headers={"content-type": "application/json"},
    )
    streamed = client.post(
        "/predict/batch",
        content=iter([b" " * (limit // 2)] * 3),  # chunked: no Content-Length
        headers={"content-type": "application/json"},
    )
    for response in (declared, streamed):
        assert response.status_code == 413
        assert response.json()["detail"].startswith(f"request body over {limit} bytes")


def test_bad_record_inside_a_batch_names_its_index(client: TestClient, uci) -> None:
    records = [record(uci, i) for i in range(3)]
    records[2]["Weight"] = -5
    response = client.post("/predict/batch", json={"records": records})
    assert response.status_code == 422
    assert response.json()["detail"][0]["loc"] == ["body", "records", 2, "Weight"]


@pytest.mark.parametrize(
    ("text", "loc", "kind"),
    [
        ("{not json", ["body"], "json_invalid"),
        ("[]", ["body"], "model_type"),
        ('{"rows": []}', ["body", "records"], "missing"),
        ('{"records": [{"Age": NaN}]}', ["body", "records", 0, "Age"], "finite_number"),
        (b"\x80", ["body"], "json_invalid"),  # not UTF-8 (found by schemathesis)
        # deep nesting (a body of 100,000 "{" is refused earlier: 413, more than max_batch)
        (b"[" * 100_000, ["body"], "json_invalid"),
    ],
)
def test_malformed_batch_body_is_422(
    client: TestClient, text: str | bytes, loc: list, kind: str
) -> None:
    response = client.post(
        "/predict/batch", content=text, headers={"content-type": "application/json"}
    )
    assert response.status_code == 422
    errors = [(e["loc"], e["type"]) for e in response.json()["detail"]]
    assert (loc, kind) in errors, errors
    assert len(response.content) < 2000  # the body is not echoed whole


def test_batch_body_is_documented_with_the_record_schema(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    body = spec["paths"]["/predict/batch"]["post"]["requestBody"]["content"]["application/json"]
    records = body["schema"]["properties"]["records"]
    assert records["minItems"] == 1
    ref = records["items"]["$ref"]
    assert ref == "#/components/schemas/Record"
    assert set(spec["components"]["schemas"]["Record"]["properties"]) >= {"Age", "Gender"}
    responses = spec["paths"]["/predict/batch"]["post"]["responses"]
    assert {"200", "413", "422", "503"} <= set(responses)
    error = responses["422"]["content"]["application/json"]["schema"]["$ref"]
    assert error.split("/")[-1] in spec["components"]["schemas"]


# ----------------------------------------------------------------------------- prediction log
def test_every_acknowledged_prediction_is_in_the_store(
    client: TestClient, api_settings, uci
) -> None:
    ids = [client.post("/predict", json=record(uci, i)).json()["request_id"] for i in range(5)]
    batch = client.post(
        "/predict/batch", json={"records": [record(uci, i) for i in range(4)]}
    ).json()
    store = PredictionStore(api_settings.prediction_store_url)
    try:
        logged = store.read()
    finally:
        store.close()
    assert len(logged) == 9
    assert set(ids) | {batch["request_id"]} == set(logged["request_id"])
    assert (logged["model_version"] == "7").all()
    assert logged["Height"].iloc[0] == pytest.approx(uci.X["Height"].iloc[0])


def test_feedback_labels_logged_predictions(client: TestClient, api_settings, uci) -> None:
    single = client.post("/predict", json=record(uci, 0)).json()["request_id"]
    batch = client.post(
        "/predict/batch", json={"records": [record(uci, i) for i in range(1, 4)]}
    ).json()["request_id"]
    labels = [
        {"request_id": single, "label": "Normal_Weight"},
        {"request_id": batch, "position": 2, "label": "Obesity_Type_I"},
    ]
    assert client.post("/feedback", json={"labels": labels}).status_code == 401  # no token
    # all or nothing: an unknown class, or a prediction the log does not have, stores nothing
    wrong = client.post(
        "/feedback", headers=AUTH, json={"labels": [*labels, {**labels[0], "label": "Fat"}]}
    )
    assert wrong.status_code == 422 and wrong.json()["detail"][0]["type"] == "literal_error"
    assert wrong.json()["detail"][0]["loc"][-3:] == ["labels", 2, "label"]
    # the schema says so: the label is one of the model's classes (a fuzzer knows it too)
    spec = client.get("/openapi.json").json()["paths"]["/feedback"]["post"]["requestBody"]
    item = spec["content"]["application/json"]["schema"]["properties"]["labels"]["items"]
    label_schema = item["properties"]["label"] if "properties" in item else item
    assert "Normal_Weight" in json.dumps(label_schema) and "Fat" not in json.dumps(label_schema)
    missing = client.post(
        "/feedback", headers=AUTH, json={"labels": [*labels, {**labels[1], "position": 3}]}
    )
    assert missing.status_code == 404
    assert missing.json()["detail"] == f"no logged prediction for {batch}[3]"
    stored = client.post("/feedback", headers=AUTH, json={"labels": labels})
    assert stored.status_code == 200 and stored.json() == {"stored": 2}
    relabel = {**labels[0], "label": "Overweight_Level_I"}  # posted again: replaces
    assert client.post("/feedback", headers=AUTH, json={"labels": [relabel]}).json()["stored"] == 1
    store = PredictionStore(api_settings.prediction_store_url)
    try:
        logged = store.read()
    finally:
        store.close()
    actual = logged["actual"].astype(object).where(logged["actual"].notna(), None)
    assert actual.tolist() == ["Overweight_Level_I", None, None, "Obesity_Type_I"]
    assert logged["position"].tolist() == [0, 0, 1, 2]
    assert "obesity_risk_feedback_labels_total 3.0" in client.get("/metrics").text


def test_feedback_over_the_label_limit_is_a_validation_error(client: TestClient) -> None:
    """One label too many is refused by validation (422), not by the body limit (413)."""
    label = {"request_id": "r" * 64, "position": 0, "label": "Normal_Weight", "extra": 1}
    assert client.post("/feedback", headers=AUTH, json={"labels": [label]}).status_code == 422
    del label["extra"]
    too_many = client.post("/feedback", headers=AUTH, json={"labels": [label] * 10_001})
    assert too_many.status_code == 422
    assert too_many.json()["detail"][0]["type"] == "too_long"
    huge = client.post(
        "/feedback",
        headers={**AUTH, "content-type": "application/json", "content-length": "50000000"},
        content=b"{}",
    )
    assert huge.status_code == 413


# ----------------------------------------------------------------------------- hostile inputs
JSON = {"content-type": "application/json"}


@pytest.mark.parametrize("where", ["value", "key"])
def test_a_lone_surrogate_is_422_on_both_routes(client: TestClient, uci, where: str) -> None:
    """``"\\ud800"`` is valid JSON syntax but no Unicode text: a 422 naming it, never a 500."""
    body = json.dumps(record(uci))  # escapes non-ASCII: the surrogate stays a JSON escape
    if where == "value":
        text = body.replace(f'"{record(uci)["Gender"]}"', '"\\ud800"')
    else:
        text = body[:-1] + ', "\\ud800": 1}'
    single = client.post("/predict", content=text, headers=JSON)
    assert single.status_code == 422, single.text
    error = single.json()["detail"][0]
    assert error["type"] == "string_unicode" and error["input"] == "\\ud800"  # echoed escaped
    assert error["loc"] == (["body", "Gender"] if where == "value" else ["body"])
    batch = client.post("/predict/batch", content=f'{{"records": [{text}]}}', headers=JSON)
    assert batch.status_code == 422 and batch.json()["detail"][0]["type"] == "json_invalid"


@pytest.mark.parametrize(
    ("path", "template"),
    [
        ("/predict", "{rec}"),
        ("/predict/batch", '{{"records": [{rec}]}}'),
        ("/predict/batch", '{{"records": [{plain}], "records": [{plain}]}}'),
    ],
)
def test_duplicate_json_keys_are_refused(client: TestClient, uci, path, template) -> None:
    plain = json.dumps(record(uci))
    twice = plain[:-1] + ', "Age" : 99.0}'  # the last "Age" would win silently
    response = client.post(path, content=template.format(rec=twice, plain=plain), headers=JSON)
    assert response.status_code == 422, response.text
    error = response.json()["detail"][0]
    assert error["type"] == "duplicate_key" and error["loc"] == ["body"]
    assert error["msg"].startswith(f"duplicate key {error['input']!r}")
    assert error["input"] in {"Age", "records"}


def test_duplicate_feedback_keys_are_refused(client: TestClient, uci) -> None:
    request_id = client.post("/predict", json=record(uci)).json()["request_id"]
    label = f'{{"request_id": "{request_id}", "label": "Fat", "label": "Normal_Weight"}}'
    response = client.post(
        "/feedback", content=f'{{"labels": [{label}]}}', headers={**JSON, **AUTH}
    )
    assert response.status_code == 422, response.text
    assert response.json()["detail"][0]["msg"].startswith("duplicate key 'label'")
    surrogate = client.post(
        "/feedback",
        content='{"labels": [{"request_id": "x", "label": "\\ud800"}]}',
        headers={**JSON, **AUTH},
    )
    assert surrogate.status_code == 422 and surrogate.json()["detail"][0]["type"] == "json_invalid"


def test_batch_refuses_unknown_top_level_fields(client: TestClient, uci) -> None:
    response = client.post("/predict/batch", json={"records": [record(uci)], "explain": True})
    assert response.status_code == 422
    assert response.json()["detail"][0]["type"] == "extra_forbidden"
    assert response.json()["detail"][0]["loc"] == ["body", "explain"]


def test_report_window_is_bounded(client: TestClient) -> None:
    """``last`` past the bound is a 422: no job is queued to overflow the database later."""
    too_many = client.post("/monitoring/reports", headers=AUTH, json={"last": 10**19})
    assert too_many.status_code == 422, too_many.text
    assert too_many.json()["detail"][0]["type"] == "less_than_equal"
    assert too_many.json()["detail"][0]["loc"] == ["body", "last"]


# ----------------------------------------------------------------------------- service routes
def test_health_ready_version_model(client: TestClient) -> None:
    assert client.get("/health").json() == {"status": "ok"}
    assert client.get("/ready").json() == {
        "ready": True,
        "model_version": "7",
        "source": "test://small",
        "reason": None,
    }
    version = client.get("/version").json()
    assert version["model_version"] == "7" and version["package_version"]
    info = client.get("/model").json()
    assert info["card"]["family"] == "lgbm" and info["card"]["version"] == "7"
    assert info["card"]["metrics"]["cv_accuracy"] == 0.9
    assert len(info["card"]["classes"]) == 7 and info["source"] == "test://small"


def test_not_ready_without_a_model(api_settings: Settings, uci) -> None:
    def missing() -> LoadedModel:
        raise ModelNotFoundError("no exported champion in /nowhere")

    with TestClient(create_app(api_settings, loader=missing)) as test_client:
        assert test_client.get("/health").status_code == 200
        ready = test_client.get("/ready")
        assert ready.status_code == 503
        assert ready.json()["reason"] == "model not loaded: no exported champion in /nowhere"
        response = test_client.post("/predict", json=record(uci))
        assert response.status_code == 503
        assert response.json()["detail"] == "model not loaded: no exported champion in /nowhere"
        assert test_client.get("/model").status_code == 503
        assert test_client.get("/version").json()["model_version"] is None
        metrics = test_client.get("/metrics").text
        assert "obesity_risk_model_ready 0.0" in metrics
        assert "obesity_risk_model_load_failures_total 1.0" in metrics


def test_reload_swaps_and_a_failed_reload_keeps_the_old_model(
    api_settings, loaded, small_pipeline
) -> None:
    versions = iter([loaded, make_loaded(small_pipeline, "8", "test://next")])
    fail = {"now": False}

    def loader() -> LoadedModel:
        if fail["now"]:
            raise ModelNotFoundError("registry has no champion")
        return next(versions)

    with TestClient(create_app(api_settings, loader=loader)) as test_client:
        response = test_client.post("/model/reload", headers=AUTH)
        assert response.status_code == 200
        assert response.json() == {
            "reloaded": True,
            "model_version": "8",
            "previous_version": "7",
            "source": "test://next",
        }
        fail["now"] = True
        response = test_client.post("/model/reload", headers=AUTH)
        assert response.status_code == 503
        assert (
            response.json()["detail"]
            == "reload failed, still serving version 8: registry has no champion"
        )
        assert test_client.get("/ready").json()["model_version"] == "8"
        metrics = test_client.get("/metrics").text
        assert "obesity_risk_model_ready 1.0" in metrics  # the old model still serves
        assert "obesity_risk_model_load_failures_total 1.0" in metrics
        assert 'obesity_risk_model_info{source="test://next",version="8"} 1.0' in metrics


def test_metrics_are_prometheus_text(client: TestClient, uci) -> None:
    client.post("/predict", json=record(uci))
    client.post("/predict", json={"bad": 1})
    text = client.get("/metrics").text
    assert (
        'obesity_risk_http_requests_total{method="POST",route="/predict",status="200"} 1.0' in text
    )
    assert (
        'obesity_risk_http_requests_total{method="POST",route="/predict",status="422"} 1.0' in text
    )
    assert (
        'obesity_risk_http_request_duration_seconds_bucket{le="0.5",method="POST",route="/predict"}'
        in text
    )
    assert 'obesity_risk_model_info{source="test://small",version="7"} 1.0' in text
    assert "obesity_risk_predictions_total{label=" in text
    assert "obesity_risk_model_ready 1.0" in text
    # the prediction log: one row committed, its commit timed, the queue drained
    assert "obesity_risk_prediction_log_rows_total 1.0" in text
    assert "obesity_risk_prediction_log_commit_duration_seconds_count 1.0" in text
    assert "obesity_risk_prediction_log_queue_depth 0.0" in text
    assert "obesity_risk_prediction_log_queue_capacity " in text


def test_form_page_and_docs(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert '<select name="CALC" id="CALC">' in page.text and 'href="/docs"' in page.text
    schema = client.get("/openapi.json").json()
    for path in (
        "/predict",
        "/predict/batch",
        "/health",
        "/ready",
        "/model",
        "/version",
        "/model/reload",
        "/metrics",
    ):
        assert path in schema["paths"], path
    assert schema["components"]["schemas"]["Record"]["additionalProperties"] is False


# ----------------------------------------------------------------------------- concurrency
def test_concurrent_answers_equal_sequential_answers(client: TestClient, uci) -> None:
    records = [record(uci, i) for i in range(64)]

    def call(body: dict) -> dict:
        return client.post("/predict", json=body).json()["probabilities"]

    sequential = [call(r) for r in records]
    with ThreadPoolExecutor(32) as pool:
        concurrent = list(pool.map(call, records))
    assert concurrent == sequential
    assert all(math.isclose(sum(p.values()), 1.0) for p in concurrent)


def test_pipeline_fallback_path_gives_the_same_answers(api_settings, small_pipeline, uci) -> None:
    """A pipeline the compiled path does not support is served through sklearn itself."""
    from sklearn.pipeline import Pipeline

    renamed = Pipeline([(f"x{name}", step) for name, step in small_pipeline.steps])
    loaded = make_loaded(renamed, "1", "test://renamed")
    with TestClient(create_app(api_settings, loader=lambda: loaded)) as test_client:
        body = test_client.post(
            "/predict/batch", json={"records": [record(uci, i) for i in range(50)]}
        ).json()
    got = pd.DataFrame([p["probabilities"] for p in body["predictions"]])[
        list(small_pipeline.classes_)
    ]
    np.testing.assert_allclose(
        got.to_numpy(), small_pipeline.predict_proba(uci.X.head(50)), atol=1e-12
    )
    # no compiled form, no explanation path: a clear 501, not a stack trace
    with TestClient(create_app(api_settings, loader=lambda: loaded)) as test_client:
        response = test_client.post("/predict?explain=true", json=record(uci, 0))
    assert (
        response.status_code == 501 and "explanations are unavailable" in response.json()["detail"]
    )


def test_explain_adds_the_top_columns_and_plain_predict_does_not(
    client: TestClient, uci, api_settings
) -> None:
    plain = client.post("/predict", json=record(uci, 5)).json()
    assert "explanation" not in plain
    body = client.post("/predict?explain=true", json=record(uci, 5)).json()
    assert body["label"] == plain["label"] and body["probabilities"] == plain["probabilities"]
    why = body["explanation"]
    assert why["label"] == body["label"] and why["space"] == "probability"
    assert why["value"] == body["probabilities"][body["label"]]  # the served probability
    assert len(why["contributions"]) == api_settings.serving.explain_top
    total = why["base_value"] + sum(why["contributions"].values()) + why["other"]
    assert total == pytest.approx(why["value"], abs=1e-9)
    batch = client.post(
        "/predict/batch?explain=true", json={"records": [record(uci, i) for i in range(20)]}
    ).json()
    assert all(p["explanation"]["label"] == p["label"] for p in batch["predictions"])
    assert client.post("/predict?explain=maybe", json=record(uci, 5)).status_code == 422


def test_model_card_page(client: TestClient) -> None:
    response = client.get("/model/card")
    assert response.status_code == 200 and response.headers["content-type"].startswith("text/html")
    assert "<h2>Intended use</h2>" in response.text and "not a diagnosis" in response.text
