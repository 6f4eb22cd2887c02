"""Pairs read-only on one side: a bidirectional run carries them one way, from that side, along
with an item's writes; the state's signature names the pairs a run carries, so that turning auto
mapping off (keeping those) is no change of mapping, and a state signed before still matches."""

from __future__ import annotations

import json
import sqlite3
from contextlib import closing
from pathlib import Path
from typing import Any

import pytest

from l2tui.config.model import ColumnPair, Direction, Mapping
from l2tui.errors import ConfigError
from l2tui.providers.base import ColumnType
from l2tui.sync.events import ItemError, LogLine
from l2tui.sync.normalize import normalize
from tests.sync.support import FIELDS, LEFT_SELECT, Pair, make_pair, manual_mapping, sqlite_url

STAMPS = ("createdon", "modifiedon")  # read-only in Dataverse, plain columns in SQL
REMATCH = "matching both sides by key again"


def _with_stamps(pair: Pair) -> Pair:
    """The SQL table gains createdon and modifiedon columns, and the left select reads both."""
    with pair.engine.begin() as c:
        for name in STAMPS:
            c.exec_driver_sql(f"ALTER TABLE accounts ADD COLUMN {name} DATETIME")
    pair.conn.entity1.select = LEFT_SELECT + ",createdon"
    return pair


@pytest.fixture
def both_ways(emu: Any, tmp_path: Path) -> Pair:
    """Emulator accounts ↔ a SQLite table with createdon and modifiedon, auto mapping."""
    return _with_stamps(make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                                  direction=Direction.BIDIRECTIONAL))


def _left_stamps(pair: Pair) -> dict[str, tuple[Any, ...]]:
    """Dataverse's createdon and modifiedon by accountid, as the engine compares datetimes."""
    return {r["accountid"]: tuple(normalize(r[n], ColumnType.DATETIME) for n in STAMPS)
            for r in pair.emu.store.rows("accounts")}


def _right_stamps(pair: Pair) -> dict[str, tuple[Any, ...]]:
    """The SQL table's createdon and modifiedon by accountid, compared alike."""
    with pair.engine.connect() as c:
        rows = c.exec_driver_sql(f"SELECT accountid, {', '.join(STAMPS)} FROM accounts").all()
    return {r[0]: tuple(normalize(v, ColumnType.DATETIME) for v in r[1:]) for r in rows}


def _rematch_warnings(pair: Pair) -> list[str]:
    """The warnings of runs that matched both sides by key again (a change of settings)."""
    return [e.message for e in pair.events if isinstance(e, LogLine) and REMATCH in e.message]


def _writes(pair: Pair) -> int:
    """What the next run writes."""
    report = pair.run()
    assert report.ok, report.message
    return sum((report.created_left, report.updated_left, report.deleted_left,
                report.created_right, report.updated_right, report.deleted_right))


def _signature(pair: Pair) -> str:
    """The signature the connection's state holds."""
    with closing(sqlite3.connect(pair.paths.state_db(pair.conn.slug))) as db:
        return str(db.execute("SELECT value FROM meta WHERE name = 'signature'").fetchone()[0])


def _sign(pair: Pair, signature: str) -> None:
    """Put ``signature`` in the connection's state, as an older l2tui left it."""
    with closing(sqlite3.connect(pair.paths.state_db(pair.conn.slug))) as db, db:
        db.execute("UPDATE meta SET value = ? WHERE name = 'signature'", (signature,))


# -- item 1: a bidirectional run carries a read-only column one way ---------------------------

def test_a_bidirectional_run_carries_dynamics_read_only_columns_into_sql(both_ways: Pair) -> None:
    assert both_ways.run().created_right == 20
    assert _right_stamps(both_ways) == _left_stamps(both_ways)
    assert all(all(stamps) for stamps in _left_stamps(both_ways).values())


def test_a_dynamics_edit_carries_its_new_modifiedon_into_sql(both_ways: Pair) -> None:
    both_ways.run()
    key = sorted(both_ways.left())[0]
    before = _left_stamps(both_ways)[key]
    both_ways.left_update(key, {"name": "Renamed in Dynamics"})
    assert _left_stamps(both_ways)[key] != before
    report = both_ways.run()
    assert (report.updated_right, report.updated_left) == (1, 0)
    assert _right_stamps(both_ways)[key] == _left_stamps(both_ways)[key]


