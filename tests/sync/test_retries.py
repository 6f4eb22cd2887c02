"""Item errors and the change-tracking cursor: a run with item errors keeps its new cursor and
the failed items, which the next run reads again by key (emulator ↔ SQLite / PostgreSQL)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from l2tui.config.model import Direction, Entity
from l2tui.errors import L2Error
from l2tui.sync import engine
from l2tui.sync.events import ItemError, LogLine
from l2tui.sync.state import StateStore
from tests.sync.support import LEFT_SELECT, Pair, make_pair, sqlite_url


def _pair(emu: Any, url: str, direction: Direction = Direction.LEFT_TO_RIGHT) -> Pair:
    """``make_pair`` on a table of its own: PostgreSQL's database is shared by the tests running
    beside this one."""
    return make_pair(emu, url, f"accounts_{uuid.uuid4().hex[:12]}", direction=direction)


@pytest.fixture
def one_way(emu: Any, db_url: str) -> Iterator[Pair]:
    """Emulator accounts → a SQLite or PostgreSQL table of its own (dropped after)."""
    pair = _pair(emu, db_url)
    yield pair
    pair.table.drop(pair.engine)
    pair.engine.dispose()


def _refuse_name(pair: Pair, name: str) -> None:
    """The right table refuses rows named ``name`` from now on: a CHECK constraint on
    PostgreSQL, a trigger on SQLite (which cannot add a constraint to a table)."""
    with pair.engine.begin() as c:
        if pair.engine.dialect.name == "sqlite":
            for when in ("INSERT", "UPDATE"):
                c.exec_driver_sql(
                    f"CREATE TRIGGER refuse_{when.lower()} BEFORE {when} ON {pair.table.name} WHEN "
                    f"NEW.name = '{name}' BEGIN SELECT RAISE(ABORT, 'CHECK constraint failed: "
                    "name'); END")
        else:
            c.exec_driver_sql(f"ALTER TABLE {pair.table.name} ADD CONSTRAINT refuse CHECK "
                              f"(name <> '{name}') NOT VALID")


def _allow(pair: Pair) -> None:
    """Drop what ``_refuse_name`` (or a delete trigger) made."""
    with pair.engine.begin() as c:
        if pair.engine.dialect.name == "sqlite":
            for when in ("insert", "update", "delete"):
                c.exec_driver_sql(f"DROP TRIGGER IF EXISTS refuse_{when}")
        else:
            c.exec_driver_sql(f"ALTER TABLE {pair.table.name} DROP CONSTRAINT refuse")


def _state(pair: Pair, query: str) -> list[tuple[Any, ...]]:
    with sqlite3.connect(pair.paths.state_db(pair.conn.slug)) as db:
        return db.execute(query).fetchall()


def _cursor(pair: Pair) -> str | None:
    rows = _state(pair, "SELECT value FROM meta WHERE name = 'cursor.left'")
    return rows[0][0] if rows else None


def _delta_rows(pair: Pair) -> list[str]:
    """The log lines saying how many rows the left's delta read held."""
    return [e.message for e in pair.events if isinstance(e, LogLine)
            and e.message.endswith("from accounts (changes only)")]


def _refused_edit(pair: Pair) -> tuple[str, str]:
    """A run of a synced pair in which the target refuses one edit and takes another: the
    refused item's key and the other's."""
    refused, fine = sorted(pair.left())[:2]
    _refuse_name(pair, "refused")
    pair.left_update(refused, {"name": "refused"})
    pair.left_update(fine, {"name": "fine"})
    report = pair.run()
    assert (report.outcome, report.errors_right, report.updated_right) == ("errors", 1, 1)
    return refused, fine


def _failed_once(pair: Pair) -> tuple[str, str]:
    """A first run, then ``_refused_edit``."""
    assert pair.run().outcome == "success"
    return _refused_edit(pair)


def test_a_run_with_an_item_error_keeps_its_new_cursor_and_the_failed_item(
        emu: Any, one_way: Pair) -> None:
    pair = one_way
    assert pair.run().outcome == "success"
    first = _cursor(pair)
    refused, _ = _refused_edit(pair)
    assert _cursor(pair) not in (None, first)
    assert _state(pair, "SELECT mkey, lkey FROM retry") == [(f'["{refused}"]', f'["{refused}"]')]


def test_the_next_delta_holds_only_the_new_edit_and_the_failed_item_fails_again(
        emu: Any, one_way: Pair) -> None:
    pair = one_way
    refused, fine = _failed_once(pair)
    edited = sorted(pair.left())[2]
    pair.left_update(edited, {"name": "edited later"})
    pair.events.clear()
    emu.recent_requests.clear()
    report = pair.run()
    assert (report.outcome, report.errors_right, report.updated_right) == ("errors", 1, 1)
    assert [e.key for e in pair.events if isinstance(e, ItemError)] == [f'["{refused}"]']
    # the delta holds the later edit alone (a kept cursor held all three edits)
    assert _delta_rows(pair) == ["read 1 row in 1 page from accounts (changes only)"]
    by_key = [r for r in emu.recent_requests if "Microsoft.Dynamics.CRM.In" in r]
    assert len(by_key) == 1 and refused in by_key[0] and fine not in by_key[0]
    assert pair.right()[edited][0] == "edited later" and pair.right()[fine][0] == "fine"


