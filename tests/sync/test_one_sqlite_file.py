"""Runs whose two entities are tables of one SQLite file, and runs whose SQLite target another
program holds locked: the run's own read never keeps its write waiting, and a cancel ends a
wait on another program's lock."""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from pathlib import Path

import pytest

from l2tui.config.model import Connection, Direction, Entity, Mapping
from l2tui.errors import ConnectError
from l2tui.paths import resolve_paths
from l2tui.runner import Runner

ROWS = 12_000  # (twelve pages of the SQL provider's read)
BATCH = 1000  # (a batch a page: the second waits on the first, which waits on the read)


def _entity(path: Path, table: str) -> Entity:
    return Entity(provider="sqlite", connection_string=f"Data Source={path};", select=table,
                  primary_key=["id"])


def _one_file(path: Path, journal: str, source: int, target: int = 0) -> None:
    """``path`` in journal mode ``journal``, its tables ``source`` and ``target`` holding
    ``source`` and ``target`` rows (the target's keys after the source's)."""
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute(f"PRAGMA journal_mode = {journal}")
        for table in ("source", "target"):
            db.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO source VALUES (?, ?)",
                       [(f"{i:06}", f"Item {i}") for i in range(source)])
        db.executemany("INSERT INTO target VALUES (?, ?)",
                       [(f"{i:06}", f"Item {i}") for i in range(source, source + target)])


def _rows(path: Path, table: str) -> list[tuple[str, str]]:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return db.execute(f"SELECT id, name FROM {table} ORDER BY id").fetchall()


def _journal(path: Path) -> str:
    with contextlib.closing(sqlite3.connect(path)) as db:
        return str(db.execute("PRAGMA journal_mode").fetchone()[0])


def _connection(path: Path, direction: Direction) -> Connection:
    return Connection(title="One file", direction=direction, mapping=Mapping(auto=True),
                      entity1=_entity(path, "source"), entity2=_entity(path, "target"))


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_one_way_run_between_two_tables_of_one_sqlite_file_copies_every_page(
        tmp_path: Path, journal: str) -> None:
    """The source's read, pages ahead of the run, held the file's read lock while the run
    wrote the target in a rollback journal (SQLite's default): the write waited until it
    failed, 'database is locked'."""
    path = tmp_path / "one.db"
    _one_file(path, journal, ROWS)

    report = Runner(resolve_paths()).run(_connection(path, Direction.LEFT_TO_RIGHT),
                                          batch_size=BATCH)

    assert (report.outcome, report.created_right) == ("success", ROWS)
    assert _rows(path, "target") == _rows(path, "source")
    assert _journal(path) == journal


@pytest.mark.parametrize("journal", ["delete", "wal"])
def test_a_bidirectional_run_between_two_tables_of_one_sqlite_file_syncs_both_ways(
        tmp_path: Path, journal: str) -> None:
    path = tmp_path / "one.db"
    _one_file(path, journal, ROWS, ROWS // 2)
    conn = _connection(path, Direction.BIDIRECTIONAL)
    runner = Runner(resolve_paths())

    first = runner.run(conn, batch_size=BATCH)
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE source SET name = name || ' (left)' WHERE id < '003000'")
        db.execute("UPDATE target SET name = name || ' (right)' WHERE id >= '015000'")
    second = runner.run(conn, batch_size=BATCH)

    assert (first.outcome, first.created_right, first.created_left) == \
        ("success", ROWS, ROWS // 2)
    assert (second.outcome, second.updated_right, second.updated_left) == \
        ("success", 3000, 3000)
    assert _rows(path, "target") == _rows(path, "source")
    assert len(_rows(path, "source")) == ROWS + ROWS // 2
    assert _journal(path) == journal


def _locked_target(tmp_path: Path) -> tuple[Connection, Path]:
    """A one-way connection from a SQLite file of 100 rows to another one's empty table."""
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    _one_file(source, "delete", 100)
    _one_file(target, "delete", 0)
    conn = Connection(title="Locked target", mapping=Mapping(auto=True),
                      entity1=_entity(source, "source"), entity2=_entity(target, "target"))
    return conn, target


@pytest.mark.parametrize("lock", ["EXCLUSIVE", "IMMEDIATE"])  # (no reading; no writing)
def test_a_cancel_ends_a_runs_wait_on_a_sqlite_file_another_program_holds_locked(
        tmp_path: Path, lock: str) -> None:
    """Cancelled while another program held its target locked, a run waited out SQLite's busy
    timeout (15 s) before it ended: it ends at once, cancelled, having written nothing."""
    conn, target = _locked_target(tmp_path)
    cancel = threading.Event()
    reports = []
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as other:
        other.execute(f"BEGIN {lock}")
        run = threading.Thread(target=lambda: reports.append(
            Runner(resolve_paths()).run(conn, cancel=cancel)))
        run.start()
        time.sleep(1)
        cancel.set()
        asked = time.monotonic()
        run.join(timeout=20)
        ended = time.monotonic() - asked
        other.execute("ROLLBACK")

    assert [report.outcome for report in reports] == ["cancelled"]
    assert ended < 3
    assert _rows(target, "target") == []


def test_a_run_waits_out_the_busy_timeout_on_a_sqlite_file_another_program_writes(
        tmp_path: Path) -> None:
    """Without a cancel, a run waits on another program's write lock as long as the connection
    string's timeout says, and then fails naming it."""
    conn, target = _locked_target(tmp_path)
    conn.entity2.connection_string = f"Data Source={target};Connect Timeout=2;"
    with contextlib.closing(sqlite3.connect(target, isolation_level=None)) as other:
        other.execute("BEGIN IMMEDIATE")
        began = time.monotonic()
        with pytest.raises(ConnectError) as raised:
            Runner(resolve_paths()).run(conn)
        waited = time.monotonic() - began
        other.execute("ROLLBACK")

    assert 2 <= waited < 5
    assert raised.value.message.endswith(
        f"cannot write to SQLite at {target}: database is locked (another program holds a "
        "write lock on it)")