def test_a_sql_edit_written_into_dynamics_is_not_sent_back_for_its_new_modifiedon(
        both_ways: Pair) -> None:
    """Dataverse's own modifiedon moves with the write; a change to a one-way column alone is
    no change in a bidirectional run, so the run after writes nothing."""
    both_ways.run()
    key = sorted(both_ways.left())[0]
    both_ways.right_update(key, {"name": "Renamed in SQL"})
    report = both_ways.run()
    assert (report.updated_left, report.updated_right) == (1, 0)
    assert not [e for e in both_ways.events if isinstance(e, ItemError)]
    assert both_ways.left()[key][0] == "Renamed in SQL"
    assert _writes(both_ways) == 0


def test_a_sql_row_with_stamps_of_its_own_is_created_in_dynamics_without_them(
        both_ways: Pair) -> None:
    both_ways.run()
    key = both_ways.right_insert({"name": "Made in SQL", "accountnumber": "SQL-1"})
    with both_ways.engine.begin() as c:
        c.exec_driver_sql("UPDATE accounts SET createdon = '2001-02-03 04:05:06', "
                          "modifiedon = '2001-02-03 04:05:06' WHERE accountid = ?", (key,))
    report = both_ways.run()
    assert (report.created_left, report.errors_left) == (1, 0)
    assert not [e for e in both_ways.events if isinstance(e, ItemError)]
    made = _left_stamps(both_ways)[key]
    assert made[0] is not None and not made[0].startswith("2001")
    assert _writes(both_ways) == 0


def test_turning_auto_mapping_off_keeps_the_read_only_columns_synced_and_writes_nothing(
        both_ways: Pair) -> None:
    both_ways.run()
    stamps = _right_stamps(both_ways)
    # the pairs the engine carried, as the app keeps them when auto mapping is turned off
    manual_mapping(both_ways, [(n, n) for n in ("accountid", *FIELDS, *STAMPS)])
    assert _writes(both_ways) == 0
    assert not _rematch_warnings(both_ways) and _right_stamps(both_ways) == stamps
    key = sorted(both_ways.left())[0]
    both_ways.left_update(key, {"name": "Renamed in Dynamics"})
    assert both_ways.run().updated_right == 1
    assert _right_stamps(both_ways)[key] == _left_stamps(both_ways)[key]


