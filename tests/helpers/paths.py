"""Where things are: the repository, the data files, and a temp dir for everything generated."""

from __future__ import annotations

from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
RAW = ROOT / "data" / "raw"
TRAIN_CSV = RAW / "obesity_s4e2_train.csv"
UCI_CSV = RAW / "obesity_uci_original.csv"


def isolated_paths(tmp: Path) -> dict[str, str]:
    """Path overrides that keep every generated file under ``tmp``."""
    return {
        "mlruns_dir": str(tmp / "mlruns"),
        "models_dir": str(tmp / "models"),
        "reports_dir": str(tmp / "reports"),
        "logs_dir": str(tmp / "logs"),
        "data_dir": str(tmp / "data"),
    }
