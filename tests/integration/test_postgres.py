"""Real engines: the prediction log and shared Optuna studies on a real PostgreSQL server."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import optuna
import pytest

from tests.helpers.servers import assert_kill_9_durable, start_server
from tests.helpers.store_checks import assert_store_round_trip

pytestmark = pytest.mark.slow


def test_prediction_store_round_trip_on_postgres(postgres) -> None:
    assert_store_round_trip(postgres.create_database("predictions_rt"))


def test_acknowledged_predictions_survive_kill_9_on_postgres(
    postgres, tmp_path, small_pipeline
) -> None:
    url = postgres.create_database("predictions_kill")
    with start_server(tmp_path, small_pipeline, url) as (process, base, store_url, records, _):
        assert_kill_9_durable(process, base, store_url, records)


WORKER = textwrap.dedent(
    """
    import json, sys
    from obesity_risk.config import load_settings
    from obesity_risk.data import load_dataset, sample_stratified
    from obesity_risk.training.families import effective_family
    from obesity_risk.training.splits import TrainingData
    from obesity_risk.training.tune import run_study

    storage, n_trials = sys.argv[1], int(sys.argv[2])
    settings = load_settings(logging={"file": False}, models={"n_jobs": 1})
    budget = settings.models.budgets["smoke"].model_copy(
        update={"n_trials": {"dt": n_trials}, "warm_start": False}
    )
    data = load_dataset(settings.path(settings.data.train_file), settings.data)
    X, y = sample_stratified(data.X, data.y, 2000, 0)
    result = run_study(settings, "dt", effective_family(settings, "dt", budget), budget,
                       TrainingData.for_cv(X, y, 3, 0), storage=storage, show_progress_bar=False)
    print(json.dumps({"best": result.best_value}))
    """
)


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_share_one_study_on_postgres(postgres, tmp_path: Path, workers: int) -> None:
    storage = postgres.create_database(f"optuna_{workers}")
    budgets = [4 + k for k in range(workers)]
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    processes = [
        subprocess.Popen(
            [sys.executable, str(script), storage, str(n)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for n in budgets
    ]
    outputs = [p.communicate(timeout=600) for p in processes]
    assert all(p.returncode == 0 for p in processes), [e[-1500:] for _, e in outputs]
    study = optuna.load_study(study_name="obesity-risk-dt", storage=storage)
    numbers = [t.number for t in study.trials]
    assert len(study.trials) == sum(budgets)
    assert len(set(numbers)) == len(numbers)
    finished = [t for t in study.trials if t.state.is_finished()]
    assert len(finished) == sum(budgets)
    reported = [json.loads(out.strip().splitlines()[-1])["best"] for out, _ in outputs]
    assert max(reported) == pytest.approx(study.best_value)