def test_once_the_cause_is_fixed_the_next_run_syncs_the_failed_item_unchanged_since(
        emu: Any, one_way: Pair) -> None:
    pair = one_way
    refused, _ = _failed_once(pair)
    _allow(pair)
    report = pair.run()
    assert (report.outcome, report.errors_right, report.updated_right) == ("success", 0, 1)
    assert pair.right()[refused] == pair.left()[refused]
    assert _state(pair, "SELECT * FROM retry") == []
    again = pair.run()
    assert again.plan is not None and again.plan.writes == 0


def test_a_failed_delete_is_made_by_the_next_run_after_the_cause_is_fixed(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    pair.run()
    gone, edited = sorted(pair.left())[:2]
    with pair.engine.begin() as c:
        c.exec_driver_sql(f"CREATE TRIGGER refuse_delete BEFORE DELETE ON {pair.table.name} BEGIN "
                          "SELECT RAISE(ABORT, 'not now'); END")
    pair.left_delete(gone)
    report = pair.run()
    assert (report.errors_right, report.deleted_right) == (1, 0)
    pair.left_update(edited, {"name": "edited later"})
    emu.recent_requests.clear()
    report = pair.run()  # the delta holds the edit alone; the deleted item is asked for by key
    assert (report.errors_right, report.deleted_right, report.updated_right) == (1, 0, 1)
    by_key = [r for r in emu.recent_requests if "Microsoft.Dynamics.CRM.In" in r]
    assert len(by_key) == 1 and gone in by_key[0]
    _allow(pair)
    report = pair.run()
    assert (report.outcome, report.deleted_right, report.updated_right) == ("success", 1, 0)
    assert set(pair.right()) == set(pair.left())


def test_a_bidirectional_edit_the_target_refused_is_synced_once_the_cause_is_fixed(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    refused, _ = _failed_once(pair)
    pair.events.clear()
    report = pair.run()  # nothing new on either side: the item is read by key, and fails again
    assert (report.errors_right, report.updated_right, report.updated_left) == (1, 0, 0)
    assert _delta_rows(pair) == ["read 0 rows in 1 page from accounts (changes only)"]
    _allow(pair)
    report = pair.run()
    assert (report.outcome, report.updated_right, report.updated_left) == ("success", 1, 0)
    assert pair.right() == pair.left()
    assert pair.run().plan.writes == 0  # type: ignore[union-attr]


def test_a_dry_run_keeps_the_cursor_and_the_failed_items_as_they_were(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    _failed_once(pair)
    cursor, kept = _cursor(pair), _state(pair, "SELECT * FROM retry")
    _allow(pair)
    report = pair.run(dry_run=True)
    assert report.outcome == "dry_run" and report.updated_right == 1
    assert (_cursor(pair), _state(pair, "SELECT * FROM retry")) == (cursor, kept)


def test_reset_forgets_the_failed_items(emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    _failed_once(pair)
    store = StateStore(pair.paths.state_db(pair.conn.slug))
    store.reset()
    store.close()
    assert _state(pair, "SELECT * FROM retry") == []


def test_a_run_whose_read_fails_keeps_the_cursor_and_the_failed_items(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    cursor, kept = _cursor(pair), _state(pair, "SELECT * FROM retry")
    emu.faults.fail_next(1, status=400, query_contains="Microsoft.Dynamics.CRM.In")
    with pytest.raises(L2Error, match="400 Bad Request"):
        pair.run()
    assert (_cursor(pair), _state(pair, "SELECT * FROM retry")) == (cursor, kept)
    _allow(pair)
    assert pair.run().updated_right == 1 and pair.right()[refused] == pair.left()[refused]


def test_a_run_with_more_failed_items_than_it_reads_by_key_keeps_its_old_cursor(
        emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(engine, "MOST_RETRIED", 1)
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    pair.run()
    cursor = _cursor(pair)
    _refuse_name(pair, "refused")
    refused = sorted(pair.left())[:2]
    for key in refused:
        pair.left_update(key, {"name": "refused"})
    assert pair.run().errors_right == 2
    assert _cursor(pair) == cursor
    pair.events.clear()
    assert pair.run().errors_right == 2
    assert _delta_rows(pair) == ["read 2 rows in 1 page from accounts (changes only)"]


def test_dynamics_to_dynamics_an_update_refused_once_is_made_by_the_next_run(
        emu: Any, tmp_path: Path) -> None:
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=4, auth=False) as other:
        pair = _pair(emu, sqlite_url(tmp_path / "unused.db"), Direction.BIDIRECTIONAL)
        pair.conn.entity2 = Entity(title="Other Dynamics", provider="odata",
                                   connection_string=other.connection_string("accounts"),
                                   select=LEFT_SELECT, primary_key=["accountid"])
        assert pair.run().created_right == 20
        edited = sorted(pair.left())[0]
        pair.left_update(edited, {"name": "Edited"})
        other.faults.fail_next(1, status=400, path_contains="$batch")  # (then sent alone)
        other.faults.fail_next(1, status=400, method="PATCH")
        report = pair.run()
        assert (report.errors_right, report.updated_right) == (1, 0), report.message
        other.recent_requests.clear()
        report = pair.run()  # neither delta names it: both sides are asked for it by key
        assert (report.outcome, report.updated_right, report.updated_left) == ("success", 1, 0)
        assert {r["accountid"]: r["name"] for r in other.store.rows("accounts")}[edited] == \
            "Edited"
        assert any("Microsoft.Dynamics.CRM.In" in r for r in other.recent_requests)
        assert pair.run().plan.writes == 0  # type: ignore[union-attr]


def _conflicts(pair: Pair) -> list[tuple[int, str, str]]:
    """The recorded conflicts: (run, match key, resolution), oldest first."""
    return _state(pair, "SELECT run, mkey, resolution FROM conflicts ORDER BY id")


def test_a_conflict_whose_winning_write_keeps_failing_is_recorded_once_and_not_as_settled(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    assert pair.run().outcome == "success"
    key = sorted(pair.left())[0]
    _refuse_name(pair, "refused")
    pair.left_update(key, {"name": "refused"})  # the left wins, the right refuses its value
    pair.right_update(key, {"name": "edited in SQL"})
    first = pair.run()
    assert (first.outcome, first.conflicts, first.errors_right) == ("errors", 1, 1)
    assert first.details["unresolved"] == 1 and "1 unresolved" in first.message
    run = first.details["run"]
    assert _conflicts(pair) == [(run, f'["{key}"]', "left_wins_failed")]
    again = pair.run()  # still refused: the same conflict, not a new one
    assert (again.outcome, again.conflicts, again.errors_right) == ("errors", 0, 1)
    assert _conflicts(pair) == [(run, f'["{key}"]', "left_wins_failed")]
    _allow(pair)
    settled = pair.run()
    assert (settled.outcome, settled.conflicts, settled.updated_right) == ("success", 0, 1)
    assert _conflicts(pair) == [(run, f'["{key}"]', "left_wins_failed")]  # (as recorded)
    assert _state(pair, "SELECT settled FROM conflicts") == [(settled.details["run"],)]
    assert pair.right()[key] == pair.left()[key]


def test_three_hundred_failed_items_are_read_again_by_key_several_requests_at_once(
        tmp_path: Path) -> None:
    from l2tui.emulator import Emulator

    with Emulator(rows=400, seed=5, auth=False) as emu:
        pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
        assert pair.run().outcome == "success"
        _refuse_name(pair, "refused")
        refused = sorted(pair.left())[:300]
        for key in refused:
            pair.left_update(key, {"name": "refused"})
        assert pair.run().errors_right == 300
        _allow(pair)
        # the first request by key waits until the second comes: it comes only if sent beside it
        emu.faults.hold_next(1, refused[100], seconds=5, path_contains="/accounts",
                             query_contains=refused[0])
        emu.recent_requests.clear()
        report = pair.run()
        assert (report.outcome, report.updated_right) == ("success", 300)
        assert emu.faults.holds_timed_out == 0
        assert len([r for r in emu.recent_requests if "Microsoft.Dynamics.CRM.In" in r]) == 3
        assert pair.right() == pair.left() and _state(pair, "SELECT * FROM retry") == []


def test_a_conflict_whose_winning_write_failed_is_settled_by_the_run_finding_its_sides_alike(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    assert pair.run().outcome == "success"
    key = sorted(pair.left())[0]
    _refuse_name(pair, "refused")
    pair.left_update(key, {"name": "refused"})
    pair.right_update(key, {"name": "edited in SQL"})
    first = pair.run()
    assert first.details["unresolved"] == 1
    pair.left_update(key, {"name": "edited in SQL"})  # mended by hand: both sides agree
    mended = pair.run()
    assert (mended.outcome, mended.details["unresolved"]) == ("success", 0), mended.message
    assert _state(pair, "SELECT run, resolution, settled FROM conflicts") == \
        [(first.details["run"], "left_wins_failed", mended.details["run"])]
    assert pair.run().plan.writes == 0  # type: ignore[union-attr]
    assert _state(pair, "SELECT settled FROM conflicts") == [(mended.details["run"],)]
