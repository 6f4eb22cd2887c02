"""An item whose match key (a column other than its key) is edited on one side: the run keeps one
pair of it, under its new match key, and the runs after it write nothing (emulator ↔ SQLite)."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Deletions, Direction
from l2tui.runner import Runner
from l2tui.sync.events import RunReport
from tests.conftest import CliRunner
from tests.sync.support import IntoDataverse, Pair, make_into_dataverse, make_pair, sqlite_url


def _writes(report: RunReport) -> tuple[int, ...]:
    """A run's writes: created, updated and deleted on the left, then on the right."""
    return (report.created_left, report.updated_left, report.deleted_left,
            report.created_right, report.updated_right, report.deleted_right)


def _pairs(path: Path) -> list[tuple[str, str | None, str | None]]:
    """The state's pairs: (match key, left key, right key)."""
    with closing(sqlite3.connect(path)) as db:
        return db.execute("SELECT mkey, lkey, rkey FROM items ORDER BY mkey").fetchall()


def _by_number(emu: Any, tmp_path: Path, direction: Direction,
               deletions: Deletions = Deletions.PROPAGATE) -> Pair:
    """Accounts matched by account number (auto mapping: accountid is mapped as a value, so a
    SQL row's key is its account's GUID), synced once, then run in ``direction``."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", deletions=deletions)
    pair.conn.mapping.match_key = ColumnPair("accountnumber", "accountnumber")
    assert pair.run().created_right == 20
    pair.conn.direction = direction
    return pair


def _renumbered(pair: Pair, side: str) -> str:
    """An account's number (and name) edited on ``side``: its key."""
    key = sorted(pair.left())[0]
    edit = pair.left_update if side == "left" else pair.right_update
    edit(key, {"accountnumber": "NEW-1", "name": "renumbered"})
    return key


@pytest.mark.parametrize(("direction", "side"), [
    (Direction.LEFT_TO_RIGHT, "left"), (Direction.RIGHT_TO_LEFT, "right"),
    (Direction.BIDIRECTIONAL, "left"), (Direction.BIDIRECTIONAL, "right")])
