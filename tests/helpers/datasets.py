"""Hand-made data: a few valid obesity rows, and a second (binary, loans) data set."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd


def tiny_frame() -> pd.DataFrame:
    """Four hand-made valid rows (no target)."""
    return pd.DataFrame(
        {
            "Gender": ["Female", "Male", "Male", "Female"],
            "Age": [21.0, 35.0, 50.0, 19.0],
            "Height": [1.62, 1.80, 1.75, 1.55],
            "Weight": [64.0, 120.0, 80.0, 45.0],
            "family_history_with_overweight": ["yes", "yes", "no", "no"],
            "FAVC": ["no", "yes", "yes", "no"],
            "FCVC": [2.0, 3.0, 1.0, 2.5],
            "NCP": [3.0, 3.0, 1.0, 4.0],
            "CAEC": ["Sometimes", "Frequently", "no", "Always"],
            "SMOKE": ["no", "no", "yes", "no"],
            "CH2O": [2.0, 1.0, 3.0, 2.0],
            "SCC": ["no", "no", "yes", "no"],
            "FAF": [0.0, 1.0, 3.0, 2.0],
            "TUE": [1.0, 0.0, 2.0, 1.0],
            "CALC": ["no", "Sometimes", "Frequently", "no"],
            "MTRANS": ["Public_Transportation", "Automobile", "Walking", "Bike"],
        }
    )


def loans_schema(train_file: Path) -> dict:
    """The loans data schema of ``OVERRIDE`` as a ``data:`` override dict (in-process tests)."""
    return {
        "train_file": str(train_file),
        "external_file": None,
        "id_column": "loan_id",
        "target": "defaulted",
        "classes": ["no", "yes"],
        "example": None,
        "columns": {
            "income": {"type": "numeric", "min": 0},
            "debt": {"type": "numeric", "min": 0},
            "region": {"type": "categorical", "categories": ["north", "south", "east"]},
            "grade": {"type": "categorical", "categories": ["A", "B", "C"], "ordered": True},
        },
    }


def make_loans(n: int, seed: int) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    income = rng.uniform(1_000, 10_000, n)
    debt = rng.uniform(0, 6_000, n)
    grade = rng.choice(["A", "B", "C"], n)
    risk = debt / income + 0.4 * (grade == "C") + rng.normal(0, 0.05, n)
    return pd.DataFrame(
        {
            "loan_id": np.arange(n),
            "income": income.round(2),
            "debt": debt.round(2),
            "region": rng.choice(["north", "south", "east"], n),
            "grade": grade,
            "defaulted": np.where(risk > 0.6, "yes", "no"),
        }
    )


def make_sensors(n: int, seed: int) -> pd.DataFrame:
    """A three-class dataset (machine state from load, temperature and site); learnable."""
    rng = np.random.default_rng(seed)
    load = rng.uniform(0, 100, n)
    temperature = rng.normal(60, 12, n)
    site = rng.choice(["a", "b", "c"], n)
    score = load / 100 + (temperature - 60) / 40 + 0.3 * (site == "c") + rng.normal(0, 0.05, n)
    state = np.select([score < 0.45, score < 0.95], ["idle", "busy"], "fault")
    return pd.DataFrame(
        {"load": load.round(2), "temperature": temperature.round(1), "site": site, "state": state}
    )


def make_stays(n: int, seed: int) -> pd.DataFrame:
    """An imbalanced binary dataset (about one stay in six longer than 30 days), with an id."""
    rng = np.random.default_rng(seed)
    age = rng.integers(18, 95, n)
    admissions = rng.poisson(1.5, n)
    ward = rng.choice(["surgery", "medicine", "cardiology", "oncology"], n)
    severity = rng.choice(["low", "medium", "high"], n, p=[0.5, 0.35, 0.15])
    risk = (age - 18) / 150 + 0.12 * admissions + 0.45 * (severity == "high")
    risk = risk + 0.15 * (ward == "oncology") + rng.normal(0, 0.05, n)
    return pd.DataFrame(
        {
            "patient": [f"p{seed}-{i}" for i in range(n)],
            "age": age,
            "admissions": admissions,
            "ward": ward,
            "severity": severity,
            "long_stay": np.where(risk > 0.78, "yes", "no"),
        }
    )


def make_homes(n: int, seed: int, noise: float = 20.0) -> pd.DataFrame:
    """A regression with categorical columns: a home's price (thousands) from its area, rooms,
    district and condition (ordered), plus Gaussian noise of known spread ``noise``."""
    rng = np.random.default_rng(seed)
    area = rng.uniform(30, 200, n)
    rooms = rng.integers(1, 7, n)
    district = rng.choice(["centre", "north", "harbour", "outskirts"], n)
    condition = rng.choice(["poor", "fair", "good"], n, p=[0.2, 0.5, 0.3])
    lift = {"centre": 120.0, "north": 40.0, "harbour": 80.0, "outskirts": 0.0}
    quality = {"poor": -30.0, "fair": 0.0, "good": 35.0}
    price = (
        2.5 * area
        + 12.0 * rooms
        + np.array([lift[d] for d in district])
        + np.array([quality[c] for c in condition])
        + rng.normal(0.0, noise, n)
    )
    return pd.DataFrame(
        {
            "home": [f"h{seed}-{i}" for i in range(n)],
            "area": area.round(1),
            "rooms": rooms,
            "district": district,
            "condition": condition,
            "price": price.round(2),
        }
    )
