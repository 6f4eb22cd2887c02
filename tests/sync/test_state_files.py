"""The sync state's files: starting over on a damaged one, its schema version, and reading the
history without changing them."""

from __future__ import annotations

import fcntl
import json
import os
import re
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest

from l2tui.runner import Runner
from l2tui.sqlite_wal import keep_wal_on_close
from l2tui.sync.state import STATE_VERSION, StateStore, set_aside
from tests.conftest import CliRunner
from tests.sync.support import Pair, manual_mapping

NOT_SQLITE = b"not a database, " * 512


def _files(folder: Path) -> dict[str, tuple[bytes, int]]:
    """Each state file of a folder, and its WAL (not SQLite's shared-memory index, which a
    reader updates, nor the lock a run writes its PID in): contents and modification time."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(folder.iterdir())
            if p.name.endswith((".sqlite", ".sqlite-wal"))}


def _names(folder: Path) -> set[str]:
    return {p.name for p in folder.iterdir()}


def _version(path: Path) -> int:
    db = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        return int(db.execute("PRAGMA user_version").fetchone()[0])
    finally:
        db.close()


def _damaged(pair: Pair) -> tuple[str, Path]:
    """A saved connection whose state file is no SQLite database, with a WAL beside it."""
    name = pair.save()
    pair.paths.ensure()
    state = pair.paths.state_db(name)
    state.write_bytes(NOT_SQLITE)
    Path(f"{state}-wal").write_bytes(b"an old WAL")
    return name, state


# -- starting over on a damaged state ------------------------------------------------------

def test_reset_moves_a_damaged_state_aside_with_its_wal_and_starts_over(
        pair: Pair, run_cli: CliRunner) -> None:
    name, state = _damaged(pair)
    result = run_cli("run", name, "--reset", "--yes")
    assert result.returncode == 0, result.stderr
    [said] = [line for line in result.stderr.splitlines() if "moved aside" in line]
    aside = Path(re.search(r"moved aside to (\S+);", said)[1])  # type: ignore[index]
    assert aside.parent == state.parent
    assert re.fullmatch(rf"{re.escape(state.name)}\.damaged-\d{{8}}-\d{{6}}", aside.name)
    assert aside.read_bytes() == NOT_SQLITE
    assert Path(f"{aside}-wal").read_bytes() == b"an old WAL"
    assert pair.right() == pair.left()
    assert [r["outcome"] for r in json.loads(run_cli("history", name, "--json").stdout)] == [
        "success"]


def test_reset_moves_aside_under_another_name_when_one_was_moved_aside_that_second(
        pair: Pair) -> None:
    pair.paths.ensure()
    state = pair.paths.state_db(pair.conn.slug)
    now = time.time()
    names = []
    for contents in (b"first", b"second"):
        state.write_bytes(contents)
        names.append(set_aside(state, now))
    assert names[1] == names[0].with_name(names[0].name + "-2")
    assert [p.read_bytes() for p in names] == [b"first", b"second"] and not state.exists()


def test_reset_moves_aside_a_state_found_damaged_only_past_its_schema(
        pair: Pair, run_cli: CliRunner) -> None:
    """A state that opens, but whose pairs' pages are spoilt: the reset's first write finds it."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    db = sqlite3.connect(state)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    page_size = db.execute("PRAGMA page_size").fetchone()[0]
    root = db.execute("SELECT rootpage FROM sqlite_master WHERE name = 'items'").fetchone()[0]
    db.close()
    with state.open("r+b") as file:
        file.seek((root - 1) * page_size)
        file.write(b"\xff" * page_size)
    result = run_cli("run", name, "--reset", "--yes")
    assert result.returncode == 0, result.stderr
    assert "malformed: moved aside to " in result.stderr
    assert [n for n in _names(state.parent) if ".damaged-" in n]
    assert pair.right() == pair.left()


def test_a_run_without_reset_leaves_a_damaged_state_where_it_is(
        pair: Pair, run_cli: CliRunner) -> None:
    name, state = _damaged(pair)
    assert run_cli("run", name).returncode == 2
    assert state.read_bytes() == NOT_SQLITE
    assert not any(".damaged-" in n for n in _names(state.parent))


def test_a_dry_run_with_reset_leaves_a_damaged_state_where_it_is(
        pair: Pair, run_cli: CliRunner) -> None:
    name, state = _damaged(pair)
    result = run_cli("run", name, "--reset", "--dry-run")
    assert result.returncode == 2
    assert f"(a dry run leaves it where it is; without --dry-run, l2tui run {name} --reset starts " \
           "over, keeping the old file beside it)" in result.stderr
    assert state.read_bytes() == NOT_SQLITE
    assert not any(".damaged-" in n for n in _names(state.parent))


