"""A choice's label and a lookup's related name (`statecodename`, `primarycontactidname`)
synced from Dynamics into SQL as read-only text columns: filled on a first run and by change
tracking, never written into Dynamics."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import pytest

from l2tui.config.model import ColumnPair, Direction
from l2tui.errors import ConfigError
from l2tui.sync.events import ItemError, LogLine
from tests.sync.support import LEFT_SELECT, Pair, make_pair, sqlite_url

NAMES = ("statecodename", "primarycontactidname")


def _with_names(pair: Pair) -> Pair:
    """The SQL table gains both name columns, and the Dynamics select names them."""
    with pair.engine.begin() as c:
        for name in NAMES:
            c.exec_driver_sql(f"ALTER TABLE {pair.table.name} ADD COLUMN {name} VARCHAR(200)")
    pair.conn.entity1.select = LEFT_SELECT + "," + ",".join(NAMES)
    return pair


def _left_names(pair: Pair) -> dict[str, tuple[str, str | None]]:
    """Each account's state label and its primary contact's full name, as the emulator holds."""
    store = pair.emu.store
    out = {}
    for row in store.rows("accounts"):
        contact = row["_primarycontactid_value"]
        out[row["accountid"]] = (["Active", "Inactive"][row["statecode"]],
                                 store.get("contacts", contact)["fullname"] if contact else None)
    return out


def _right_names(pair: Pair) -> dict[str, tuple[str, str | None]]:
    with pair.engine.connect() as c:
        rows = c.exec_driver_sql(f"SELECT accountid, {', '.join(NAMES)} "
                                 f"FROM {pair.table.name}").all()
    return {r[0]: (r[1], r[2]) for r in rows}


@pytest.fixture
def named(emu: Any, db_url: str) -> Pair:
    """Emulator accounts → a SQLite or PostgreSQL table (a name of its own: the PostgreSQL
    database is shared) with the two name columns."""
    return _with_names(make_pair(emu, db_url, f"labels_{uuid.uuid4().hex[:8]}"))


def test_a_first_run_fills_the_labels_and_related_names(named: Pair) -> None:
    report = named.run()
    assert report.ok and report.created_right == 20, report.message
    assert _right_names(named) == _left_names(named)
    assert any(name for _, name in _right_names(named).values())


def test_a_change_tracking_run_updates_the_label_of_a_row_whose_state_changed(
        named: Pair) -> None:
    named.run()
    key = sorted(named.left())[3]
    named.left_update(key, {"statecode": 1, "statuscode": 2})
    named.events.clear()
    report = named.run()
    assert report.updated_right == 1, report.message
    assert any("(changes only)" in e.message for e in named.events if isinstance(e, LogLine))
    assert _right_names(named)[key][0] == "Inactive"
    assert _right_names(named) == _left_names(named)


def test_a_renamed_contact_reaches_sql_with_a_full_run_not_before(named: Pair) -> None:
    """A related row's name is no change of the row that names it: change tracking does not
    list the account, so the name stays stale until ``--full`` compares every row."""
    named.run()
    account = next(r for r in named.emu.store.rows("accounts") if r["_primarycontactid_value"])
    named.emu.store.update("contacts", account["_primarycontactid_value"],
                           {"firstname": "Renamed", "lastname": "Contact"})
    fullname = named.emu.store.get("contacts", account["_primarycontactid_value"])["fullname"]
    assert fullname == "Renamed Contact"
    assert named.run().updated_right == 0
    assert _right_names(named)[account["accountid"]][1] != fullname
    naming = [r for r in named.emu.store.rows("accounts")
              if r["_primarycontactid_value"] == account["_primarycontactid_value"]]
    report = named.run(full=True)
    assert report.updated_right == len(naming), report.message
    assert _right_names(named)[account["accountid"]][1] == fullname
    assert _right_names(named) == _left_names(named)


@pytest.fixture
def both_ways(emu: Any, tmp_path: Path) -> Pair:
    """Emulator accounts ↔ a SQLite table with the two name columns, synced once."""
    pair = _with_names(make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                                 direction=Direction.BIDIRECTIONAL))
    assert pair.run().created_right == 20
    return pair


def test_a_bidirectional_run_never_writes_the_names_into_dynamics(both_ways: Pair) -> None:
    """The emulator, as Dataverse, refuses a body naming `statecodename`: the SQL edit goes
    into Dynamics without it, and the account's state is left as it was."""
    key = sorted(both_ways.left())[0]
    before = both_ways.emu.store.get("accounts", key)
    with both_ways.engine.begin() as c:
        c.exec_driver_sql("UPDATE accounts SET name = 'Renamed in SQL', statecodename = "
                          "'Inactive', primarycontactidname = 'Nobody' WHERE accountid = ?",
                          (key,))
    report = both_ways.run()
    assert (report.updated_left, report.errors_left) == (1, 0), report.message
    assert not [e for e in both_ways.events if isinstance(e, ItemError)]
    after = both_ways.emu.store.get("accounts", key)
    assert after["name"] == "Renamed in SQL"
    assert (after["statecode"], after["_primarycontactid_value"]) == \
        (before["statecode"], before["_primarycontactid_value"])


def test_a_one_way_run_into_dynamics_that_maps_a_name_column_is_refused(
        emu: Any, tmp_path: Path) -> None:
    pair = _with_names(make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                                 direction=Direction.RIGHT_TO_LEFT))
    pair.conn.mapping.columns = [ColumnPair("statecodename", "statecodename")]
    with pytest.raises(ConfigError, match=r"^mapping.columns\[0\]: 'statecodename' is read-only "
                                          r"in entity 1 \(the service fills it from statecode\) "
                                          "and cannot be written$"):
        pair.run()
