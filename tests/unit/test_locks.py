"""The hashed locks follow the hand-edited requirements: a lock older than its inputs, or one
that holds a direct pin at another version, is stale (tools/lock.py --check, make lint)."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from tools.lock import LOCKS, ROOT, problems


def _copy(tmp_path: Path) -> Path:
    for path in ROOT.glob("requirements*"):
        shutil.copy2(path, tmp_path / path.name)
    return tmp_path


@pytest.mark.parametrize("lock", LOCKS, ids=lambda lock: lock.name)
def test_every_lock_is_current_and_hashed(lock) -> None:
    assert problems(lock) == []
    text = (ROOT / lock.name).read_text(encoding="utf-8")
    pinned = [line for line in text.splitlines() if "==" in line and not line.startswith("#")]
    hashed = text.count("--hash=sha256:")
    assert pinned and hashed >= len(pinned)  # every package carries at least one hash


def test_an_edited_requirement_makes_its_locks_stale(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    source = root / "requirements-serving.txt"
    source.write_text(source.read_text().replace("orjson==3.13.0", "orjson==3.12.0"))
    stale = {lock.name for lock in LOCKS if problems(lock, root)}
    # the serving set is included by requirements.txt, so the research and dev locks go too
    assert stale == {"requirements-serving.lock", "requirements.lock", "requirements-dev.lock"}
    assert "make lock" in problems(LOCKS[1], root)[0]


def test_a_hand_edited_lock_is_refused(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    lock = root / "requirements-serving.lock"
    lock.write_text(lock.read_text().replace("\norjson==3.13.0 ", "\norjson==3.12.0 "))
    serving = next(item for item in LOCKS if item.name == "requirements-serving.lock")
    assert problems(serving, root) == [
        "requirements-serving.lock: orjson==3.13.0 of requirements-serving.txt is locked as 3.12.0"
    ]


def test_a_missing_lock_says_how_to_make_it(tmp_path: Path) -> None:
    root = _copy(tmp_path)
    (root / "requirements-build.lock").unlink()
    build = next(item for item in LOCKS if item.name == "requirements-build.lock")
    assert problems(build, root) == ["requirements-build.lock is missing (run: make lock)"]
