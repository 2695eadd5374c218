"""The Prometheus and Grafana files through their tools: promtool checks the config and the
rules and runs the rules' unit tests; the dashboards are what the code builds (nobody
hand-edits the JSON). (Moved from tests/unit/test_observability_files.py: they need promtool
and a subprocess.)"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from tests.helpers.observability import GRAFANA, PROMETHEUS, dashboards


def _promtool(*args: str, cwd: Path = PROMETHEUS) -> subprocess.CompletedProcess:
    tool = shutil.which("promtool")
    assert tool, "promtool is a test dependency (Debian's prometheus): make system-deps"
    return subprocess.run(
        [tool, *args], cwd=cwd, capture_output=True, text=True, timeout=60, check=False
    )


def test_promtool_checks_the_config(tmp_path: Path) -> None:
    config = yaml.safe_load((PROMETHEUS / "prometheus.yml").read_text())
    token = tmp_path / "token"
    token.write_text("t")
    for job in config["scrape_configs"]:  # the token file exists only in the container
        if "authorization" in job:
            job["authorization"]["credentials_file"] = str(token)
    config["rule_files"] = [str(PROMETHEUS / f) for f in config["rule_files"]]
    path = tmp_path / "prometheus.yml"
    path.write_text(yaml.safe_dump(config))
    result = _promtool("check", "config", str(path))
    assert result.returncode == 0, result.stdout + result.stderr
    assert {j["job_name"] for j in config["scrape_configs"]} == {"api", "monitor"}


def test_promtool_checks_and_unit_tests_the_alert_rules() -> None:
    checked = _promtool("check", "rules", "alerts.yml")
    assert checked.returncode == 0, checked.stdout + checked.stderr
    tested = _promtool("test", "rules", "alerts.test.yml")
    assert tested.returncode == 0, tested.stdout + tested.stderr


def test_dashboards_are_built_from_code(tmp_path: Path) -> None:
    subprocess.run(
        [sys.executable, str(GRAFANA / "dashboards.py"), "--out", str(tmp_path)],
        check=True,
        capture_output=True,
        timeout=60,
    )
    built, committed = dashboards(tmp_path), dashboards(GRAFANA / "dashboards")
    assert set(built) == {"service.json", "model.json", "drift.json"}
    assert built == committed, "run `make dashboards` and commit the JSON"
