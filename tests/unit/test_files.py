"""atomic_write: all of the new content or all of the old, and no temporary file left."""

from __future__ import annotations

from pathlib import Path

import pytest

from obesity_risk.files import atomic_write


def test_writes_text_bytes_and_through_a_writer(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "out.txt"
    assert atomic_write(target, "héllo") == target
    assert target.read_text(encoding="utf-8") == "héllo"
    atomic_write(target, b"\x00\x01")
    assert target.read_bytes() == b"\x00\x01"
    atomic_write(target, lambda tmp: Path(tmp).write_text("via writer", encoding="utf-8"))
    assert target.read_text(encoding="utf-8") == "via writer"
    assert [p.name for p in target.parent.iterdir()] == ["out.txt"]


def test_an_interrupted_write_keeps_the_old_file_and_leaves_no_temp(tmp_path: Path) -> None:
    target = tmp_path / "report.json"
    target.write_text("old", encoding="utf-8")

    def half_then_fail(tmp: str) -> None:
        Path(tmp).write_text("half of the new", encoding="utf-8")
        raise RuntimeError("disk gone")

    with pytest.raises(RuntimeError, match="disk gone"):
        atomic_write(target, half_then_fail)
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["report.json"]


def test_a_failing_encoding_keeps_the_old_file(tmp_path: Path) -> None:
    target = tmp_path / "page.html"
    target.write_text("old", encoding="utf-8")
    with pytest.raises(UnicodeEncodeError):
        atomic_write(target, "é", encoding="ascii")
    assert target.read_text(encoding="utf-8") == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["page.html"]