def test_history_of_a_damaged_state_says_reset_starts_over(
        pair: Pair, run_cli: CliRunner) -> None:
    name, state = _damaged(pair)
    result = run_cli("history", name)
    assert (result.returncode, result.stderr) == (
        2, f"l2tui: the sync state {state} cannot be used: file is not a database (l2tui run "
           f"{name} --reset starts over, keeping the old file beside it)\n")


def test_reset_does_not_move_aside_a_state_another_program_holds_locked(
        pair: Pair, run_cli: CliRunner) -> None:
    """A lock is passing, not damage: the run fails (exit 1) and the state stays."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    holder = sqlite3.connect(state, isolation_level=None)
    try:
        holder.execute("BEGIN EXCLUSIVE")
        result = run_cli("run", name, "--reset", "--yes")
    finally:
        holder.close()
    assert result.returncode == 1 and "locked" in result.stderr, result.stderr
    assert not any(".damaged-" in n for n in _names(state.parent))
    assert [r["outcome"] for r in json.loads(run_cli("history", name, "--json").stdout)] == [
        "success"]  # (nor could the failed run be recorded in it)


def test_reset_does_not_move_aside_the_state_of_a_connection_running_now(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    fd = os.open(Runner(pair.paths).lock_path(pair.conn), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        result = run_cli("run", name, "--reset", "--yes")
    finally:
        os.close(fd)
    assert result.returncode == 1 and "already running" in result.stderr, result.stderr
    assert not any(".damaged-" in n for n in _names(state.parent))


# -- the schema version --------------------------------------------------------------------

def test_a_new_state_has_the_schema_version(pair: Pair) -> None:
    pair.run()
    assert _version(pair.paths.state_db(pair.conn.slug)) == STATE_VERSION == 1


def test_a_state_without_a_version_is_upgraded_and_given_one(pair: Pair) -> None:
    pair.run()
    state = pair.paths.state_db(pair.conn.slug)
    db = sqlite3.connect(state)
    db.execute("PRAGMA user_version=0")
    db.commit()
    db.close()
    report = pair.run()
    assert report.ok and _version(state) == STATE_VERSION


def test_a_state_of_a_newer_l2tui_is_refused_and_left_as_it_is(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    db = sqlite3.connect(state)
    db.execute(f"PRAGMA user_version={STATE_VERSION + 1}")
    db.commit()
    db.close()
    before = _files(state.parent)
    for command in (["run", name], ["run", name, "--reset", "--yes"], ["history", name],
                    ["conflicts", name]):
        result = run_cli(*command)
        assert (result.returncode, result.stderr) == (
            2, f"l2tui: the sync state {state} was made by a newer l2tui (state version "
               f"{STATE_VERSION + 1}, this one reads up to {STATE_VERSION}); run that l2tui\n"
        ), command
    assert _files(state.parent) == before


def test_a_newer_l2tuis_state_with_its_wal_beside_it_is_refused_and_left_as_it_is(
        pair: Pair, run_cli: CliRunner) -> None:
    """Its version is in the WAL, not yet in the file: asked of SQLite, whose close then must not
    copy that WAL into the file."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    db = sqlite3.connect(state)
    db.execute(f"PRAGMA user_version={STATE_VERSION + 1}")
    db.commit()
    assert keep_wal_on_close(db, state)
    db.close()
    assert Path(f"{state}-wal").stat().st_size > 0
    before = _files(state.parent)
    result = run_cli("run", name)
    assert (result.returncode, result.stderr) == (
        2, f"l2tui: the sync state {state} was made by a newer l2tui (state version "
           f"{STATE_VERSION + 1}, this one reads up to {STATE_VERSION}); run that l2tui\n")
    assert _files(state.parent) == before


# -- reading the history read-only ---------------------------------------------------------

