"""``python -m obesity_risk.cli``."""

from obesity_risk.cli import main

main()
