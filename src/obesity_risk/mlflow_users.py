"""Least-privilege MLflow users for the compose stack (MLflow's basic-auth app).

``python -m obesity_risk.mlflow_users NAME=PASSWORD_VAR...`` creates each user ``NAME`` with the
password in the environment variable ``PASSWORD_VAR`` (or sets that password when the user
exists), as the admin named by ``MLFLOW_TRACKING_USERNAME``/``MLFLOW_TRACKING_PASSWORD`` on
``MLFLOW_TRACKING_URI``. With the server's ``default_permission = READ`` such a user reads
experiments, models and artifacts and changes nothing: what the API, the monitor, the batch
workers and the notebooks need. Training alone keeps the admin account. One line per problem
on stderr (never a password), exit 1; 0 when every user is in place.
"""

from __future__ import annotations

import os
import sys

import httpx

from obesity_risk.errors import report_problems

TIMEOUT_S = 10.0


def ensure_user(url: str, admin: tuple[str, str], username: str, password: str) -> None:
    """Create ``username`` (or reset its password when it exists).

    Raises:
        RuntimeError: the server refused (the message has its status and error, no password).
    """
    api = f"{url.rstrip('/')}/api/2.0/mlflow/users"
    body = {"username": username, "password": password}
    created = httpx.post(f"{api}/create", json=body, auth=admin, timeout=TIMEOUT_S)
    if created.status_code == 200:
        return
    if "already exists" not in created.text:
        raise RuntimeError(f"creating MLflow user {username}: HTTP {created.status_code}")
    updated = httpx.patch(f"{api}/update-password", json=body, auth=admin, timeout=TIMEOUT_S)
    if updated.status_code != 200:
        raise RuntimeError(f"updating MLflow user {username}: HTTP {updated.status_code}")


def main(specs: list[str]) -> int:
    """Create the users ``NAME=PASSWORD_VAR``; the exit code."""
    url = os.environ.get("MLFLOW_TRACKING_URI", "")
    admin = (
        os.environ.get("MLFLOW_TRACKING_USERNAME", ""),
        os.environ.get("MLFLOW_TRACKING_PASSWORD", ""),
    )
    problems = []
    if not url or not all(admin):
        problems.append("set MLFLOW_TRACKING_URI, MLFLOW_TRACKING_USERNAME, ..._PASSWORD")
    for spec in specs if not problems else []:
        name, _, variable = spec.partition("=")
        password = os.environ.get(variable, "")
        if not name or not password:
            problems.append(f"{spec}: expected NAME=PASSWORD_VARIABLE with the variable set")
            continue
        try:
            ensure_user(url, admin, name, password)
        except (RuntimeError, httpx.HTTPError) as exc:
            problems.append(f"{name}: {type(exc).__name__}: {exc}")
    return report_problems(problems)


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
