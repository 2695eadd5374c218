"""Prediction log, drift reports and rules.

Kept import-light: Evidently is imported only by :mod:`obesity_risk.monitoring.reports`.
"""

KINDS = ("data-drift", "data-quality", "target-drift", "performance")
MAX_LAST = 1_000_000_000  # the largest report window in logged predictions (`last`)
