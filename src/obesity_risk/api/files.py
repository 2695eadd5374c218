"""Files served from a folder: regular files inside it only, no symlink followed.

The file is opened component by component below the folder with ``O_NOFOLLOW`` (``openat``)
and checked with ``fstat`` on the open descriptor, so a symlink swapped in between a check and
the open (a race on the path) is refused too: what is served is what was checked.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterator
from pathlib import Path

from fastapi.responses import StreamingResponse

_CHUNK = 1 << 16


def _open_below(folder: Path, parts: tuple[str, ...]) -> int | None:
    """A read-only descriptor of the regular file ``folder/part/...``, or None."""
    if not parts or any(not p or p in (".", "..") or "/" in p or "\0" in p for p in parts):
        return None
    nofollow = os.O_RDONLY | os.O_NOFOLLOW | os.O_CLOEXEC | os.O_NONBLOCK
    try:
        current = os.open(folder, os.O_RDONLY | os.O_DIRECTORY | os.O_CLOEXEC)
    except (OSError, ValueError):
        return None
    try:
        for part in parts[:-1]:
            step = os.open(part, nofollow | os.O_DIRECTORY, dir_fd=current)
            os.close(current)
            current = step
        handle = os.open(parts[-1], nofollow, dir_fd=current)
    except (OSError, ValueError):  # a symlink (ELOOP), missing, too long, not a directory...
        return None
    finally:
        os.close(current)
    if not stat.S_ISREG(os.fstat(handle).st_mode):  # a FIFO, a device, a directory
        os.close(handle)
        return None
    return handle


def _chunks(handle: int) -> Iterator[bytes]:
    with os.fdopen(handle, "rb") as stream:
        while chunk := stream.read(_CHUNK):
            yield chunk


def served_file(folder: Path, *parts: str, media_type: str) -> StreamingResponse | None:
    """``folder/part/...`` as a response when every part names a real (non-symlink) entry and
    the last one a regular file; None for anything else (missing, a symlink at any level below
    ``folder``, a directory, a FIFO, a name the OS refuses: too long, a NUL byte...)."""
    handle = _open_below(folder, parts)
    if handle is None:
        return None
    size = os.fstat(handle).st_size
    return StreamingResponse(
        _chunks(handle), media_type=media_type, headers={"Content-Length": str(size)}
    )
