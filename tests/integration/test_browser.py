"""The prediction form in a real headless Chromium (Debian chromium + chromium-driver)."""

from __future__ import annotations

import contextlib
import shutil
import threading
from pathlib import Path

import pytest
import uvicorn
from selenium import webdriver
from selenium.webdriver.chrome.service import Service
from selenium.webdriver.common.by import By
from selenium.webdriver.support import expected_conditions as ec
from selenium.webdriver.support.ui import Select, WebDriverWait

from obesity_risk.api.app import create_app
from tests.helpers.figures import figure_path, publish_figure
from tests.helpers.models import make_loaded
from tests.helpers.net import free_port, wait_http_ok
from tests.helpers.settings import quiet_settings

pytestmark = pytest.mark.slow
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMEDRIVER = shutil.which("chromedriver") or "/usr/bin/chromedriver"


@contextlib.contextmanager
def _in_thread(settings, loaded):
    """The API serving ``loaded`` in a uvicorn thread of this process; its base URL."""
    port = free_port()
    config = uvicorn.Config(
        create_app(settings, loader=lambda: loaded), port=port, log_level="warning"
    )
    uv = uvicorn.Server(config)
    thread = threading.Thread(target=uv.run, daemon=True)
    thread.start()
    base = f"http://127.0.0.1:{port}"
    wait_http_ok(f"{base}/ready", 30)
    try:
        yield base
    finally:
        uv.should_exit = True
        thread.join(10)


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory, small_pipeline):
    tmp = tmp_path_factory.mktemp("browser")
    api_settings = quiet_settings(
        tmp, serving={"prediction_store": f"sqlite:///{tmp}/predictions.db"}
    )
    loaded = make_loaded(small_pipeline, "5")
    with _in_thread(api_settings, loaded) as base:
        yield base


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    assert Path(CHROMIUM).exists(), "Debian chromium is required (.ci/run installs it)"
    options = webdriver.ChromeOptions()
    options.binary_location = CHROMIUM
    for flag in (
        "--headless=new",
        "--no-sandbox",
        "--disable-gpu",
        "--disable-dev-shm-usage",
        "--disable-background-networking",
        "--disable-component-update",
        "--disable-sync",
        "--no-first-run",
        "--window-size=1000,1400",
        f"--user-data-dir={tmp_path_factory.mktemp('chromium-profile')}",
    ):
        options.add_argument(flag)
    options.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service(CHROMEDRIVER), options=options)
    yield driver
    driver.quit()


def test_form_predicts_in_a_real_browser(
    server: str, browser, small_pipeline, tmp_path: Path
) -> None:
    browser.get(f"{server}/")
    assert browser.title == "obesity-risk"
    weight = browser.find_element(By.ID, "Weight")
    weight.clear()
    weight.send_keys("135")
    Select(browser.find_element(By.ID, "CALC")).select_by_visible_text("Always")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "result")))
    label = browser.find_element(By.ID, "label").text
    rows = browser.find_elements(By.CSS_SELECTOR, "#probs tr")
    assert len(rows) == 7
    assert browser.find_element(By.ID, "version").text == "5"
    # the same record through the offline pipeline
    import pandas as pd

    record = {
        el.get_attribute("name"): el.get_attribute("value")
        for el in browser.find_elements(By.CSS_SELECTOR, "#form input, #form select")
    }
    frame = pd.DataFrame([record]).astype(
        {c: float for c in ("Age", "Height", "Weight", "FCVC", "NCP", "CH2O", "FAF", "TUE")}
    )
    assert label == small_pipeline.predict(frame)[0]
    assert label.startswith("Obesity")
    # the explanation: one bar per top input column, Weight (or BMI) among the largest
    assert browser.find_element(By.ID, "why-label").text == label
    names = [e.text for e in browser.find_elements(By.CSS_SELECTOR, "#why > span:not(.num)")]
    bars = browser.find_elements(By.CSS_SELECTOR, "#why .bar")
    assert len(names) == len(bars) == 5
    assert {"Weight", "BMI"} & set(names[:2]), names
    assert bars[0].get_attribute("style").startswith("width: 100")
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    shot = figure_path(tmp_path, "api-form.png")
    browser.save_screenshot(str(shot))
    publish_figure(shot)


def test_form_shows_validation_errors(server: str, browser) -> None:
    browser.get(f"{server}/")
    height = browser.find_element(By.ID, "Height")
    browser.execute_script(
        "arguments[0].removeAttribute('max')", height
    )  # bypass the browser check
    height.clear()
    height.send_keys("175")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(lambda d: d.find_element(By.ID, "error").text)
    assert (
        "Height: Input should be less than or equal to 2.3"
        in browser.find_element(By.ID, "error").text
    )


