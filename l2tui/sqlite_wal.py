"""A SQLite database in WAL mode whose checkpoint is not paid when a run ends.

SQLite checkpoints the WAL when the last connection to a database closes: it copies every page
the run changed into the database file and syncs both files. A run of a few thousand changes
changes pages all over the state's tables, and that checkpoint is a large share of its time
(~40 ms of a ~250 ms run). Here the closing connection leaves the WAL as it is, synced to disk
(an fsync of one file written in order: what ``synchronous=FULL`` does at a commit), and the
next opening checkpoints it in a thread of its own while that run waits on the network.

Leaving the WAL at close is ``SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE``: ``Connection.setconfig`` from
Python 3.12; on CPython 3.11 under Linux, the C call through ctypes on the connection's handle,
checked by asking SQLite for the file name first. Where neither is possible, a close checkpoints as before.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import platform
import sqlite3
import sys
import threading
from pathlib import Path
from typing import Any

_NO_CKPT_ON_CLOSE = 1006  # SQLITE_DBCONFIG_NO_CKPT_ON_CLOSE (SQLite 3.26)


def keep_wal_on_close(db: sqlite3.Connection, path: Path) -> bool:
    """Ask SQLite not to checkpoint when ``db`` (open on ``path``) closes; whether it will not."""
    setconfig = getattr(db, "setconfig", None)
    if setconfig is not None:  # Python 3.12+
        try:
            setconfig(_NO_CKPT_ON_CLOSE, True)
            return True
        except sqlite3.Error:
            return False
    if sqlite3.sqlite_version_info < (3, 26) or sys.implementation.name != "cpython" or \
            sys.version_info[:2] != (3, 11) or not sys.platform.startswith("linux") or \
            platform.machine() not in ("x86_64", "aarch64"):
        return False  # (a variadic C call through ctypes: where its arguments go is certain)
    with contextlib.suppress(Exception):
        return _keep_wal_311(db, path)
    return False


def _keep_wal_311(db: sqlite3.Connection, path: Path) -> bool:
    """CPython 3.11: the ``sqlite3 *`` follows the object header of a ``Connection``; it is used
    only if SQLite, asked through it, names this database's file."""
    import _sqlite3  # the extension, whose SQLite is the one the connection runs on

    lib = ctypes.CDLL(_sqlite3.__file__)
    handle = ctypes.c_void_p.from_address(id(db) + object.__basicsize__).value
    if not handle:
        return False
    filename: Any = lib.sqlite3_db_filename
    filename.restype = ctypes.c_char_p
    filename.argtypes = [ctypes.c_void_p, ctypes.c_char_p]
    named = filename(handle, b"main")
    if not named or os.path.realpath(os.fsdecode(named)) != os.path.realpath(path):
        return False
    done = ctypes.c_int(-1)
    code = lib.sqlite3_db_config(ctypes.c_void_p(handle), ctypes.c_int(_NO_CKPT_ON_CLOSE),
                                 ctypes.c_int(1), ctypes.byref(done))
    return code == 0 and done.value == 1


def wal_path(path: Path) -> Path:
    """The WAL file of the database at ``path``."""
    return path.with_name(path.name + "-wal")


def sync_wal(path: Path) -> None:
    """Put the WAL of ``path`` on disk (what a close's checkpoint did for its changes)."""
    with contextlib.suppress(FileNotFoundError):
        fd = os.open(wal_path(path), os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def checkpoint_behind(path: Path) -> threading.Thread | None:
    """Checkpoint a WAL left by the last close, in a thread on a connection of its own (None:
    no WAL to checkpoint). The thread waits on disk, not on the interpreter: it runs beside the
    run's first requests; a passive checkpoint lets the run write meanwhile."""
    try:
        if wal_path(path).stat().st_size == 0:
            return None
    except FileNotFoundError:
        return None

    def work() -> None:
        with contextlib.suppress(sqlite3.Error):
            db = sqlite3.connect(str(path), isolation_level=None)
            try:
                db.execute("PRAGMA busy_timeout=10000")
                db.execute("PRAGMA wal_checkpoint(PASSIVE)")
            finally:
                db.close()

    thread = threading.Thread(target=work, name="l2tui-checkpoint", daemon=True)
    thread.start()
    return thread
