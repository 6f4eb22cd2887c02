"""A match key edited in case (or trailing blanks) alone on the SQL side, where Dataverse's
alternate key takes the two texts as one: the record keeps its identity and takes the new text
(emulator ↔ SQLite, accounts matched by account number, each side keyed by its own column)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from l2tui.config.model import ColumnPair, ConflictResolution, Direction
from l2tui.runner import Runner
from l2tui.sync.events import Event, ItemError
from tests.conftest import CliRunner
from tests.sync.support import make_into_dataverse
from tests.sync.test_match_key_change import _pairs, _writes


def _record(emu: Any, number: str) -> dict[str, Any]:
    """The account of this number, as Dataverse matches it (any case, no trailing blanks)."""
    return next(r for r in emu.store.rows("accounts")
                if r["accountnumber"].casefold().rstrip() == number.casefold().rstrip())


@pytest.mark.parametrize("direction", [Direction.RIGHT_TO_LEFT, Direction.BIDIRECTIONAL])
@pytest.mark.parametrize("number", ["ac-000001", "AC-000001 "], ids=["case", "blank"])
def test_an_account_number_edited_in_case_alone_in_sql_updates_its_record_in_dataverse(
        emu: Any, tmp_path: Path, direction: Direction, number: str) -> None:
    """(Dataverse refused the create of the new number beside the record holding the old one,
    every run of a one-way connection; a bidirectional one deleted the record and made another,
    a new GUID without the record's other columns)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.direction = direction
    accounts.conn.max_delete_ratio = 1.0
    runner = Runner(accounts.paths)
    assert runner.run(accounts.conn).outcome == "success"
    before = _record(emu, "AC-000001")
    emu.store.update("accounts", before["accountid"], {"description": "kept"})
    with accounts.engine.begin() as c:
        c.exec_driver_sql("UPDATE accts SET acctno = ?, name = 'renamed' WHERE acctno = ?",
                          (number, "AC-000001"))
    report = runner.run(accounts.conn)
    assert (report.outcome, _writes(report)) == ("success", (0, 1, 0, 0, 0, 0)), report.message
    after = _record(emu, number)
    assert (after["accountid"], after["accountnumber"], after["name"], after["description"]) == \
        (before["accountid"], number, "renamed", "kept")
    assert accounts.pairs() == (3 if direction == Direction.RIGHT_TO_LEFT else 23)
    for again in (runner.run(accounts.conn), runner.run(accounts.conn, full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message


@pytest.mark.parametrize("direction", [Direction.RIGHT_TO_LEFT, Direction.BIDIRECTIONAL])
@pytest.mark.parametrize("number", ["ac-000001", "AC-000001 "], ids=["case", "blank"])
def test_two_sql_rows_of_one_account_number_to_dataverse_are_each_an_error_naming_both(
        emu: Any, tmp_path: Path, direction: Direction, number: str) -> None:
    """(the row spelt as the pair's was synced over the record, and the other failed its create
    against it: or, where a row's number had been edited in case, both were written over it)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.direction = direction
    runner = Runner(accounts.paths)
    assert runner.run(accounts.conn).outcome == "success"
    before = _record(emu, "AC-000001")
    with accounts.engine.begin() as c:
        c.exec_driver_sql("UPDATE accts SET name = 'edited' WHERE acctno = 'AC-000001'")
        c.exec_driver_sql("INSERT INTO accts (acctno, name, revenue) VALUES (?, 'twin', 5)",
                          (number,))
    events: list[Event] = []
    for _ in range(2):
        events.clear()
        report = runner.run(accounts.conn, sink=events.append)
        assert (report.outcome, report.errors_right, report.errors_left) == ("errors", 2, 0)
        assert _writes(report) == (0,) * 6
    shown = ", ".join(sorted(json.dumps([n]) for n in ("AC-000001", number)))
    assert sorted(e.message for e in events if isinstance(e, ItemError)) == [
        f"appears 2 times (as {shown}: one value to entity 1, whose keys ignore case): the "
        "match key (acctno) must be unique in any case"] * 2
    assert _record(emu, "AC-000001") == before


def test_verify_names_sql_account_numbers_that_dataverse_takes_as_one(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    with accounts.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO accts (acctno, name, revenue) VALUES ('ac-000001', 'x', 5)")
    result = run_cli("verify", accounts.conn.slug)
    assert "Entity 2: 1 value(s) of acctno appear more than once ('AC-000001' / 'ac-000001': " \
           "2 times): their rows are not synced from it" in result.stdout, result.stdout


def test_an_account_number_edited_in_case_in_sql_and_its_record_edited_keeps_the_conflicts_winner(
        emu: Any, tmp_path: Path) -> None:
    """(left_wins: the record's edit wins the conflict with the SQL row gone under its old
    number, and is not then written over by the SQL row of the new spelling)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.direction = Direction.BIDIRECTIONAL
    accounts.conn.max_delete_ratio = 1.0
    runner = Runner(accounts.paths)
    assert runner.run(accounts.conn).outcome == "success"
    record = _record(emu, "AC-000001")
    emu.store.update("accounts", record["accountid"], {"name": "edited in Dynamics"})
    with accounts.engine.begin() as c:
        c.exec_driver_sql("UPDATE accts SET acctno = 'ac-000001', name = 'edited in SQL' "
                          "WHERE acctno = 'AC-000001'")
    runner.run(accounts.conn)
    after = emu.store.get("accounts", record["accountid"])
    assert (after["accountnumber"], after["name"]) == ("AC-000001", "edited in Dynamics")
    lkeys = [lkey for _, lkey, _ in _pairs(accounts.paths.state_db(accounts.conn.slug))]
    assert len(lkeys) == len(set(lkeys))


@pytest.mark.parametrize("direction", [Direction.RIGHT_TO_LEFT, Direction.BIDIRECTIONAL])
def test_a_first_run_pairs_an_account_number_spelt_in_another_case_in_dataverse_with_its_sql_row(
        emu: Any, tmp_path: Path, direction: Direction) -> None:
    """(a one-way run failed the create of 'AC-000001' beside the record 'ac-000001', every run;
    a bidirectional one made a second SQL row 'ac-000001' and failed that create too)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.direction = direction
    guid = emu.store.insert("accounts", {"accountnumber": "ac-000001", "name": "in Dynamics",
                                         "revenue": 7})
    runner = Runner(accounts.paths)
    report = runner.run(accounts.conn)
    assert (report.outcome, report.conflicts) == \
        ("success", 0 if direction == Direction.RIGHT_TO_LEFT else 1), report.message
    record = emu.store.get("accounts", guid)
    if direction == Direction.RIGHT_TO_LEFT:  # (the source's spelling and values)
        assert _writes(report) == (2, 1, 0, 0, 0, 0)
        assert (record["accountnumber"], record["name"]) == ("AC-000001", "SQL account 1")
    else:  # (a conflict, left_wins: the record's)
        assert _writes(report) == (2, 0, 0, 20, 1, 0)
        assert (record["accountnumber"], record["name"]) == ("ac-000001", "in Dynamics")
    with accounts.engine.connect() as c:
        rows = c.exec_driver_sql("SELECT acctno, name FROM accts WHERE lower(acctno) = "
                                 "'ac-000001'").all()
        count = c.exec_driver_sql("SELECT COUNT(*) FROM accts").scalar()
    assert rows == [(record["accountnumber"], record["name"])]
    assert count == (3 if direction == Direction.RIGHT_TO_LEFT else 23)
    assert accounts.pairs() == (3 if direction == Direction.RIGHT_TO_LEFT else 23)
    for again in (runner.run(accounts.conn), runner.run(accounts.conn, full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message


@pytest.mark.parametrize("direction", [Direction.LEFT_TO_RIGHT, Direction.BIDIRECTIONAL])
def test_a_first_run_leaves_a_record_that_two_sql_rows_spell_in_other_cases_as_it_is(
        emu: Any, tmp_path: Path, direction: Direction) -> None:
    """(a bidirectional run created a third SQL row 'Ac-000001'; one from Dataverse into SQL
    did too, beside the two it could not tell apart)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.direction = direction
    with accounts.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO accts (acctno, name, revenue) VALUES ('ac-000001', 'x', 5)")
    guid = emu.store.insert("accounts", {"accountnumber": "Ac-000001", "name": "in Dynamics"})
    events: list[Event] = []
    report = Runner(accounts.paths).run(accounts.conn, sink=events.append)
    assert (report.outcome, report.errors_right, report.errors_left) == ("errors", 2, 0)
    shown = ", ".join(sorted(json.dumps([n]) for n in ("AC-000001", "ac-000001")))
    assert sorted(e.message for e in events if isinstance(e, ItemError)) == [
        f"appears 2 times (as {shown}: one value to entity 1, whose keys ignore case): the "
        "match key (acctno) must be unique in any case"] * 2
    with accounts.engine.connect() as c:
        rows = c.exec_driver_sql("SELECT acctno, name FROM accts WHERE lower(acctno) = "
                                 "'ac-000001' ORDER BY acctno").all()
    assert rows == [("AC-000001", "SQL account 1"), ("ac-000001", "x")]
    assert emu.store.get("accounts", guid)["accountnumber"] == "Ac-000001"


def test_a_first_run_from_sql_on_the_left_leaves_a_record_two_rows_spell_in_other_cases(
        emu: Any, tmp_path: Path) -> None:
    """(the record, read after the SQL rows, was created in SQL as a third spelling)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    conn = accounts.conn
    conn.entity1, conn.entity2 = conn.entity2, conn.entity1
    conn.mapping.match_key = ColumnPair("acctno", "accountnumber")
    conn.direction = Direction.BIDIRECTIONAL
    with accounts.engine.begin() as c:
        c.exec_driver_sql("INSERT INTO accts (acctno, name, revenue) VALUES ('ac-000001', 'x', 5)")
    guid = emu.store.insert("accounts", {"accountnumber": "Ac-000001", "name": "in Dynamics"})
    report = Runner(accounts.paths).run(conn)
    assert (report.outcome, report.errors_left, report.errors_right) == ("errors", 2, 0)
    with accounts.engine.connect() as c:
        count = c.exec_driver_sql("SELECT COUNT(*) FROM accts WHERE lower(acctno) = "
                                  "'ac-000001'").scalar()
    assert count == 2
    assert emu.store.get("accounts", guid)["accountnumber"] == "Ac-000001"


def test_a_run_matching_again_after_a_mapping_change_pairs_a_number_recased_in_dataverse(
        emu: Any, tmp_path: Path) -> None:
    """(the SQL row was deleted and another made for the new spelling: a new id)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.direction = Direction.BIDIRECTIONAL
    accounts.conn.max_delete_ratio = 1.0
    runner = Runner(accounts.paths)
    assert runner.run(accounts.conn).outcome == "success"
    emu.store.update("accounts", _record(emu, "AC-000001")["accountid"],
                     {"accountnumber": "ac-000001", "name": "recased"})
    accounts.conn.mapping.columns = accounts.conn.mapping.columns[:1]  # (revenue no longer)
    report = runner.run(accounts.conn)
    assert (report.outcome, _writes(report)) == ("success", (0, 0, 0, 0, 1, 0)), report.message
    with accounts.engine.connect() as c:
        rows = c.exec_driver_sql("SELECT id, acctno, name FROM accts WHERE lower(acctno) = "
                                 "'ac-000001'").all()
    assert rows == [(2, "ac-000001", "recased")]
    assert accounts.pairs() == 23
    again = runner.run(accounts.conn)
    assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message


def test_a_first_run_with_skip_keeps_both_spellings_and_reports_the_conflict_every_run(
        emu: Any, tmp_path: Path) -> None:
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.direction = Direction.BIDIRECTIONAL
    accounts.conn.conflict_resolution = ConflictResolution.SKIP
    guid = emu.store.insert("accounts", {"accountnumber": "ac-000001", "name": "in Dynamics"})
    runner = Runner(accounts.paths)
    for _ in range(2):
        report = runner.run(accounts.conn)
        assert (report.outcome, report.conflicts, report.errors_left, report.errors_right) == \
            ("conflicts", 1, 0, 0), report.message
        assert emu.store.get("accounts", guid)["accountnumber"] == "ac-000001"
        with accounts.engine.connect() as c:
            assert c.exec_driver_sql("SELECT acctno FROM accts WHERE lower(acctno) = "
                                     "'ac-000001'").all() == [("AC-000001",)]
    assert accounts.pairs() == 23
