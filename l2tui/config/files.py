"""Writing private files safely: a failed write never leaves a half-written file behind."""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

Stamp = tuple[int, int]  # a file's modification time (ns) and size: changed when either is


def file_stamp(path: Path) -> Stamp | None:
    """A file's stamp, or None when it cannot be seen (one stat: cheap enough to poll)."""
    try:
        info = path.stat()
    except OSError:
        return None
    return info.st_mtime_ns, info.st_size


def write_atomically(path: Path, text: str, mode: int = 0o600) -> None:
    """Write a file via a temp file and os.replace, so a failed write leaves the old file intact."""
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        os.fchmod(fd, mode)
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(text)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(tmp)
        raise
