"""The images alone: the serving image as an operator runs it (non-root, read-only root
filesystem, health check, the baked champion), what each image holds (exactly its lock, no
secret in any layer), and what a one-line code change rebuilds."""

from __future__ import annotations

import json
import re
import tarfile
import time
from pathlib import Path

import pytest

from tests.helpers.containers import RECORD, Engine, EngineError, http, record, wait_http
from tools.lock import pins

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "container-test-admin-token-0123456789"
# a PEM private key: the marker and base64 lines (libraries hold the bare marker as a constant)
# where a key is a package's own test fixture (tornado ships tornado/test/test.key) or a
# library's built-in template, not a secret of this project (its keys are checked by value)
THIRD_PARTY_FIXTURE = re.compile(r"(/site-packages/[^/]+/tests?/|^\.?/?usr/lib/.*\.so[.0-9]*$)")
PEM_KEY = re.compile(rb"-----BEGIN [A-Z ]*PRIVATE KEY-----\r?\n[A-Za-z0-9+/=\r\n]{64,}")


@pytest.fixture
def api(engine: Engine, images: dict[str, str]):
    """The serving image run alone, locked down: read-only root, tmpfs /tmp, its declared
    volumes for state, no capabilities; yields (name, url, seconds from run to /ready)."""
    name = "obesity-risk-api-alone"
    engine.remove(name)
    start = time.perf_counter()
    engine.run(
        "run",
        "-d",
        "--name",
        name,
        "--read-only",
        "--tmpfs",
        "/tmp",
        "--cap-drop",
        "ALL",
        "--security-opt",
        "no-new-privileges",
        "-p",
        "127.0.0.1:18000:8000",
        "-e",
        f"OBESITY_RISK__SERVING__ADMIN_TOKEN={ADMIN}",
        images["serving"],
    )
    try:
        try:
            wait_http("http://127.0.0.1:18000/ready", 200, timeout=120)
        except EngineError as exc:
            raise EngineError(f"{name}: {exc}\nits last log lines:\n{engine.logs(name)}") from exc
        yield name, "http://127.0.0.1:18000", time.perf_counter() - start
    finally:
        engine.remove(name)


def test_the_serving_image_serves_its_baked_champion_locked_down(engine: Engine, api) -> None:
    name, url, cold_start = api
    assert engine.run("exec", name, "id", "-u").stdout.strip() == "10001"
    status, body = http(f"{url}/ready")
    ready = json.loads(body)
    assert status == 200 and ready["ready"] and ready["source"], ready
    status, body = http(f"{url}/predict", data=json.dumps(RECORD).encode())
    assert status == 200, body
    answer = json.loads(body)
    assert answer["label"] in answer["probabilities"], answer
    # the root filesystem is read-only: the API's user cannot write outside its volumes
    denied = engine.run("exec", name, "sh", "-c", "touch /app/x /opt/venv/x", check=False)
    assert denied.returncode != 0 and "Read-only file system" in denied.stderr
    # the serving image builds no report, and says so (the research image and monitor do)
    status, body = http(f"{url}/monitoring/reports", token=ADMIN, data=b'{"kind": "data-drift"}')
    assert status == 503 and b"builds no reports" in body, body
    healthy_after = engine.wait_healthy(name, timeout=120)
    inspect = engine.inspect(name)
    assert inspect["Config"]["User"] == "10001:10001"
    start = time.perf_counter()
    engine.run("stop", "-t", "20", name)
    drained = time.perf_counter() - start
    assert engine.inspect(name)["State"]["ExitCode"] == 0, engine.logs(name)
    record(
        "images",
        {
            "serving_cold_start_s": round(cold_start, 2),
            "serving_healthy_after_ready_s": round(healthy_after, 2),
            "serving_stop_s": round(drained, 2),
        },
    )


def test_every_family_scores_in_the_serving_image(engine: Engine, images: dict[str, str]) -> None:
    """The serving image leaves out what catboost only plots with and strips libraries: each
    family still fits, scores and explains there (the five estimators, TreeSHAP of a forest),
    and batch scoring's parquet goes through pyarrow and dask."""
    script = (
        "import numpy as np, shap, catboost, lightgbm, xgboost\n"
        "from sklearn.tree import DecisionTreeClassifier\n"
        "from sklearn.ensemble import RandomForestClassifier\n"
        "X = np.random.default_rng(0).random((200, 4)); y = (X[:, 0] > 0.5).astype(int)\n"
        "models = [DecisionTreeClassifier(), RandomForestClassifier(10),"
        " lightgbm.LGBMClassifier(n_estimators=5, verbose=-1),"
        " xgboost.XGBClassifier(n_estimators=5), catboost.CatBoostClassifier(iterations=5,"
        " verbose=0, allow_writing_files=False)]\n"
        "for m in models: assert m.fit(X, y).predict_proba(X[:3]).shape == (3, 2)\n"
        "values = shap.TreeExplainer(models[1]).shap_values(X[:3])\n"
        "import pandas as pd, dask.dataframe as dd\n"  # batch scoring reads and writes parquet
        "pd.DataFrame(X, columns=list('abcd')).to_parquet('/tmp/x.parquet')\n"
        "assert dd.read_parquet('/tmp/x.parquet').compute().shape == (200, 4)\n"
        "print('ok', len(models), np.asarray(values).shape)\n"
    )
    done = engine.run(
        "run",
        "--rm",
        "--read-only",
        "--tmpfs",
        "/tmp",
        images["serving"],
        "python",
        "-c",
        script,
        check=False,
    )
    assert done.returncode == 0 and done.stdout.startswith("ok 5"), done.stdout + done.stderr