def test_reports_render_in_a_real_browser(tmp_path: Path, browser, small_pipeline) -> None:
    """Evidently HTML and the index, opened from the file system: no JS errors, content shown."""
    from selenium.common.exceptions import WebDriverException

    from obesity_risk.data import load_dataset
    from obesity_risk.monitoring import reports
    from obesity_risk.monitoring.rules import evaluate
    from obesity_risk.training.evaluation import reference_frame
    from tests.helpers.paths import TRAIN_CSV, UCI_CSV

    settings = quiet_settings()
    train = load_dataset(TRAIN_CSV, settings.data)
    uci = load_dataset(UCI_CSV, settings.data, labelled=None)
    reference = reference_frame(
        small_pipeline, train.X.head(3000), train.y.head(3000), settings.data.target
    )
    current = reference_frame(small_pipeline, uci.X, uci.y, settings.data.target)
    out = tmp_path / "monitoring"
    drift = reports.build_report(
        "data-drift", reference, current, settings.data, out, meta={"model_version": "5"}
    )
    reports.record_decisions(drift, evaluate(settings.monitoring.rules, drift.metrics))
    reports.build_report("performance", reference, current, settings.data, out)

    browser.get_log("browser")  # drop entries from earlier tests
    browser.get(drift.html.as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: "Drifted" in d.find_element(By.TAG_NAME, "body").text
    )
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "Weight" in body and "Drift" in body
    try:
        logs = browser.get_log("browser")
    except WebDriverException:
        logs = []
    severe = [e for e in logs if e["level"] == "SEVERE"]
    assert not severe, severe[:3]
    shot = figure_path(tmp_path, "drift-report.png")
    browser.save_screenshot(str(shot))
    publish_figure(shot)

    browser.get((out / "latest-performance.html").as_uri())
    WebDriverWait(browser, 30).until(
        lambda d: "Accuracy" in d.find_element(By.TAG_NAME, "body").text
    )

    for _ in range(2):  # three drift reports in all: a trend of three points per rule
        again = reports.build_report(
            "data-drift", reference, current, settings.data, out, meta={"model_version": "5"}
        )
        reports.record_decisions(again, evaluate(settings.monitoring.rules, again.metrics))
    browser.get((out / "index.html").as_uri())
    index = browser.find_element(By.TAG_NAME, "body").text
    assert "Monitoring reports" in index and "data-drift" in index and "performance" in index
    assert ("DRIFT:" in index) or ("no rule fired" in index)
    assert "2,111 rows" in index and "None" not in index
    rows = browser.find_elements(By.CSS_SELECTOR, "#reports tr[data-kind]")
    kinds = [r.get_attribute("data-kind") for r in rows]
    assert kinds == ["data-drift", "data-drift", "performance", "data-drift"]  # newest first
    check_index_filter_and_trends(browser, rows)
    shot = figure_path(tmp_path, "reports-index.png")
    browser.save_screenshot(str(shot))
    publish_figure(shot)


def check_index_filter_and_trends(browser, rows) -> None:
    """The kind filter hides other kinds; each rule has a trend of its last values."""
    Select(browser.find_element(By.ID, "kind")).select_by_visible_text("performance")
    shown = [r for r in rows if r.is_displayed()]
    assert len(shown) == 1 and shown[0].get_attribute("data-kind") == "performance"
    Select(browser.find_element(By.ID, "kind")).select_by_visible_text("all")
    trends = browser.find_elements(By.CSS_SELECTOR, ".trends figure")
    assert {t.get_attribute("data-rule") for t in trends} >= {"dataset_drift"}
    points = trends[0].find_element(By.TAG_NAME, "polyline").get_attribute("points").split()
    assert len(points) == 3