def test_a_renumbered_item_keeps_one_pair_under_its_new_number_and_later_runs_write_nothing(
        emu: Any, tmp_path: Path, direction: Direction, side: str) -> None:
    pair = _by_number(emu, tmp_path, direction)
    key = _renumbered(pair, side)
    report = pair.run()
    assert report.outcome == "success", report.message
    state = pair.paths.state_db(pair.conn.slug)
    held = [p for p in _pairs(state) if key in (p[1] or "") or key in (p[2] or "")]
    assert held == [('["NEW-1"]', f'["{key}"]', f'["{key}"]')]
    assert len(_pairs(state)) == 20
    assert pair.left() == pair.right() and len(pair.left()) == 20
    assert pair.left()[key][:2] == ("renumbered", "NEW-1")
    for again in (pair.run(), pair.run(), pair.run(full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message
    assert pair.left() == pair.right() and len(pair.left()) == 20


@pytest.mark.parametrize(("direction", "side"), [
    (Direction.LEFT_TO_RIGHT, "left"), (Direction.RIGHT_TO_LEFT, "right"),
    (Direction.BIDIRECTIONAL, "left"), (Direction.BIDIRECTIONAL, "right")])
def test_a_renumbered_item_written_over_its_own_row_is_counted_as_an_update(
        emu: Any, tmp_path: Path, direction: Direction, side: str) -> None:
    """accountid mapped as a value: the write of the new number goes to the row the item has
    there (an upsert of its key), which no row is added to or taken from: an update, also as
    the dry run plans it."""
    pair = _by_number(emu, tmp_path, direction)
    _renumbered(pair, side)
    target = "right" if side == "left" else "left"
    planned = pair.run(dry_run=True)
    report = pair.run()
    updated = (0, 1, 0, 0, 0, 0) if target == "left" else (0, 0, 0, 0, 1, 0)
    assert (_writes(planned), _writes(report)) == (updated, updated), report.message
    assert planned.details["planned"][target]["update"] == [["NEW-1"]]
    assert len(pair.left()) == pair.right_count() == 20


def test_a_renumbered_item_written_over_its_own_row_reads_1_updated_in_the_summary_and_history(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = _by_number(emu, tmp_path, Direction.LEFT_TO_RIGHT)
    name = pair.save()
    key = _renumbered(pair, "left")
    result = run_cli("run", name)
    assert result.returncode == 0, result.stderr
    assert "Data Entity 2 (right): 0 created, 1 updated, 0 deleted" in result.stdout, \
        result.stdout
    pair.left_update(key, {"accountnumber": "NEW-2"})
    report = json.loads(run_cli("run", name, "--json").stdout)
    assert (report["created_right"], report["updated_right"]) == (0, 1), report
    newest = json.loads(run_cli("history", name, "--json").stdout)[0]
    assert (newest["counts"]["created_right"], newest["counts"]["updated_right"]) == (0, 1)
    assert "right 0 created, 1 updated, 0 deleted" in run_cli("history", name).stdout


def test_a_renumbered_item_the_target_refuses_keeps_its_row_until_a_later_run_writes_it(
        emu: Any, tmp_path: Path) -> None:
    from tests.sync.test_retries import _allow, _refuse_name

    pair = _by_number(emu, tmp_path, Direction.LEFT_TO_RIGHT)
    key = _renumbered(pair, "left")
    _refuse_name(pair, "renumbered")
    report = pair.run()
    assert (report.errors_right, report.deleted_right) == (1, 0), report.message
    assert pair.right()[key][:2] != ("renumbered", "NEW-1") and pair.right_count() == 20
    _allow(pair)
    assert pair.run().outcome == "success"
    state = pair.paths.state_db(pair.conn.slug)
    assert [p[0] for p in _pairs(state) if key in (p[1] or "")] == ['["NEW-1"]']
    assert pair.left() == pair.right() and len(_pairs(state)) == 20
    assert _writes(pair.run(full=True)) == (0,) * 6


def test_a_renumbered_item_whose_deletions_are_ignored_leaves_no_second_pair(
        emu: Any, tmp_path: Path) -> None:
    pair = _by_number(emu, tmp_path, Direction.LEFT_TO_RIGHT, Deletions.IGNORE)
    key = _renumbered(pair, "left")
    assert pair.run().outcome == "success"
    state = pair.paths.state_db(pair.conn.slug)
    assert [p[0] for p in _pairs(state) if key in (p[1] or "")] == ['["NEW-1"]']
    assert len(_pairs(state)) == 20
    for again in (pair.run(), pair.run(full=True)):
        assert _writes(again) == (0,) * 6, again.message
    assert pair.left() == pair.right()


def _sql_rows(into: IntoDataverse) -> list[tuple[str, str]]:
    with into.engine.connect() as c:
        return sorted(c.execute(sa.text("SELECT acctno, name FROM accts")).all())


def test_a_renumbered_dynamics_account_makes_no_second_sql_row_where_each_side_has_its_own_key(
        emu: Any, tmp_path: Path) -> None:
    into = make_into_dataverse(emu, tmp_path / "r.db", 5)
    runner = Runner(into.paths)
    assert runner.run(into.conn).created_left == 5
    into.conn.direction = Direction.BIDIRECTIONAL
    assert runner.run(into.conn, full=True).created_right == 20  # (Dynamics' other accounts)
    account = next(r["accountid"] for r in emu.store.rows("accounts")
                   if r["accountnumber"] == "AC-000001")
    emu.store.update("accounts", account, {"accountnumber": "NEW-1", "name": "renumbered"})
    report = runner.run(into.conn)
    assert (report.outcome, report.created_right, report.deleted_right) == ("success", 1, 1)
    rows = _sql_rows(into)
    assert ("NEW-1", "renumbered") in rows and not any(n == "AC-000001" for n, _ in rows)
    pairs = _pairs(into.paths.state_db(into.conn.slug))
    assert len(pairs) == 25 and not any(p[0] == '["AC-000001"]' for p in pairs)
    for again in (runner.run(into.conn), runner.run(into.conn, full=True)):
        assert _writes(again) == (0,) * 6, again.message