def test_history_and_conflicts_leave_a_state_a_run_left_as_it_was(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    folder = pair.paths.state_db(name).parent
    assert f"{name}.sqlite-wal" in _names(folder)  # (the run's pages still in its WAL)
    before, names = _files(folder), _names(folder)
    history = run_cli("history", name, "--json")
    assert [r["outcome"] for r in json.loads(history.stdout)] == ["success"]
    assert run_cli("conflicts", name).returncode == 0
    assert (_files(folder), _names(folder)) == (before, names)


def test_history_makes_no_file_beside_a_state_without_its_wal(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    db = sqlite3.connect(state)  # the last connection's close checkpoints, and removes the WAL
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db.close()
    folder = state.parent
    before, names = _files(folder), _names(folder)
    assert f"{name}.sqlite-wal" not in names
    for command in ("history", "conflicts"):
        assert run_cli(command, name).returncode == 0, command
    assert (_files(folder), _names(folder)) == (before, names)


def test_history_reads_a_state_the_user_may_only_read(
        pair: Pair, run_cli: CliRunner) -> None:
    """(As root, who may write anyway, what shows is that nothing was written.)"""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    folder = state.parent
    for path in folder.iterdir():
        path.chmod(0o400)
    folder.chmod(0o500)
    try:
        before, names = _files(folder), _names(folder)
        result = run_cli("history", name, "--json")
        assert [r["outcome"] for r in json.loads(result.stdout)] == ["success"], result.stderr
        assert (_files(folder), _names(folder)) == (before, names)
    finally:
        folder.chmod(0o700)


def test_history_is_not_held_up_by_a_run_writing_the_state(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    writer = sqlite3.connect(pair.paths.state_db(name), isolation_level=None)
    try:
        writer.execute("BEGIN IMMEDIATE")
        writer.execute("UPDATE runs SET message = 'changing'")
        started = time.monotonic()
        result = run_cli("history", name, "--json")
        took = time.monotonic() - started
    finally:
        writer.close()
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)[0]["message"] != "changing" and took < 8


def test_history_of_a_state_made_before_runs_had_logs_reads_without_upgrading_it(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    pair.paths.ensure()
    state = pair.paths.state_db(name)
    db = sqlite3.connect(state)
    db.execute("CREATE TABLE runs (id INTEGER PRIMARY KEY, started REAL NOT NULL, "
               "finished REAL, outcome TEXT, counts TEXT, message TEXT)")
    db.execute("INSERT INTO runs VALUES (1, 1700000000, 1700000001, 'success', '{}', 'ok')")
    db.commit()
    db.close()
    before = state.read_bytes()
    result = run_cli("history", name, "--json")
    assert [r["outcome"] for r in json.loads(result.stdout)] == ["success"], result.stderr
    assert state.read_bytes() == before and _version(state) == 0


def test_a_missing_state_is_never_run_and_history_makes_none(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    result = run_cli("history", name)
    assert "No runs of" in result.stdout
    assert not pair.paths.state_db(name).exists()


def _missing_column(pair: Pair) -> None:
    """A manual mapping pair naming a column entity 2 does not have."""
    manual_mapping(pair, [("accountid", "accountid"), ("name", "nosuchcolumn")])


def _unknown_select(pair: Pair) -> None:
    """An OData $select naming a column the service does not know."""
    pair.conn.entity1.select += ",nosuchcolumn"


@pytest.mark.parametrize("refused", [_missing_column, _unknown_select])
def test_a_dry_run_refused_after_connecting_leaves_no_state_files_it_did_not_find(
        pair: Pair, run_cli: CliRunner, refused: Callable[[Pair], None]) -> None:
    """A connection never run, its dry run refused by a check made once both sides answer
    (exit 2): no state, WAL, shared-memory index or lock is left for it in the state folder."""
    refused(pair)
    name = pair.save()
    result = run_cli("run", name, "--dry-run")
    assert result.returncode == 2, result.stderr
    assert "nosuchcolumn" in result.stderr
    assert sorted(_names(pair.paths.state)) == []
    assert "No runs of" in run_cli("history", name).stdout


def test_a_dry_run_refused_after_connecting_keeps_a_state_it_found_and_its_record(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    _missing_column(pair)
    pair.save()
    assert run_cli("run", name, "--dry-run").returncode == 2
    runs = json.loads(run_cli("history", name, "--json").stdout)
    assert [(r["outcome"], r["dry_run"]) for r in runs] == [("failed", True), ("success", False)]
    assert {f"{name}.sqlite", f"{name}.lock"} <= _names(pair.paths.state)


def test_a_refused_dry_run_leaves_a_lock_file_it_found(pair: Pair, run_cli: CliRunner) -> None:
    _missing_column(pair)
    name = pair.save()
    lock = Runner(pair.paths).lock_path(pair.conn)
    lock.parent.mkdir(parents=True)
    lock.write_bytes(b"")
    assert run_cli("run", name, "--dry-run").returncode == 2
    assert _names(pair.paths.state) == {lock.name}


def test_a_dry_run_that_cannot_write_its_log_leaves_no_state_files_it_did_not_find(
        pair: Pair, run_cli: CliRunner) -> None:
    """A real run records such a failure for a monitor; a dry run of a connection never run
    has none to tell."""
    name = pair.save()
    logs = pair.paths.run_logs(name)
    logs.parent.mkdir(parents=True)
    logs.write_text("not a folder")
    result = run_cli("run", name, "--dry-run")
    assert result.returncode == 2 and "cannot write the run log" in result.stderr
    assert sorted(_names(pair.paths.state)) == []


def test_a_state_store_opened_for_writing_still_reads_its_history(pair: Pair) -> None:
    pair.run()
    state = StateStore(pair.paths.state_db(pair.conn.slug), dry=True)
    try:
        assert [r.outcome for r in state.runs()] == ["success"] and state.has_run(1)
    finally:
        state.close()
