"""Writing a file so that a reader sees the old content or the new, never half of it; a file's
content hash."""

from __future__ import annotations

import hashlib
import os
import uuid
from collections.abc import Callable
from pathlib import Path


def atomic_write(
    path: Path | str, content: bytes | str | Callable[[str], object], encoding: str = "utf-8"
) -> Path:
    """Replace ``path`` with ``content`` atomically and durably.

    ``content`` is bytes, text (written with ``encoding``) or a writer called with the
    temporary path as a string (``frame.to_parquet``, ``snapshot.save_html``). The temporary
    file lives in the same folder (so the rename is atomic), is flushed and fsynced, then moved
    over ``path`` with :func:`os.replace`; on any error it is removed and ``path`` keeps its
    old content.
    Concurrent writers each use their own temporary file: the last rename wins, whole.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{uuid.uuid4().hex}.tmp")
    try:
        if callable(content):
            content(str(tmp))
            fd = os.open(tmp, os.O_RDONLY)
            try:
                os.fsync(fd)
            finally:
                os.close(fd)
        else:
            data = content.encode(encoding) if isinstance(content, str) else content
            with open(tmp, "xb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return path


def file_sha256(path: Path | str, chunk: int = 1 << 20) -> str:
    """Content hash of a file (hex), read in chunks."""
    digest = hashlib.sha256()
    with Path(path).open("rb") as handle:
        for block in iter(lambda: handle.read(chunk), b""):
            digest.update(block)
    return digest.hexdigest()