@pytest.mark.parametrize(
    ("image", "lock"), [("serving", "requirements-serving.lock"), ("research", "requirements.lock")]
)
def test_each_image_holds_exactly_its_lock(
    engine: Engine, images: dict[str, str], image: str, lock: str
) -> None:
    listing = (
        "from importlib.metadata import distributions\n"
        "for d in distributions(): print(d.metadata['Name'] + '==' + d.version)"
    )
    frozen = engine.run("run", "--rm", images[image], "python", "-c", listing).stdout
    installed = {
        re.sub(r"[-_.]+", "-", n).lower(): v
        for n, _, v in (line.partition("==") for line in frozen.split())
    }
    assert installed.pop("obesity-risk") == "0.1.0"
    assert "pip" not in installed and "setuptools" not in installed  # no installer in the venv
    assert installed == pins(ROOT / lock)
    record("images", {f"{image}_packages": len(installed)})


def _layer_texts(archive: Path):
    """(layer, member name, bytes) of every regular file of a docker-archive."""
    with tarfile.open(archive) as outer:
        for member in outer.getmembers():
            if not member.name.endswith((".tar", "/layer.tar")) or not member.isfile():
                continue
            with tarfile.open(fileobj=outer.extractfile(member)) as layer:
                for item in layer:
                    if item.isfile() and item.size < 64 << 20:
                        yield member.name, item.name, layer.extractfile(item).read()


@pytest.mark.parametrize("image", ["serving", "research"])
def test_no_secret_in_any_layer(
    engine: Engine, images: dict[str, str], env_values: dict, tmp_path: Path, image: str
) -> None:
    """Every file of every layer, the history and the configuration: none holds a value of the
    user's .env (beside the build context), a private key, or the .env file itself."""
    secrets = [
        v.encode()
        for k, v in env_values.items()
        if any(word in k for word in ("PASSWORD", "SECRET", "TOKEN", "KEY"))
        and not k.endswith("ACCESS_KEY")
        and len(v) >= 16
    ]
    assert len(secrets) >= 12
    archive = tmp_path / "image.tar"
    engine.run("save", "--format", "docker-archive", "-o", str(archive), images[image])
    found, files = [], 0
    for layer, name, data in _layer_texts(archive):
        files += 1
        if name.rsplit("/", 1)[-1] == ".env":
            found.append(f"{layer}:{name} is a .env file")
        if PEM_KEY.search(data) and not THIRD_PARTY_FIXTURE.search(name):
            found.append(f"{layer}:{name} holds a private key")
        found += [f"{layer}:{name} holds a .env value" for s in secrets if s in data]
    meta = engine.run("history", "--no-trunc", "--format", "json", images[image]).stdout
    meta += json.dumps(engine.inspect(images[image])["Config"])
    found += [
        "the history or configuration holds a .env value" for s in secrets if s.decode() in meta
    ]
    assert files > 10_000
    assert not found, found


def test_a_code_change_rebuilds_only_the_last_layers(
    engine: Engine, images: dict[str, str], context: Path
) -> None:
    """One line of the package changes: the dependency layers are reused as they were."""

    def layers(tag: str) -> list[str]:
        return engine.inspect(tag)["RootFS"]["Layers"]

    before = layers(images["serving"])
    source = context / "src/obesity_risk/__init__.py"
    text = source.read_text(encoding="utf-8")
    source.write_text(text + "# a one-line change\n", encoding="utf-8")
    try:
        seconds = engine.build(context, images["serving"], target="serving")
    finally:
        source.write_text(text, encoding="utf-8")
        engine.build(context, images["serving"], target="serving")
    after = layers(images["serving"])
    shared = len([1 for a, b in zip(before, after, strict=False) if a == b])
    assert shared >= len(before) - 3, (shared, len(before))
    sizes = {name: engine.size(tag) for name, tag in images.items()}
    record(
        "images",
        {
            "rebuild_after_code_change_s": round(seconds, 1),
            "size_bytes": sizes,
            "size_gb": {k: round(v / 1e9, 3) for k, v in sizes.items()},
        },
    )