def test_a_manual_pair_read_only_on_both_sides_is_still_refused(emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    with pair.engine.begin() as c:
        c.exec_driver_sql("ALTER TABLE accounts ADD COLUMN modifiedon TEXT "
                          "GENERATED ALWAYS AS (upper(name)) VIRTUAL")
    pair.conn.mapping.columns = [ColumnPair("modifiedon", "modifiedon")]
    with pytest.raises(ConfigError, match=r"^mapping.columns\[0\]: 'modifiedon' is read-only in "
                                          "entity 1 and cannot be written"):
        pair.run()
    assert pair.right_count() == 0


# -- item 2: the signature names the pairs carried -------------------------------------------

@pytest.fixture
def generated(emu: Any, tmp_path: Path) -> Pair:
    """Emulator accounts → a SQLite table whose accountnumber is generated (read-only), auto
    mapping: a run skips that pair; synced once."""
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    with pair.engine.begin() as c:
        c.exec_driver_sql("DROP TABLE accounts")
        c.exec_driver_sql("CREATE TABLE accounts (accountid VARCHAR(36) PRIMARY KEY, "
                          "name VARCHAR(160), accountnumber TEXT GENERATED ALWAYS AS "
                          "(upper(name)) VIRTUAL, revenue NUMERIC, numberofemployees BIGINT, "
                          "creditonhold BOOLEAN, changed_at DATETIME)")
    assert pair.run().created_right == 20
    return pair


CARRIED = [(n, n) for n in ("accountid", "name", "revenue", "numberofemployees", "creditonhold")]


def test_turning_auto_mapping_off_with_the_same_carried_pairs_is_no_change_of_mapping(
        generated: Pair) -> None:
    manual_mapping(generated, CARRIED)
    assert _writes(generated) == 0
    assert not _rematch_warnings(generated)


def test_a_state_signed_with_every_pair_mapped_still_matches_after_the_upgrade(
        generated: Pair) -> None:
    """A state synced before the signature named only the pairs carried lists the skipped
    accountnumber too, under "pairs": it is not matched again, and is signed anew."""
    carried = json.loads(_signature(generated))
    old = {"entities": carried["entities"], "match": carried["match"],
           "pairs": sorted([*carried.pop("carried"), ["accountnumber", "accountnumber"]])}
    _sign(generated, json.dumps(old, sort_keys=True, separators=(",", ":")))
    assert _writes(generated) == 0
    assert not _rematch_warnings(generated)
    assert "carried" in json.loads(_signature(generated))


def test_a_state_signed_with_every_pair_mapped_is_matched_again_when_a_carried_pair_changed(
        generated: Pair) -> None:
    carried = json.loads(_signature(generated))
    old = {"entities": carried["entities"], "match": carried["match"],
           "pairs": sorted([*carried.pop("carried"), ["accountnumber", "accountnumber"]])}
    _sign(generated, json.dumps(old, sort_keys=True, separators=(",", ":")))
    generated.conn.mapping = Mapping(exclude=["creditonhold"])
    assert _writes(generated) == 0
    warnings = _rematch_warnings(generated)
    assert len(warnings) == 1 and "no longer mapped: creditonhold)" in warnings[0], warnings


def test_a_bidirectional_state_signed_by_an_older_l2tui_still_matches(both_ways: Pair) -> None:
    both_ways.run()
    carried = json.loads(_signature(both_ways))
    carried["pairs"] = carried.pop("carried")  # (the older form: every pair, under "pairs")
    _sign(both_ways, json.dumps(carried, sort_keys=True, separators=(",", ":")))
    assert _writes(both_ways) == 0
    assert not _rematch_warnings(both_ways)


def test_switching_a_first_left_to_right_sync_to_bidirectional_is_no_change_of_mapping(
        both_ways: Pair) -> None:
    """The guide's way: sync left to right first, then switch; modifiedon is carried either way."""
    both_ways.conn.direction = Direction.LEFT_TO_RIGHT
    assert both_ways.run().created_right == 20
    both_ways.conn.direction = Direction.BIDIRECTIONAL
    assert _writes(both_ways) == 0
    assert not _rematch_warnings(both_ways)
    assert _right_stamps(both_ways) == _left_stamps(both_ways)


@pytest.mark.parametrize("first", [Direction.RIGHT_TO_LEFT, Direction.BIDIRECTIONAL],
                         ids=["right to left, then bidirectional", "bidirectional, then right to left"])
def test_a_switch_of_direction_that_carries_a_one_way_pair_or_not_is_no_change(
        both_ways: Pair, first: Direction) -> None:
    """Right to left skips Dynamics' createdon and modifiedon, bidirectional carries them one
    way without comparing them: no stored hash needs them, so no match by key again."""
    both_ways.run()
    for direction in (first, *({Direction.RIGHT_TO_LEFT, Direction.BIDIRECTIONAL} - {first})):
        both_ways.conn.direction = direction
        assert _writes(both_ways) == 0
    assert not _rematch_warnings(both_ways)


def test_a_one_way_pair_newly_carried_by_a_one_way_run_is_a_change_of_mapping(
        both_ways: Pair) -> None:
    """A left to right run compares modifiedon: included again, it is filled by a match by key."""
    both_ways.conn.direction = Direction.LEFT_TO_RIGHT
    both_ways.conn.mapping.exclude = ["modifiedon"]
    both_ways.run()
    assert {s[1] for s in _right_stamps(both_ways).values()} == {None}
    both_ways.conn.mapping.exclude = []
    assert _writes(both_ways) == 20
    warnings = _rematch_warnings(both_ways)
    assert len(warnings) == 1 and "newly mapped: modifiedon" in warnings[0], warnings
    assert _right_stamps(both_ways) == _left_stamps(both_ways)
