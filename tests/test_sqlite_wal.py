"""A WAL left at close, synced, and checkpointed by the next opening (``l2tui.sqlite_wal``)."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from l2tui.sqlite_wal import checkpoint_behind, keep_wal_on_close, wal_path
from tests.support import rows_in_the_file_alone


def _open(path: Path) -> sqlite3.Connection:
    db = sqlite3.connect(str(path), isolation_level=None)
    db.execute("PRAGMA journal_mode=WAL")
    return db


def test_a_connection_asked_to_keep_its_wal_leaves_it_at_close(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = _open(path)
    db.execute("CREATE TABLE t (x)")
    assert keep_wal_on_close(db, path)
    db.execute("INSERT INTO t VALUES (1)")
    db.close()
    assert wal_path(path).stat().st_size > 0
    db = sqlite3.connect(str(path))
    assert db.execute("SELECT count(*) FROM t").fetchone()[0] == 1  # read through the WAL
    db.close()


def test_a_connection_not_asked_checkpoints_and_removes_its_wal_at_close(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = _open(path)
    db.execute("CREATE TABLE t (x)")
    db.execute("INSERT INTO t VALUES (1)")
    db.close()
    assert not wal_path(path).exists()
    assert rows_in_the_file_alone(path, "t") == 1


def test_the_left_wal_is_checkpointed_into_the_file_by_the_thread(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = _open(path)
    db.execute("CREATE TABLE t (x)")
    db.close()  # (created and checkpointed: the table is in the file)
    db = _open(path)
    keep_wal_on_close(db, path)
    db.executemany("INSERT INTO t VALUES (?)", [(i,) for i in range(100)])
    db.close()
    assert rows_in_the_file_alone(path, "t") == 0
    thread = checkpoint_behind(path)
    assert thread is not None
    thread.join()
    assert rows_in_the_file_alone(path, "t") == 100


def test_no_checkpoint_thread_when_no_wal_was_left(tmp_path: Path) -> None:
    assert checkpoint_behind(tmp_path / "none.db") is None


@pytest.mark.skipif(hasattr(sqlite3.Connection, "setconfig"),
                    reason="Python 3.12+ sets it through Connection.setconfig, with no handle")
def test_the_handle_is_not_used_when_sqlite_names_another_file(tmp_path: Path) -> None:
    path = tmp_path / "a.db"
    db = _open(path)
    db.execute("CREATE TABLE t (x)")
    try:
        assert not keep_wal_on_close(db, tmp_path / "other.db")
    finally:
        db.close()
    assert not wal_path(path).exists()  # checkpointed at close, as if never asked
