"""Files served from a folder: regular files inside it only, no symlink followed."""

from __future__ import annotations

import os
import stat
from pathlib import Path


def served_file(folder: Path, *parts: str) -> Path | None:
    """``folder/part/...`` when every part names a real (non-symlink) entry and the last one a
    regular file; None for anything else (missing, a symlink at any level below ``folder``,
    a directory, a name the OS refuses: too long, a NUL byte...)."""
    path, mode = folder, 0
    for part in parts:
        if not part or part in (".", "..") or "/" in part or "\0" in part:
            return None
        path = path / part
        try:
            mode = os.lstat(path).st_mode
        except (OSError, ValueError):
            return None
        if stat.S_ISLNK(mode):
            return None
    return path if parts and stat.S_ISREG(mode) else None