def test_model_card_renders_in_a_real_browser(server: str, browser, tmp_path: Path) -> None:
    from obesity_risk.registry import card_page as model_card
    from obesity_risk.registry.card import CardMetrics, ModelCard

    data = quiet_settings().data  # training copies the dataset's prose onto the card
    card = ModelCard(
        name="obesity-risk",
        family="ensemble",
        version="12",
        description=data.description,
        intended_use=data.intended_use,
        limitations=list(data.limitations),
        metrics=CardMetrics(
            cv_accuracy=0.9096,
            val_accuracy=0.9046,
            test_accuracy=0.92,
            test_log_loss=0.237,
            test_ece=0.007,
        ),
        members={"xgb": 0.75, "catboost": 0.17, "rf": 0.05, "lgbm": 0.03},
        slices=[
            {
                "column": "Gender",
                "group": "Female",
                "rows": 1030,
                "accuracy": 0.93,
                "f1_macro": 0.9,
            },
            {
                "column": "Age",
                "group": "<script>alert(1)</script>",
                "rows": 3,
                "accuracy": 1.0,
                "f1_macro": 1.0,
            },
        ],
        importance={"Weight": 1.9, "BMI": 1.1, "Height": 0.6, "Gender": 0.3},
        importance_space="raw score (log-odds)",
        rows={"fit": 15568, "test": 2076},
        data={"obesity_s4e2_train.csv": "fec835cc" * 8},
    )
    page = model_card.write(card, tmp_path / "model-card", champion=True)
    assert (tmp_path / "model-card" / "index.html").read_text() == page.read_text()
    browser.get(page.as_uri())
    assert browser.title == "obesity-risk v12: model card"
    headings = [h.text for h in browser.find_elements(By.TAG_NAME, "h2")]
    assert headings == [
        "Intended use",
        "Data",
        "Training",
        "Metrics",
        "Slices (test split)",
        "Global importance",
        "Limitations",
    ]
    body = browser.find_element(By.TAG_NAME, "body").text
    assert "not a diagnosis" in body and "0.9200" in body and "<script>alert(1)</script>" in body
    bars = browser.find_elements(By.CSS_SELECTOR, "#importance .bar")
    assert len(bars) == 4 and bars[0].size["width"] == 200 and bars[1].size["width"] < 200
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
    shot = figure_path(tmp_path, "model-card.png")
    browser.save_screenshot(str(shot))
    publish_figure(shot)
    # the served model's card, from the API
    browser.get(f"{server}/model/card")
    assert browser.title == "obesity-risk v5: model card"


@pytest.fixture(scope="module")
def regression_server(tmp_path_factory: pytest.TempPathFactory):
    """The API serving a regression (homes prices) with its 90% interval, in process."""
    from obesity_risk.features import build_pipeline
    from obesity_risk.registry.card import CardInterval, ModelCard
    from obesity_risk.registry.client import LoadedModel
    from obesity_risk.training.families import effective_family, make_estimator
    from tests.helpers.datasets import make_homes
    from tests.helpers.settings import homes_settings

    tmp = tmp_path_factory.mktemp("browser-regression")
    settings = homes_settings(tmp)
    settings = settings.model_copy(
        update={
            "serving": settings.serving.model_copy(
                update={"prediction_store": f"sqlite:///{tmp}/predictions.db"}
            )
        }
    )
    frame = make_homes(800, 5)
    X, y = frame.drop(columns=["home", "price"]), frame["price"]
    estimator = make_estimator(settings, effective_family(settings, "lgbm"), {"n_estimators": 60})
    pipeline = build_pipeline(settings.data, settings.features, estimator).fit(X, y)
    card = ModelCard(
        name="homes",
        family="lgbm",
        version="2",
        task="regression",
        interval=CardInterval(coverage=0.9, half_width=31.5, rows=120),
    )
    loaded = LoadedModel(pipeline, "test://homes", card)
    with _in_thread(settings, loaded) as base:
        yield base, pipeline


def test_the_form_shows_a_value_and_its_interval_for_a_regression(
    regression_server, browser
) -> None:
    import pandas as pd

    base, pipeline = regression_server
    browser.get_log("browser")  # drop what earlier pages logged (the browser is shared)
    browser.get(f"{base}/")
    area = browser.find_element(By.ID, "area")
    area.clear()
    area.send_keys("120")
    Select(browser.find_element(By.ID, "district")).select_by_visible_text("north")
    browser.find_element(By.CSS_SELECTOR, "button[type=submit]").click()
    WebDriverWait(browser, 20).until(ec.visibility_of_element_located((By.ID, "result")))
    shown = float(browser.find_element(By.ID, "label").text)
    record = {
        el.get_attribute("name"): el.get_attribute("value")
        for el in browser.find_elements(By.CSS_SELECTOR, "#form input, #form select")
    }
    frame = pd.DataFrame([record]).astype({"area": float, "rooms": float})
    expected = float(pipeline.predict(frame)[0])
    assert shown == pytest.approx(expected, rel=1e-5)  # shown to 6 significant digits
    (row,) = browser.find_elements(By.CSS_SELECTOR, "#probs tr")
    name, bounds = (cell.text for cell in row.find_elements(By.TAG_NAME, "td"))
    lower, upper = (float(v) for v in bounds.split(" to "))
    assert name == "90% interval"
    assert lower == pytest.approx(expected - 31.5, rel=1e-5)
    assert upper == pytest.approx(expected + 31.5, rel=1e-5)
    assert "in its units" in browser.find_element(By.ID, "why-note").text
    assert len(browser.find_elements(By.CSS_SELECTOR, "#why .bar")) == 4  # every input column
    severe = [e for e in browser.get_log("browser") if e["level"] == "SEVERE"]
    assert not severe, severe
