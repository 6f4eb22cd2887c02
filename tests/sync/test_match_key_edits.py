"""Match-key edits beyond one item renumbered on one side: an item renumbered on both sides in
one interval, and items that swap (or pass round) their numbers. Each run keeps every account
once on each side, both sides agree after it, and the runs after it write nothing (emulator ↔
SQLite (PostgreSQL too under a unique index), accounts matched by account number with accountid mapped as a value)."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import ColumnPair, ConflictResolution, Direction
from l2tui.runner import Runner
from tests.sync.support import Pair, make_into_dataverse, make_pair
from tests.sync.test_match_key_change import _by_number, _pairs, _writes

BOTH = Direction.BIDIRECTIONAL


def _settled(pair: Pair, *, count: int = 20) -> None:
    """Both sides agree, hold ``count`` items, none deleted or doubled, one pair each; the runs
    after it write nothing."""
    assert pair.left() == pair.right() and len(pair.left()) == count
    assert pair.right_count() == count
    state = _pairs(pair.paths.state_db(pair.conn.slug))
    assert len(state) == count
    numbers = sorted(v[1] for v in pair.left().values())
    assert len(set(numbers)) == count
    assert sorted(p[0] for p in state) == sorted(f'["{n}"]' for n in numbers)
    for again in (pair.run(), pair.run(), pair.run(full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message
    assert pair.left() == pair.right() and len(pair.left()) == count


def _edit(pair: Pair, side: str, key: str, values: dict[str, Any]) -> None:
    """Edit an account on ``side``."""
    (pair.left_update if side == "left" else pair.right_update)(key, values)


# -- renumbered on both sides in one interval (bidirectional) --------------------------------

def test_an_account_renumbered_alike_on_both_sides_keeps_one_pair_and_loses_nothing(
        emu: Any, tmp_path: Path) -> None:
    pair = _by_number(emu, tmp_path, BOTH)
    key = sorted(pair.left())[0]
    pair.left_update(key, {"accountnumber": "NEW-1", "name": "renumbered"})
    pair.right_update(key, {"accountnumber": "NEW-1", "name": "renumbered"})
    report = pair.run()
    assert report.outcome == "success", report.message
    assert (report.deleted_left, report.deleted_right) == (0, 0)
    assert pair.left()[key][:2] == ("renumbered", "NEW-1")
    _settled(pair)


@pytest.mark.parametrize(("resolution", "winner"), [
    (ConflictResolution.LEFT_WINS, "left"), (ConflictResolution.RIGHT_WINS, "right")])
def test_an_account_renumbered_differently_on_each_side_takes_the_winners_number(
        emu: Any, tmp_path: Path, resolution: ConflictResolution, winner: str) -> None:
    pair = _by_number(emu, tmp_path, BOTH)
    pair.conn.conflict_resolution = resolution
    key = sorted(pair.left())[0]
    pair.left_update(key, {"accountnumber": "NEW-L", "name": "left name"})
    pair.right_update(key, {"accountnumber": "NEW-R", "name": "right name"})
    report = pair.run()
    assert report.outcome == "success", report.message
    assert (report.deleted_left, report.deleted_right) == (0, 0)
    expected = ("left name", "NEW-L") if winner == "left" else ("right name", "NEW-R")
    assert pair.left()[key][:2] == pair.right()[key][:2] == expected
    _settled(pair)


def test_an_account_renumbered_differently_on_each_side_with_conflicts_skipped_keeps_both_sides(
        emu: Any, tmp_path: Path) -> None:
    """(reported every run until settled; settled by hand, one pair is left)"""
    pair = _by_number(emu, tmp_path, BOTH)
    pair.conn.conflict_resolution = ConflictResolution.SKIP
    key = sorted(pair.left())[0]
    pair.left_update(key, {"accountnumber": "NEW-L", "name": "left name"})
    pair.right_update(key, {"accountnumber": "NEW-R", "name": "right name"})
    for full in (False, False, True):
        report = pair.run(full=full)
        assert (report.outcome, report.conflicts, _writes(report)) == ("conflicts", 1, (0,) * 6)
        assert pair.left()[key][:2] == ("left name", "NEW-L")
        assert pair.right()[key][:2] == ("right name", "NEW-R")
        assert pair.right_count() == len(pair.left()) == 20
    pair.right_update(key, {"accountnumber": "NEW-L", "name": "left name"})
    assert pair.run().outcome == "success"
    _settled(pair)


def test_an_account_renumbered_differently_on_each_side_with_its_own_key_on_each_is_one_conflict(
        emu: Any, tmp_path: Path) -> None:
    """(the account number is the match key alone, no value mapped: the sides differ in it)"""
    into = make_into_dataverse(emu, tmp_path / "r.db", 5)
    runner = Runner(into.paths)
    assert runner.run(into.conn).created_left == 5
    into.conn.direction = BOTH
    assert runner.run(into.conn, full=True).created_right == 20  # (Dynamics' other accounts)
    account = next(r["accountid"] for r in emu.store.rows("accounts")
                   if r["accountnumber"] == "AC-000001")
    emu.store.update("accounts", account, {"accountnumber": "NEW-L"})
    with into.engine.begin() as c:
        c.execute(sa.text("UPDATE accts SET acctno = 'NEW-R' WHERE acctno = 'AC-000001'"))
    report = runner.run(into.conn)
    assert (report.outcome, report.conflicts, _writes(report)) == \
        ("success", 1, (0, 0, 0, 0, 1, 0)), report.message
    numbers = sorted(r["accountnumber"] for r in emu.store.rows("accounts"))
    with into.engine.connect() as c:
        sql = sorted(n for (n,) in c.execute(sa.text("SELECT acctno FROM accts")))
    assert numbers == sql and len(numbers) == 25
    assert "NEW-L" in numbers and "NEW-R" not in numbers
    assert into.pairs() == 25
    for again in (runner.run(into.conn), runner.run(into.conn, full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message


# -- numbers swapped between accounts, or passed round three ---------------------------------

def _pass_round(pair: Pair, side: str, keys: list[str]) -> dict[str, str]:
    """Each of ``keys`` takes the next one's account number on ``side`` (two keys: a swap),
    through a value of its own first (Dynamics' account number is an alternate key, unique);
    the numbers each key should end with."""
    numbers = {k: v[1] for k, v in (pair.left() if side == "left" else pair.right()).items()}
    wanted = {k: numbers[keys[(i + 1) % len(keys)]] for i, k in enumerate(keys)}
    for i, k in enumerate(keys):
        _edit(pair, side, k, {"accountnumber": f"passing-{i}"})
    for k in keys:
        _edit(pair, side, k, {"accountnumber": wanted[k]})
    return wanted


INTO_SQL = [(Direction.LEFT_TO_RIGHT, "left"), (BOTH, "left")]
INTO_DYNAMICS = [(Direction.RIGHT_TO_LEFT, "right"), (BOTH, "right")]


@pytest.mark.parametrize("round_of", [2, 3])
@pytest.mark.parametrize(("direction", "side"), INTO_SQL)
def test_accounts_passing_their_numbers_round_keep_their_data_and_each_one_pair(
        emu: Any, tmp_path: Path, direction: Direction, side: str, round_of: int) -> None:
    pair = _by_number(emu, tmp_path, direction)
    keys = sorted(pair.left())[:round_of]
    names = {k: pair.left()[k][0] for k in keys}
    wanted = _pass_round(pair, side, keys)
    report = pair.run()
    assert report.outcome == "success", report.message
    assert (report.deleted_left, report.deleted_right) == (0, 0)
    for k in keys:
        assert pair.left()[k][:2] == pair.right()[k][:2] == (names[k], wanted[k])
    _settled(pair)


@pytest.mark.parametrize(("direction", "side"), INTO_SQL)
def test_accounts_swapping_numbers_and_editing_values_keep_the_edits(
        emu: Any, tmp_path: Path, direction: Direction, side: str) -> None:
    pair = _by_number(emu, tmp_path, direction)
    a, b = sorted(pair.left())[:2]
    wanted = _pass_round(pair, side, [a, b])
    _edit(pair, side, a, {"name": "edited a"})
    _edit(pair, side, b, {"name": "edited b"})
    report = pair.run()
    assert report.outcome == "success", report.message
    assert pair.left()[a][:2] == pair.right()[a][:2] == ("edited a", wanted[a])
    assert pair.left()[b][:2] == pair.right()[b][:2] == ("edited b", wanted[b])
    _settled(pair)


@pytest.mark.parametrize("round_of", [2, 3])
@pytest.mark.parametrize(("direction", "side"), INTO_DYNAMICS)
def test_numbers_passed_round_in_sql_are_refused_by_dynamics_and_change_no_account(
        emu: Any, tmp_path: Path, direction: Direction, side: str, round_of: int) -> None:
    """Dynamics' account number is an alternate key: no account can take a number another
    still holds, and Dynamics writes one record at a time. Each write fails saying so; no
    account takes another's values (each is written over the account its accountid names)."""
    pair = _by_number(emu, tmp_path, direction)
    keys = sorted(pair.left())[:round_of]
    before = pair.left()
    _pass_round(pair, side, keys)
    edited = pair.right()
    for _ in range(2):
        report = pair.run()
        assert (report.outcome, report.errors_left) == ("errors", round_of), report.message
        assert _writes(report) == (0,) * 6
        assert pair.left() == before and pair.right() == edited
    assert len(_pairs(pair.paths.state_db(pair.conn.slug))) == 20


def test_numbers_swapped_in_sql_where_each_side_has_its_own_key_are_two_edits_in_dynamics(
        emu: Any, tmp_path: Path) -> None:
    """(no key is carried as a value: the pairs are the match key's alone, and each Dynamics
    account takes the values of the SQL row now holding its number)"""
    into = make_into_dataverse(emu, tmp_path / "r.db", 5)
    runner = Runner(into.paths)
    assert runner.run(into.conn).created_left == 5
    with into.engine.begin() as c:
        c.execute(sa.text("UPDATE accts SET acctno = CASE acctno WHEN 'AC-000001' THEN "
                          "'AC-000002' ELSE 'AC-000001' END WHERE acctno IN "
                          "('AC-000001', 'AC-000002')"))
    report = runner.run(into.conn)
    assert (report.outcome, _writes(report)) == ("success", (0, 2, 0, 0, 0, 0)), report.message
    accounts = sorted((r["accountnumber"], r["name"]) for r in emu.store.rows("accounts")
                      if r["accountnumber"].startswith("AC-"))
    assert accounts == [(n, name) for n, name, _ in into.right()] and len(accounts) == 5
    assert ("AC-000001", "SQL account 2") in accounts
    for again in (runner.run(into.conn), runner.run(into.conn, full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message


@pytest.mark.parametrize("batch_size", [None, 1])
def test_accounts_swapping_numbers_under_a_unique_index_of_sql_are_both_written(
        emu: Any, db_url: str, batch_size: int | None) -> None:
    pair = make_pair(emu, db_url, f"swaps_{uuid.uuid4().hex[:8]}")
    with pair.engine.begin() as c:
        c.exec_driver_sql(f"CREATE UNIQUE INDEX ix_{pair.table.name} "
                          f"ON {pair.table.name} (accountnumber)")
    pair.conn.mapping.match_key = ColumnPair("accountnumber", "accountnumber")
    assert pair.run().created_right == 20
    a, b = sorted(pair.left())[:2]
    wanted = _pass_round(pair, "left", [a, b])
    report = pair.run(batch_size=batch_size)
    assert (report.outcome, report.errors_right) == ("success", 0), report.message
    assert pair.right()[a][1] == wanted[a] and pair.right()[b][1] == wanted[b]
    _settled(pair)
