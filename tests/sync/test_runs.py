"""Behaviour of whole runs: emulator accounts ↔ a SQLite table through the real providers."""

from __future__ import annotations

import contextlib
import re
import socket
import sqlite3
import stat
import threading
import time
from pathlib import Path
from typing import Any

import pytest

from l2tui.commands.run import planned_lines
from l2tui.config.model import ColumnPair, ConflictResolution, Deletions, Direction, Entity
from l2tui.errors import ConfigError, L2Error, RunError
from l2tui.providers import open_entity
from l2tui.runner import Runner, _log_writer
from l2tui.sqlite_wal import wal_path
from l2tui.sync.engine import Engine, Options, plan_mapping
from l2tui.sync.events import Conflict, ItemError, LogLine, Progress, RunFinished, RunStarted
from l2tui.sync.state import StateStore
from tests.support import rows_in_the_file_alone
from tests.sync.support import (
    LEFT_SELECT,
    Pair,
    make_into_dataverse,
    make_pair,
    manual_mapping,
    sqlite_url,
)


def test_a_first_run_copies_every_source_item(pair: Pair) -> None:
    report = pair.run()
    assert report.outcome == "success" and report.created_right == 20
    assert pair.right() == pair.left()


def test_a_second_run_without_changes_writes_nothing(pair: Pair) -> None:
    pair.run()
    report = pair.run()
    assert report.plan is not None and report.plan.writes == 0


def test_an_incremental_one_way_run_reads_only_the_source_delta(pair: Pair) -> None:
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "Renamed"})
    report = pair.run()
    assert report.updated_right == 1
    assert report.details["mode"] == {"left": "delta", "right": "none"}
    assert pair.right()[key][0] == "Renamed"


def test_an_incremental_run_counts_the_pairs_its_delta_did_not_mention_as_unchanged(
        pair: Pair) -> None:
    pair.run()
    pair.left_update(next(iter(pair.left())), {"name": "Renamed"})
    pair.left_insert({"name": "New"})
    report = pair.run()
    assert report.details["mode"]["left"] == "delta"
    assert (report.created_right, report.updated_right, report.unchanged) == (1, 1, 19)


def _run_with_a_slow_describe(pair: Pair) -> tuple[Any, bool]:
    """A run whose Dataverse describe is held until its delta request comes (10 s at most), and
    whether that request came while describe waited (sent beside it, not after it)."""
    pair.emu.faults.hold_next(1, "deltatoken", path_contains="EntityDefinitions")
    report = pair.run()
    return report, pair.emu.faults.holds_timed_out == 0


def test_an_incremental_run_asks_for_the_delta_while_the_schema_loads(pair: Pair) -> None:
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "Renamed"})
    report, delta_first = _run_with_a_slow_describe(pair)
    assert delta_first
    assert report.updated_right == 1 and report.details["mode"]["left"] == "delta"
    assert pair.right()[key][0] == "Renamed"


def test_a_right_to_left_run_from_dataverse_asks_for_its_delta_while_the_schema_loads(
        pair: Pair) -> None:
    conn = pair.conn
    conn.entity1, conn.entity2 = conn.entity2, conn.entity1  # SQLite left, Dataverse right
    conn.direction = Direction.RIGHT_TO_LEFT
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "Renamed"})  # (the emulator: the right of this connection)
    report, delta_first = _run_with_a_slow_describe(pair)
    assert delta_first
    assert report.updated_left == 1 and report.details["mode"]["right"] == "delta"
    assert pair.right()[key][0] == "Renamed"


def test_a_run_that_fails_its_mapping_check_stops_the_delta_read_it_began(pair: Pair) -> None:
    pair.run()
    manual_mapping(pair, [("name", "no_such_column")])
    pair.emu.faults.hold_next(1, "deltatoken", path_contains="EntityDefinitions")
    with pytest.raises(ConfigError, match="no_such_column"):
        pair.run()
    assert pair.emu.faults.holds_timed_out == 0  # the read did begin, beside describe
    assert not [t for t in threading.enumerate() if t.name == "l2tui-read" and t.is_alive()]


def _synced_hashes(pair: Pair, keys: list[str]) -> dict[str, str]:
    state = StateStore(pair.paths.state_db(pair.conn.slug), dry=True)
    try:
        rows = state.lookup([f'["{k}"]' for k in keys])
    finally:
        state.close()
    return {k: rows[f'["{k}"]'].hash for k in keys}


def test_an_update_the_target_refuses_keeps_its_pair_as_it_was_and_the_others_move_on(
        pair: Pair) -> None:
    pair.run()
    keys = list(pair.left())[:3]
    with pair.engine.begin() as c:
        c.exec_driver_sql("CREATE TRIGGER refuse BEFORE UPDATE ON accounts WHEN NEW.name = "
                          "'refused' BEGIN SELECT RAISE(ABORT, 'refused by the table'); END")
    before = _synced_hashes(pair, keys)
    for key, name in zip(keys, ("refused", "fine 1", "fine 2"), strict=True):
        pair.left_update(key, {"name": name})
    report = pair.run()
    assert (report.errors_right, report.updated_right) == (1, 2)
    after = _synced_hashes(pair, keys)
    assert after[keys[0]] == before[keys[0]]
    assert after[keys[1]] != before[keys[1]] and after[keys[2]] != before[keys[2]]
    with pair.engine.begin() as c:
        c.exec_driver_sql("DROP TRIGGER refuse")
    again = pair.run()  # the refused item is read again by key (its cursor moved on)
    assert (again.errors_right, again.updated_right) == (0, 1)
    again = pair.run()
    assert again.plan is not None and again.plan.writes == 0
    assert pair.right()[keys[0]][0] == "refused"


def test_a_run_without_change_tracking_compares_only_items_with_a_new_version(
        pair: Pair) -> None:
    pair.run()
    state_db = pair.paths.state_db(pair.conn.slug)
    with sqlite3.connect(state_db) as db:
        assert db.execute("SELECT COUNT(*) FROM items WHERE lver LIKE 'W/%'").fetchone() == (20,)
    store = StateStore(state_db)
    store.put("cursor.left", None)  # as a service without change tracking: a full read
    store.close()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "Renamed"})
    report = pair.run()
    assert report.details["mode"] == {"left": "full", "right": "none"}
    assert report.updated_right == 1 and report.plan is not None and report.plan.unchanged == 19
    assert pair.right() == pair.left()


def test_a_run_whose_change_tracking_cursor_is_refused_says_it_read_in_full(
        pair: Pair) -> None:
    """An expired cursor (the service asks for a full sync): the run reads everything, and its
    log says so after "reading left (delta)", as its report's mode does."""
    pair.run()
    pair.emu.expire_delta_tokens()
    report = pair.run()
    assert report.ok and report.details["mode"] == {"left": "full", "right": "none"}
    lines = [e.message for e in pair.events if isinstance(e, LogLine)]
    assert lines[-1] == "left read in full, not as changes: its change-tracking cursor could " \
        "not be used", lines[-4:]


def test_a_run_from_a_filtered_select_reads_keys_first_and_syncs_every_change(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                     left_select=LEFT_SELECT + "&$filter=statecode eq 0")  # no change tracking
    assert pair.run().created_right == 18
    renamed, gone, leaving = sorted(pair.left_active())[:3]
    pair.left_update(renamed, {"name": "Renamed"})
    pair.left_delete(gone)
    pair.left_update(leaving, {"statecode": 1})
    new = pair.left_insert({"name": "Brand New", "statecode": 0})
    emu.recent_requests.clear()
    report = pair.run()
    assert (report.created_right, report.updated_right, report.deleted_right) == (1, 1, 2)
    assert report.plan is not None and report.plan.unchanged == 15
    assert set(pair.right()) == set(pair.left_active()) and new in pair.right()
    assert pair.right()[renamed] == pair.left()[renamed]
    reads = [r for r in emu.recent_requests if r.startswith("GET /api/data/v9.2/accounts?")]
    assert reads[0].startswith("GET /api/data/v9.2/accounts?$select=accountid&$filter=")
    assert len(reads) == 2 and "Microsoft.Dynamics.CRM.In" in reads[1]


def test_a_run_whose_rows_by_key_are_refused_fails_and_the_next_one_syncs_them(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                     left_select=LEFT_SELECT + "&$filter=statecode eq 0")
    pair.run()
    synced = pair.right()
    renamed = sorted(pair.left_active())[0]
    pair.left_update(renamed, {"name": "Renamed"})
    emu.faults.fail_next(1, status=400, query_contains="Microsoft.Dynamics.CRM.In")
    with pytest.raises(L2Error, match="400 Bad Request"):
        pair.run()
    assert pair.right() == synced
    report = pair.run()
    assert report.outcome == "success" and report.updated_right == 1
    assert pair.right()[renamed] == pair.left()[renamed] and len(pair.right()) == len(synced)


def test_without_change_tracking_a_match_key_other_than_the_key_syncs_just_the_edit(
        pair: Pair) -> None:
    pair.conn.mapping.match_key = ColumnPair("accountnumber", "accountnumber")
    pair.run()
    store = StateStore(pair.paths.state_db(pair.conn.slug))
    store.put("cursor.left", None)  # a full read; the read's own filter needs key = match key
    store.close()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "Renamed"})
    report = pair.run()
    assert report.updated_right == 1 and report.plan is not None and report.plan.unchanged == 19
    assert pair.right() == pair.left()


def test_a_first_run_creates_the_items_with_a_match_key_and_names_those_without(
        pair: Pair) -> None:
    pair.conn.mapping.match_key = ColumnPair("accountnumber", "accountnumber")
    for key in sorted(pair.left())[:2]:
        pair.left_update(key, {"accountnumber": None})
    report = pair.run()
    assert report.created_right == 18 and report.errors_left == 2
    errors = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "error"]
    assert any("2 item(s) on the left have no value in accountnumber" in m for m in errors)
    assert pair.right_count() == 18


def test_a_one_way_run_never_writes_the_source(pair: Pair) -> None:
    pair.run()
    key = next(iter(pair.right()))
    pair.right_update(key, {"name": "Edited on the target"})
    pair.right_insert({"name": "Only on the target"})
    before = pair.left()
    report = pair.run(full=True)
    assert pair.left() == before
    assert report.created_left == report.updated_left == report.deleted_left == 0


def test_full_repairs_target_drift(pair: Pair) -> None:
    pair.run()
    keys = sorted(pair.right())
    pair.right_update(keys[0], {"name": "drift"})
    pair.right_delete(keys[1])
    report = pair.run(full=True)
    assert report.updated_right == 1 and report.created_right == 1
    assert pair.right() == pair.left()


def synced_then_emptied(emu: Any, tmp_path: Path) -> Pair:
    """A connection (deletion guard at 20 %) run once, then every source row deleted."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2)
    pair.run()
    for key in list(pair.left()):
        pair.left_delete(key)
    return pair


def test_a_source_that_suddenly_returns_nothing_stops_at_the_deletion_guard(
        emu: Any, tmp_path: Path) -> None:
    pair = synced_then_emptied(emu, tmp_path)
    with pytest.raises(RunError, match="max_delete_ratio"):
        pair.run()
    assert pair.right_count() == 20


def replaced_by_other_accounts(pair: Pair) -> None:
    """The source now holds other accounts (another environment, say), and one edit."""
    keys = sorted(pair.left())
    for key in keys[1:]:
        pair.left_delete(key)
    pair.left_update(keys[0], {"name": "edited before the switch"})
    for n in range(30):
        pair.left_insert({"name": f"Other {n}", "accountnumber": f"OT-{n:04d}"})


def test_a_run_the_deletion_guard_refuses_writes_nothing_not_even_its_creates(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2)
    pair.run()
    before = pair.right()
    replaced_by_other_accounts(pair)
    with pytest.raises(RunError, match="max_delete_ratio"):
        pair.run()
    assert pair.right() == before


def test_a_bidirectional_run_the_deletion_guard_refuses_writes_nothing_on_either_side(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2,
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    replaced_by_other_accounts(pair)
    pair.right_insert({"name": "new in SQL"})
    left, right = pair.left(), pair.right()
    with pytest.raises(RunError, match="max_delete_ratio"):
        pair.run()
    assert pair.left() == left and pair.right() == right


def test_a_run_the_deletion_guard_refuses_records_no_conflict_as_settled(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2,
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    keys = sorted(pair.right())
    for key in keys:  # every SQL row gone, and one of them edited in Dataverse meanwhile
        pair.right_delete(key)
    pair.left_update(keys[0], {"name": "edited in Dataverse"})
    with pytest.raises(RunError, match="max_delete_ratio"):
        pair.run()
    assert Runner(pair.paths).conflicts(pair.conn) == []
    assert Runner(pair.paths).history(pair.conn, 1)[0].counts["conflicts"] == 0


@pytest.mark.parametrize("limit", ["HELD_IN_MEMORY", "HELD_TEXT"])
def test_writes_held_for_the_guard_beyond_what_memory_holds_are_all_written_once_it_passes(
        emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, limit: str) -> None:
    monkeypatch.setattr(f"l2tui.sync.apply.{limit}", 7 if limit == "HELD_IN_MEMORY" else 200)
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.5)
    pair.run()
    synced = sorted(pair.left())
    for key in synced[:5]:
        pair.left_update(key, {"name": f"edited {key}"})
    for n in range(30):
        pair.left_insert({"name": f"Other {n}", "accountnumber": f"OT-{n:04d}"})
    pair.left_delete(synced[-1])
    report = pair.run()
    assert (report.created_right, report.updated_right, report.deleted_right) == (30, 5, 1)
    assert pair.right() == pair.left()


def test_a_dry_run_goes_past_the_deletion_guard_and_reports_the_refusal(
        emu: Any, tmp_path: Path) -> None:
    pair = synced_then_emptied(emu, tmp_path)
    report = pair.run(dry_run=True)
    assert report.outcome == "dry_run" and report.deleted_right == 20
    assert "max_delete_ratio" in report.details["refused"]
    assert pair.right_count() == 20


def test_the_deletion_guard_names_both_sides_when_both_would_lose_too_many(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2,
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    keys = sorted(pair.left())
    for key in keys[:10]:
        pair.left_delete(key)
    for key in keys[10:20]:
        pair.right_delete(key)
    both = ("10 of the 20 synced items on the left (50%) and 10 of the 20 synced items on the "
            "right (50%), more than max_delete_ratio 20%")
    assert both in pair.run(dry_run=True).details["refused"]
    with pytest.raises(RunError, match=re.escape(both)):
        pair.run()
    assert pair.right_count() == 10 and len(pair.left()) == 10


def test_the_deletion_guard_writes_its_counts_with_thousands_separators(tmp_path: Path) -> None:
    from l2tui.emulator import Emulator

    with Emulator(rows=1200, seed=3, auth=False) as big:
        pair = make_pair(big, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.5,
                         direction=Direction.BIDIRECTIONAL)
        pair.run()
        with contextlib.closing(sqlite3.connect(tmp_path / "r.db")) as db, db:
            db.execute("DELETE FROM accounts")
        with pytest.raises(RunError, match=re.escape(
                "1,200 of the 1,200 synced items on the left (100%), more than max_delete_ratio")):
            pair.run()


def test_force_passes_the_deletion_guard(emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2)
    pair.run()
    for key in list(pair.left())[:10]:
        pair.left_delete(key)
    report = pair.run(force=True)
    assert report.deleted_right == 10 and pair.right_count() == 10


def test_deletions_ignore_keeps_the_target_item(emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", deletions=Deletions.IGNORE)
    pair.run()
    key = next(iter(pair.left()))
    pair.left_delete(key)
    report = pair.run()
    assert report.deleted_right == 0 and key in pair.right()


def test_an_item_whose_partner_was_deleted_while_deletions_are_ignored_is_reported_left_alone(
        emu: Any, tmp_path: Path) -> None:
    """It is on one side alone and the run leaves it so: counted as that (the summary's "1 only
    on the right, left alone"), in the run that meets the deletion and each run after, as a
    dry run plans it; it was in no count at all."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", deletions=Deletions.IGNORE)
    pair.run()
    pair.left_delete(next(iter(pair.left())))
    reports = [pair.run(dry_run=True), pair.run(), pair.run(), pair.run(full=True)]
    assert [(r.only_left, r.only_right, r.deleted_right) for r in reports] == [(0, 1, 0)] * 4
    assert [r.unchanged for r in reports[1:]] == [19] * 3
    assert "1 only on the right, left alone" in reports[1].message


def test_a_dry_run_writes_nothing_and_reports_the_plan(pair: Pair) -> None:
    report = pair.run(dry_run=True)
    assert report.outcome == "dry_run" and report.created_right == 20
    assert pair.right_count() == 0
    assert pair.run().created_right == 20


def test_a_dry_run_keeps_the_match_keys_of_its_first_20_writes_of_a_kind_and_no_more(
        pair: Pair) -> None:
    for n in range(5):
        pair.left_insert({"name": f"Other {n}"})
    report = pair.run(dry_run=True)
    created = report.details["planned"]["right"]["create"]
    assert report.created_right == 25 and len(created) == 20
    assert {key for [key] in created} < set(pair.left())


def test_the_seed_flow_first_one_way_then_bidirectional_agrees(pair: Pair) -> None:
    pair.run()
    pair.conn.direction = Direction.BIDIRECTIONAL
    left_keys = sorted(pair.left())
    pair.left_update(left_keys[0], {"name": "edited in Dynamics"})
    pair.right_update(left_keys[1], {"name": "edited in SQL", "revenue": 99.5})
    new_right = pair.right_insert({"name": "new in SQL"})
    new_left = pair.left_insert({"name": "new in Dynamics"})
    report = pair.run()
    assert report.outcome == "success", report.message
    left, right = pair.left(), pair.right()
    assert left == right
    assert left[left_keys[0]][0] == "edited in Dynamics"
    assert left[left_keys[1]][:3] == ("edited in SQL", right[left_keys[1]][1], "99.5")
    assert new_right in left and new_left in right


def _sql_versions_known(pair: Pair) -> int:
    with sqlite3.connect(pair.paths.state_db(pair.conn.slug)) as db:
        return int(db.execute("SELECT COUNT(*) FROM items WHERE rver IS NOT NULL").fetchone()[0])


@pytest.fixture
def two_way(emu: Any, tmp_path: Path) -> Pair:
    """A bidirectional pair that has run twice: the second run learnt each SQL row's version."""
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    pair.run()
    assert _sql_versions_known(pair) == 20
    return pair


def test_a_left_edit_reaches_a_sql_row_skipped_by_its_version(two_way: Pair) -> None:
    key = next(iter(two_way.left()))
    two_way.left_update(key, {"name": "Edited in Dynamics", "revenue": 12.5})
    report = two_way.run()
    assert (report.updated_right, report.updated_left) == (1, 0)
    assert two_way.right()[key] == two_way.left()[key]
    assert two_way.run().plan.writes == 0  # type: ignore[union-attr]


def test_a_left_delete_removes_a_sql_row_skipped_by_its_version(two_way: Pair) -> None:
    key = next(iter(two_way.left()))
    two_way.left_delete(key)
    report = two_way.run()
    assert report.deleted_right == 1 and key not in two_way.right()
    assert two_way.left() == two_way.right()


def test_sql_rows_skipped_by_their_version_count_as_unchanged(two_way: Pair) -> None:
    key = next(iter(two_way.left()))
    two_way.left_update(key, {"name": "Edited in Dynamics"})
    report = two_way.run()
    assert (report.updated_right, report.unchanged) == (1, 19)


def test_a_left_read_in_full_removes_a_sql_row_skipped_by_its_version(two_way: Pair) -> None:
    # no delta cursor (change tracking off, or its token expired): the left is read in full, and
    # a SQL row skipped by its version whose Dynamics record is gone must still be deleted
    key = next(iter(two_way.left()))
    two_way.left_delete(key)
    state = StateStore(two_way.paths.state_db(two_way.conn.slug))
    state.put("cursor.left", None)
    state.commit()
    state.close()
    report = two_way.run()
    assert report.deleted_right == 1 and key not in two_way.right()
    assert two_way.left() == two_way.right()
    assert two_way.run().plan.writes == 0  # type: ignore[union-attr]


def test_sql_rows_whose_guid_keys_differ_only_by_case_are_none_synced_and_each_run_fails(
        emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # a text key paired with a Dataverse GUID: an upper-case copy of a key is another SQL key
    # but the same match key, as a value two rows share (README "Keys"): neither row is synced,
    # their partner is left as it is, and each run ends with an error naming them; read pages
    # after the row it copies (5 a page), after a switch to bidirectional (read in full)
    monkeypatch.setattr("l2tui.providers.sql.provider.DEFAULT_PAGE", 5)
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts")
    pair.run()
    pair.conn.direction = Direction.BIDIRECTIONAL
    key = next(iter(pair.right()))
    before = pair.left()[key]
    pair.right_insert({"name": "Shadow"}, key=key.upper())
    pair.right_update(key, {"name": "Edited"})

    for _ in range(2):
        pair.events.clear()
        report = pair.run()

        assert report.outcome == "errors" and report.errors_right == 1, report.message
        assert report.updated_left == report.created_left == report.deleted_left == 0
        assert pair.left()[key] == before
        assert [(e.key, e.message) for e in pair.events if isinstance(e, ItemError)] == [
            (f'["{key}"]', f"appears 2 times (as '{key.upper()}', '{key}': one GUID in any "
                           "case): primary_key must be unique")]


def test_a_bidirectional_run_on_a_sqlite_without_json_functions_keeps_both_sides_alike(
        emu: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # no json_each (a SQLite built without JSON): no row is skipped by its version or noted
    # as synced; each is compared
    monkeypatch.setattr("l2tui.sync.state._has_json_each", lambda db: False)
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    pair.run()
    keys = sorted(pair.left())
    pair.left_update(keys[0], {"name": "Edited in Dynamics"})
    pair.right_update(keys[1], {"name": "Edited in SQL"})
    pair.left_delete(keys[2])
    report = pair.run()
    assert (report.updated_right, report.updated_left, report.deleted_right) == (1, 1, 1)
    assert pair.left() == pair.right() and len(pair.left()) == 19
    assert pair.run().plan.writes == 0  # type: ignore[union-attr]


def test_dynamics_to_dynamics_counts_each_unchanged_pair_once(emu: Any, tmp_path: Path) -> None:
    # both sides read by change tracking: the run after the first gets its own creates back in
    # the right's delta, unchanged (noted as synced), and the left's pairs unmentioned
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=4, auth=False) as other:
        pair = make_pair(emu, sqlite_url(tmp_path / "unused.db"), "accounts",
                         direction=Direction.BIDIRECTIONAL)
        pair.conn.entity2 = Entity(title="Other Dynamics", provider="odata",
                                   connection_string=other.connection_string("accounts"),
                                   select=LEFT_SELECT, primary_key=["accountid"])
        assert pair.run().created_right == 20
        again = pair.run()
        assert (again.outcome, again.unchanged, again.plan.writes) == (  # type: ignore[union-attr]
            "success", 20, 0)


def test_sql_edits_beside_unchanged_rows_go_left_and_versions_are_relearnt(
        two_way: Pair) -> None:
    keys = list(two_way.right())
    two_way.right_update(keys[0], {"name": "Edited in SQL"})
    two_way.left_update(keys[1], {"name": "Edited in Dynamics"})
    report = two_way.run()
    assert (report.updated_left, report.updated_right) == (1, 1)
    assert two_way.left() == two_way.right()
    two_way.run()  # both rows were written or changed: their SQL versions are learnt again
    assert _sql_versions_known(two_way) == 20
    assert two_way.run().plan.writes == 0  # type: ignore[union-attr]


def test_a_conflict_is_settled_by_the_policy_and_recorded_with_both_values(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=ConflictResolution.RIGHT_WINS)
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "left value"})
    pair.right_update(key, {"name": "right value"})
    report = pair.run()
    assert report.conflicts == 1 and pair.left()[key][0] == "right value"
    [conflict] = [e for e in pair.events if isinstance(e, Conflict)]
    assert conflict.left and conflict.left["name"] == "left value"
    recorded = Runner(pair.paths).conflicts(pair.conn)
    assert recorded[-1]["left"]["name"] == "left value"


def test_a_skipped_conflict_is_reported_every_run_until_settled(emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=ConflictResolution.SKIP)
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "left value"})
    pair.right_update(key, {"name": "right value"})
    assert pair.run().outcome == "conflicts"
    assert pair.run().outcome == "conflicts"
    pair.right_update(key, {"name": "left value"})
    assert pair.run().outcome == "success"
    assert pair.left() == pair.right()


def test_a_new_sql_row_without_a_key_gets_its_dataverse_guid_written_back(
        emu: Any, tmp_path: Path) -> None:
    url = sqlite_url(tmp_path / "r.db")
    pair = make_pair(emu, url, "accounts", direction=Direction.BIDIRECTIONAL)
    pair.run()
    db = sqlite3.connect(tmp_path / "r.db")
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, accountid TEXT, name TEXT)")
    db.execute("INSERT INTO people(name) VALUES ('keyless')")
    db.commit()
    pair.conn.entity2.select = "people"
    pair.conn.entity2.primary_key = ["id"]
    pair.conn.entity2.modified_column = None
    report = pair.run()
    assert report.errors_left == report.errors_right == 0, report.message
    guid = db.execute("SELECT accountid FROM people WHERE name = 'keyless'").fetchone()[0]
    assert guid and emu.store.get("accounts", guid)["name"] == "keyless"
    again = pair.run()
    assert again.plan is not None and again.plan.writes == 0


def test_a_dry_run_lists_a_new_sql_row_without_a_key_as_new_by_its_own_key_not_a_made_up_guid(
        emu: Any, tmp_path: Path) -> None:
    """The GUID a dry run makes for such a row is not the one a real run makes: the plan names
    the row by its own key instead, as new."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    db = sqlite3.connect(tmp_path / "r.db")
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, accountid TEXT, name TEXT)")
    db.execute("INSERT INTO people(id, name) VALUES (7, 'keyless')")
    db.commit()
    pair.conn.entity2.select = "people"
    pair.conn.entity2.primary_key = ["id"]
    pair.conn.entity2.modified_column = None
    report = pair.run(dry_run=True)
    assert report.created_left == 1, report.message
    assert report.details["planned"]["left"]["create"] == [{"new": {"id": 7}}]
    assert planned_lines(report)[:2] == ["To create on Data Entity 1 (left): 1", "  new (id = 7)"]


def test_a_guid_the_sql_table_refuses_to_take_back_is_an_error_of_the_run_naming_the_row(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    db = sqlite3.connect(tmp_path / "r.db")
    db.execute("CREATE TABLE people (id INTEGER PRIMARY KEY, name TEXT, accountid TEXT "
               "CHECK (accountid IS NULL OR name <> 'refuses a key'))")
    db.execute("INSERT INTO people(name) VALUES ('refuses a key')")
    db.commit()
    pair.conn.entity2.select = "people"
    pair.conn.entity2.primary_key = ["id"]
    pair.conn.entity2.modified_column = None
    before = len(pair.left())
    report = pair.run()
    assert report.outcome == "errors" and report.errors_right == 1, report.message
    assert report.created_left == 0 and len(pair.left()) == before
    [error] = [e for e in pair.events if isinstance(e, ItemError)]
    assert (error.side, error.key) == ("right", "[1]")  # (its own key: the GUID was new)
    assert error.message.startswith("its new accountid not written: CHECK constraint failed")


def test_a_sql_row_whose_own_key_is_the_empty_match_key_fails_and_makes_nothing_in_dataverse(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    db = sqlite3.connect(tmp_path / "r.db")  # SQLite takes NULL in a TEXT PRIMARY KEY
    db.execute("CREATE TABLE people (id TEXT PRIMARY KEY, name TEXT)")
    db.execute("INSERT INTO people VALUES (NULL, 'keyless')")
    db.commit()
    pair.conn.entity2.select = "people"
    pair.conn.entity2.primary_key = ["id"]
    pair.conn.entity2.modified_column = None
    manual_mapping(pair, [("accountid", "id"), ("name", "name")])
    before = len(pair.left())
    first, second = pair.run(), pair.run()
    assert first.errors_right == second.errors_right == 1, first.message
    assert first.created_left == second.created_left == 0
    assert first.deleted_left == second.deleted_left == 0
    assert len(pair.left()) == before
    assert db.execute("SELECT COUNT(*) FROM people WHERE name = 'keyless'").fetchone()[0] == 1


def test_a_one_way_run_leaves_alone_target_items_without_a_match_key_value(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts")
    pair.run()  # the SQL rows, then turned round: SQL → Dataverse by account number
    pair.conn.direction = Direction.RIGHT_TO_LEFT
    pair.conn.mapping.match_key = ColumnPair("accountnumber", "accountnumber")
    pair.left_insert({"name": "no account number"})
    report = pair.run(force=True)
    assert report.errors_left == report.errors_right == 0, report.message
    assert report.outcome == "success" and report.only_left == 1


def test_a_mapping_change_rebaselines_without_deleting_or_duplicating(pair: Pair) -> None:
    pair.run()
    manual_mapping(pair, [("accountid", "accountid"), ("name", "name")])
    report = pair.run()
    assert report.deleted_right == report.created_right == 0
    assert report.plan is not None and report.plan.writes == 0
    assert pair.right_count() == 20


def test_reset_matches_existing_items_instead_of_duplicating(pair: Pair) -> None:
    pair.run()
    report = pair.run(reset=True)
    assert report.created_right == 0 and report.unchanged == 20


def test_a_manual_pair_onto_a_missing_column_is_a_config_error(pair: Pair) -> None:
    manual_mapping(pair, [("name", "no_such_column")])
    with pytest.raises(ConfigError, match=r"mapping.columns\[0\].right.*no_such_column"):
        pair.run()
    assert pair.right_count() == 0


def test_types_that_cannot_convert_are_a_config_error(pair: Pair) -> None:
    manual_mapping(pair, [("accountid", "accountid"), ("creditonhold", "changed_at")])
    with pytest.raises(ConfigError, match="cannot be converted"):
        pair.run()


def test_a_second_run_of_the_same_connection_fails_naming_the_pid(pair: Pair) -> None:
    runner = Runner(pair.paths)
    with runner._lock(pair.conn), pytest.raises(RunError, match=r"already running \(PID \d+\)"):
        pair.run()


def test_cancellation_stops_cleanly_and_the_next_run_completes(pair: Pair) -> None:
    cancel = threading.Event()
    cancel.set()
    report = pair.run(cancel=cancel)
    assert report.outcome == "cancelled"
    assert pair.run().outcome == "success"
    assert pair.right() == pair.left()


def test_a_run_cancelled_after_writing_leaves_the_next_run_incremental(pair: Pair) -> None:
    """Cancelled between batches, every write made is recorded: the next run reads the source's
    delta as usual, without comparing both sides in full."""
    pair.run()
    for key in sorted(pair.left())[:5]:
        pair.left_update(key, {"name": f"edited {key[:8]}"})
    cancel = threading.Event()

    def sink(event: Any) -> None:
        if isinstance(event, Progress):  # a page read and its writes made (one a batch)
            cancel.set()

    report = Runner(pair.paths).run(pair.conn, sink=sink, cancel=cancel, batch_size=1)
    assert report.outcome == "cancelled" and report.updated_right > 0
    report = pair.run()
    assert report.outcome == "success" and report.details["mode"] == {"left": "delta",
                                                                       "right": "none"}
    assert pair.right() == pair.left()


def test_the_run_after_a_cancelled_first_run_says_it_was_cancelled_not_that_writes_are_unknown(
        pair: Pair) -> None:
    cancel = threading.Event()

    def sink(event: Any) -> None:
        if isinstance(event, Progress):
            cancel.set()

    report = Runner(pair.paths).run(pair.conn, sink=sink, cancel=cancel, batch_size=1)
    assert report.outcome == "cancelled"
    pair.events.clear()
    assert pair.run().ok
    warnings = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]
    assert warnings == ["the previous run was cancelled before it finished: comparing both sides, "
                        "matching by key"]
    assert pair.right() == pair.left()


def test_a_first_run_cancelled_midway_leaves_the_next_run_matching_the_rest_by_key(
        tmp_path: Path) -> None:
    """A first run into a Dataverse that holds most of the accounts already (right to left,
    matched by account number, GUIDs made by the writer) is cancelled after its first page: the
    next run matches the rest by key too, instead of creating them again."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 3000)
        for i in range(1000, 3000):  # the first page's rows are new, the others there
            emu.store.insert("accounts", {"accountnumber": f"AC-{i:06}",
                                          "name": f"SQL account {i}", "revenue": i})
        cancel = threading.Event()

        def sink(event: Any) -> None:
            if isinstance(event, Progress) and event.phase == "read right":
                cancel.set()  # after the first page of the SQL rows

        report = Runner(setup.paths).run(setup.conn, sink=sink, cancel=cancel)
        assert report.outcome == "cancelled" and 0 < setup.pairs() < 3000
        assert Runner(setup.paths).run(setup.conn).ok
        left = setup.left()
        assert len(left) == 3000 and left == setup.right()
        setup.engine.dispose()


def test_events_start_and_finish_a_run_and_history_records_it(pair: Pair) -> None:
    pair.run()
    assert isinstance(pair.events[0], RunStarted) or any(
        isinstance(e, RunStarted) for e in pair.events)
    assert isinstance(pair.events[-1], RunFinished)
    [record] = Runner(pair.paths).history(pair.conn)
    assert record.outcome == "success" and record.counts["created_right"] == 20


def test_a_lock_file_that_cannot_be_opened_stops_the_run_naming_it(pair: Pair) -> None:
    """A setup problem (ConfigError, exit 2), as a log folder that cannot be written is."""
    lock = Runner(pair.paths).lock_path(pair.conn)
    lock.mkdir(parents=True)  # (root passes permissions: a folder in its place cannot open)
    with pytest.raises(ConfigError, match=f"cannot open the lock file {re.escape(str(lock))}: "
                                       ".*; nothing was run"):
        pair.run()
    assert pair.right_count() == 0


def test_a_symbolic_link_in_place_of_the_lock_file_is_refused_and_its_target_left_alone(
        pair: Pair, tmp_path: Path) -> None:
    target = tmp_path / "precious.txt"
    target.write_text("kept")
    lock = Runner(pair.paths).lock_path(pair.conn)
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.symlink_to(target)
    with pytest.raises(RunError, match=f"^cannot open the lock file {re.escape(str(lock))}: it is "
                                       r"a symbolic link, which l2tui does not follow \(remove "
                                       r"it\); nothing was run$"):
        pair.run()
    assert target.read_text() == "kept"
    assert pair.right_count() == 0


def test_a_run_log_on_a_full_disk_is_given_up_without_stopping_the_run() -> None:
    full = open("/dev/full", "w", encoding="utf-8")  # noqa: SIM115  (every write: ENOSPC)
    try:
        write = _log_writer(full)
        write(LogLine(message="reading left"))
        write(LogLine(message="and more"))
    finally:
        with contextlib.suppress(OSError):  # (its buffer cannot be written either)
            full.close()


def test_a_run_that_cannot_reach_a_side_is_in_the_history_as_failed(pair: Pair) -> None:
    pair.run()
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    pair.conn.entity1.connection_string = re.sub(
        r"127\.0\.0\.1:\d+", f"127.0.0.1:{port}", pair.conn.entity1.connection_string)
    with pytest.raises(L2Error, match="nothing listens"):
        pair.run()
    latest, first = Runner(pair.paths).history(pair.conn)
    assert first.outcome == "success"
    assert latest.outcome == "failed" and "nothing listens" in latest.message
    assert latest.finished is not None and latest.log


def test_a_run_whose_mapping_does_not_fit_is_in_the_history_as_failed(pair: Pair) -> None:
    manual_mapping(pair, [("name", "no_such_column")])
    with pytest.raises(ConfigError):
        pair.run()
    [record] = Runner(pair.paths).history(pair.conn)
    assert record.outcome == "failed" and "no_such_column" in record.message


def test_the_state_its_wal_and_the_log_are_readable_by_their_owner_alone(pair: Pair) -> None:
    pair.run()
    state = pair.paths.state_db(pair.conn.slug)
    files = [state, wal_path(state), state.with_name(state.name + "-shm"),
             *pair.paths.run_logs(pair.conn.slug).iterdir()]
    assert {f.name: stat.S_IMODE(f.stat().st_mode) for f in files if f.exists()} == \
        {f.name: 0o600 for f in files if f.exists()}
    assert wal_path(state).exists()


def test_a_state_file_readable_by_others_is_made_private_at_the_next_run(pair: Pair) -> None:
    pair.run()
    state = pair.paths.state_db(pair.conn.slug)
    state.chmod(0o644)
    pair.run()
    assert stat.S_IMODE(state.stat().st_mode) == 0o600


def test_a_symbolic_link_in_place_of_the_state_file_is_refused_and_its_target_left_alone(
        pair: Pair, tmp_path: Path) -> None:
    target = tmp_path / "elsewhere.sqlite"
    target.write_bytes(b"")
    target.chmod(0o644)
    state = pair.paths.state_db(pair.conn.slug)
    state.parent.mkdir(parents=True, exist_ok=True)
    state.symlink_to(target)
    with pytest.raises(L2Error, match=f"^the sync state {re.escape(str(state))} cannot be used: "
                                      "it is a symbolic link, which l2tui does not follow"):
        pair.run()
    assert (target.read_bytes(), stat.S_IMODE(target.stat().st_mode)) == (b"", 0o644)


def test_the_state_store_is_sqlite_in_wal_mode(pair: Pair) -> None:
    pair.run()
    state = StateStore(pair.paths.state_db(pair.conn.slug))
    try:
        assert state.db.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert state.count() == 20
    finally:
        state.close()


def test_a_run_leaves_its_state_in_the_wal_and_the_next_run_checkpoints_it(pair: Pair) -> None:
    path = pair.paths.state_db(pair.conn.slug)
    pair.run()
    pair.run()
    assert wal_path(path).stat().st_size > 0
    assert rows_in_the_file_alone(path, "runs") == 1  # the first run's, checkpointed as the second began
    assert len(Runner(pair.paths).history(pair.conn)) == 2


def test_a_state_file_removed_by_hand_starts_afresh_despite_the_wal_left_beside_it(
        pair: Pair) -> None:
    path = pair.paths.state_db(pair.conn.slug)
    pair.run()
    pair.run()
    assert wal_path(path).exists()
    path.unlink()
    report = pair.run()  # a first run again: it matches the rows already on the right
    assert report.outcome == "success" and report.created_right == 0
    assert len(Runner(pair.paths).history(pair.conn)) == 1
    again = pair.run()
    assert again.plan is not None and again.plan.writes == 0


def test_the_state_wal_starts_over_at_each_run_instead_of_growing(pair: Pair) -> None:
    wal = wal_path(pair.paths.state_db(pair.conn.slug))
    pair.run()
    key = next(iter(pair.left()))
    sizes = []
    for number in range(5):
        pair.left_update(key, {"name": f"Renamed {number}"})
        assert pair.run().updated_right == 1
        sizes.append(wal.stat().st_size)
    # written over from its start, the file keeps the size of the largest run; appended to, it
    # would grow by each run's frames (five here)
    assert sizes[-1] <= sizes[0] + 2 * (4096 + 24), sizes


def test_a_sqlite_side_is_described_while_dataverse_is_still_being_described(pair: Pair) -> None:
    left, right = (open_entity(pair.conn, index, pair.paths) for index in (1, 2))
    moments: dict[str, float] = {}
    describe_left, describe_right = left.describe, right.describe

    def left_describe() -> Any:
        try:
            return describe_left()
        finally:
            moments.setdefault("left done", time.monotonic())  # (asked again for its keys)

    def right_describe() -> Any:
        moments.setdefault("right began", time.monotonic())
        return describe_right()

    left.describe, right.describe = left_describe, right_describe  # type: ignore[method-assign]
    pair.emu.faults.delay_next(1, 0.5, path_contains="EntityDefinitions")
    try:
        plan = plan_mapping(pair.conn, left, right)
    finally:
        left.close()
        right.close()
    assert moments["right began"] < moments["left done"]
    assert {p.left.name for p in plan.pairs} >= {"name", "revenue"}


def test_when_both_sides_fail_to_describe_the_left_failure_is_reported(pair: Pair) -> None:
    pair.conn.entity1.connection_string = pair.emu.connection_string("nosuchentities")
    pair.conn.entity2.select = "no_such_table"
    with pytest.raises(L2Error) as failure:
        pair.run()
    assert "nosuchentities" in str(failure.value) and "no_such_table" not in str(failure.value)


def test_when_a_sqlite_left_and_dataverse_right_both_fail_the_left_is_reported(pair: Pair) -> None:
    conn = pair.conn
    conn.entity1, conn.entity2 = conn.entity2, conn.entity1
    conn.direction = Direction.RIGHT_TO_LEFT
    conn.entity1.select = "no_such_table"
    conn.entity2.connection_string = pair.emu.connection_string("nosuchentities")
    with pytest.raises(L2Error) as failure:
        pair.run()
    assert "no_such_table" in str(failure.value) and "nosuchentities" not in str(failure.value)


def test_a_run_log_file_is_written_without_secrets(pair: Pair) -> None:
    pair.run()
    [log] = list(pair.paths.run_logs(pair.conn.slug).iterdir())
    text = log.read_text()
    assert "run finished: success" in text and "password" not in text.lower()


def test_each_run_has_a_log_file_of_its_own_even_within_one_second(pair: Pair) -> None:
    for _ in range(3):  # (a run of 20 accounts takes well under a second)
        pair.run()
    logs = list(pair.paths.run_logs(pair.conn.slug).iterdir())
    assert len(logs) == 3
    assert all(log.read_text().count("run started") == 1 for log in logs)


def test_dropping_a_deleted_connections_state_removes_its_run_logs(pair: Pair) -> None:
    pair.run()
    assert Runner(pair.paths).drop_state(pair.conn) is None
    assert not pair.paths.run_logs(pair.conn.slug).exists()
    assert not pair.paths.state_db(pair.conn.slug).exists()


def test_a_log_folder_that_cannot_be_removed_is_said_in_one_line_the_state_dropped(
        pair: Pair) -> None:
    pair.run()
    folder = pair.paths.run_logs(pair.conn.slug)
    for log in folder.iterdir():
        log.unlink()
    folder.rmdir()
    folder.write_text("a file in place of the log folder\n")
    said = Runner(pair.paths).drop_state(pair.conn)
    assert said == f"its run logs were not deleted: cannot remove {folder}: Not a directory"
    assert not pair.paths.state_db(pair.conn.slug).exists()


def test_latest_wins_without_a_modified_on_column_says_which_side_conflicts_go_to(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=ConflictResolution.LATEST_WINS)
    pair.conn.entity2.modified_column = None  # (the SQL table has no modifiedon either)
    pair.run()
    warnings = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]
    assert any("latest_wins" in w and "entity2.modified_column" in w for w in warnings), warnings


def test_a_target_select_that_joins_tables_says_the_target_cannot_be_written(pair: Pair) -> None:
    pair.conn.entity2.select = ("SELECT a.* FROM accounts a "
                                "JOIN accounts b ON a.accountid = b.accountid")
    with pytest.raises(ConfigError, match="entity 2 cannot be written: read-only because it "
                                          "joins tables"):
        pair.run()


def test_an_item_pushed_out_of_a_top_n_select_is_not_deleted_on_the_other_side(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, left_select=LEFT_SELECT + "&$top=5")
    assert pair.run().created_right == 5
    # a SQL row whose key sorts first goes to Dataverse and takes a place in its first five
    pair.right_insert({"name": "SQL first"}, key="00000000-0000-0000-0000-000000000001")
    assert pair.run().created_left == 1
    report = pair.run()
    assert report.deleted_right == report.deleted_left == 0
    assert pair.right_count() == 6


def test_an_item_pushed_out_of_a_sql_limit_select_is_not_deleted_on_the_target(
        tmp_path: Path) -> None:
    from l2tui.config.model import Connection, Entity, Mapping
    from l2tui.paths import resolve_paths

    source, target = tmp_path / "source.db", tmp_path / "target.db"
    with sqlite3.connect(source) as db:
        db.execute("CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT)")
        db.execute("INSERT INTO items VALUES ('b', 'B'), ('c', 'C'), ('d', 'D')")
    with sqlite3.connect(target) as db:
        db.execute("CREATE TABLE items (id TEXT PRIMARY KEY, name TEXT)")
    conn = Connection(
        title="Limited", max_delete_ratio=1.0, mapping=Mapping(auto=True),
        entity1=Entity(provider="sqlite", connection_string=f"Data Source={source};",
                       select="SELECT id, name FROM items ORDER BY id LIMIT 2", primary_key=["id"]),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={target};",
                       select="items", primary_key=["id"]),
    )
    runner = Runner(resolve_paths())
    assert runner.run(conn).created_right == 2
    with sqlite3.connect(source) as db:
        db.execute("INSERT INTO items VALUES ('a', 'A')")  # 'c' is no longer in the first two
    report = runner.run(conn)
    assert report.created_right == 1 and report.deleted_right == 0
    with sqlite3.connect(target) as db:
        assert [r[0] for r in db.execute("SELECT id FROM items ORDER BY id")] == ["a", "b", "c"]


def test_a_run_between_two_tables_of_one_sqlite_file_writes_while_it_handles_its_last_page(
        tmp_path: Path) -> None:
    """The source's read, all fetched, holds no lock on the file its writes go to (a rollback
    journal, SQLite's default): it held its read transaction until the last page was handled,
    and the write of a batch meanwhile waited until it failed as locked."""
    from l2tui.config.model import Connection, Entity, Mapping
    from l2tui.paths import resolve_paths

    path = tmp_path / "one.db"
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        for table in ("source", "target"):
            db.execute(f"CREATE TABLE {table} (id TEXT PRIMARY KEY, name TEXT)")
        db.executemany("INSERT INTO source VALUES (?, ?)",
                       [(f"{i:04}", f"Item {i}") for i in range(300)])  # (less than a page)
    conn = Connection(
        title="One file", mapping=Mapping(auto=True),
        entity1=Entity(provider="sqlite", connection_string=f"Data Source={path};",
                       select="source", primary_key=["id"]),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={path};",
                       select="target", primary_key=["id"]))

    report = Runner(resolve_paths()).run(conn, batch_size=100)

    assert report.outcome == "success" and report.created_right == 300


def test_a_dry_run_is_recorded_with_its_own_start_before_its_end(pair: Pair) -> None:
    pair.run(dry_run=True)
    [record] = Runner(pair.paths).history(pair.conn)
    assert record.outcome == "dry_run" and record.finished is not None
    assert record.started <= record.finished


def test_a_first_one_way_run_counts_target_rows_it_leaves_alone_apart_from_the_unchanged(
        pair: Pair) -> None:
    for name in ("only here 1", "only here 2", "only here 3"):
        pair.right_insert({"name": name})
    report = pair.run()
    assert (report.created_right, report.unchanged, report.only_right) == (20, 0, 3)


def test_a_run_from_an_empty_state_does_not_look_for_pairs_it_left_unhandled(pair: Pair) -> None:
    # (every pair such a state holds at the end was saved by the run itself)
    def statements_of_a_run(full: bool = False) -> list[str]:
        providers = [open_entity(pair.conn, i, pair.paths) for i in (1, 2)]
        pair.paths.ensure()
        state = StateStore(pair.paths.state_db(pair.conn.slug))
        statements: list[str] = []
        state.db.set_trace_callback(statements.append)
        try:
            assert Engine(pair.conn, providers[0], providers[1], state,
                          options=Options(full=full)).run().ok
        finally:
            state.close()
            for provider in providers:
                provider.close()
        return statements

    assert not any("temp.pending" in s for s in statements_of_a_run())
    assert pair.right() == pair.left()
    pair.left_delete(next(iter(pair.left())))
    assert any("temp.pending" in s for s in statements_of_a_run(full=True))  # (the next looks)
    assert pair.right() == pair.left()


def test_latest_wins_says_when_a_side_has_no_modified_on_value_and_the_left_won(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=ConflictResolution.LATEST_WINS)
    pair.run()
    key = next(iter(pair.left()))
    pair.right_update(key, {"name": "edited in SQL", "changed_at": None})
    pair.left_update(key, {"name": "edited in Dataverse"})
    report = pair.run()
    assert report.conflicts == 1 and pair.right()[key] == pair.left()[key]
    warnings = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]
    assert any(w.startswith("latest_wins: 1 conflict(s) met a side without a modified-on value")
               for w in warnings), warnings


def test_latest_wins_takes_a_modified_on_text_that_is_no_date_as_no_value(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=ConflictResolution.LATEST_WINS)
    with sqlite3.connect(tmp_path / "r.db") as db:  # a text column: it keeps any text
        db.execute("ALTER TABLE accounts ADD COLUMN touched TEXT")
    pair.conn.entity2.modified_column = "touched"
    pair.run()
    key = next(iter(pair.left()))
    with sqlite3.connect(tmp_path / "r.db") as db:  # (a text sorting after any ISO date)
        db.execute("UPDATE accounts SET name = 'edited in SQL', touched = 'next tuesday' "
                   "WHERE accountid = ?", (key,))
    pair.left_update(key, {"name": "edited in Dataverse"})
    report = pair.run()
    assert report.conflicts == 1 and pair.left()[key][0] == "edited in Dataverse"
    warnings = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]
    assert any(w.startswith("latest_wins: 1 conflict(s) met a side without a modified-on value")
               for w in warnings), warnings


def test_a_run_stopped_by_a_damaged_state_says_why_in_its_log(pair: Pair) -> None:
    pair.run()
    logs = pair.paths.run_logs(pair.conn.slug)
    before = set(logs.iterdir())
    pair.paths.state_db(pair.conn.slug).write_bytes(b"not a database" * 100)
    wal_path(pair.paths.state_db(pair.conn.slug)).unlink(missing_ok=True)
    with pytest.raises(L2Error, match="cannot be used"):
        pair.run()
    [log] = set(logs.iterdir()) - before
    assert "cannot be used" in log.read_text() and "--reset starts over" in log.read_text()


def test_a_first_run_whose_select_the_service_refused_leaves_no_unknown_writes_behind(
        pair: Pair) -> None:
    # it wrote nothing, yet the next run warned that "the outcome of some writes of a previous
    # run is unknown"
    select = pair.conn.entity1.select
    pair.conn.entity1.select = "$select=accountid,name&$filter=(name eq 'x'"
    with pytest.raises(L2Error, match="refused the select"):
        pair.run()
    pair.conn.entity1.select = select
    pair.events.clear()
    assert pair.run().ok
    warnings = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]
    assert not any("outcome of some writes" in w for w in warnings), warnings
    assert pair.right_count() == 20


def _with_description(pair: Pair) -> None:
    """Both sides carry a description column (the right's added by hand), and the left reads it."""
    with pair.engine.begin() as c:
        c.exec_driver_sql("ALTER TABLE accounts ADD COLUMN description TEXT")
    pair.conn.entity1.select = LEFT_SELECT + ",description"


def _descriptions(pair: Pair) -> dict[str, str | None]:
    """The right's description by accountid."""
    with pair.engine.connect() as c:
        return dict(c.exec_driver_sql("SELECT accountid, description FROM accounts").all())


def test_an_excluded_column_is_left_as_it_is_while_the_other_columns_sync(pair: Pair) -> None:
    _with_description(pair)
    pair.conn.mapping.exclude = ["Description"]  # (in any case, as auto mapping matches names)
    assert any(r["description"] for r in pair.emu.store.rows("accounts"))
    assert pair.run().created_right == 20
    assert pair.right() == pair.left()
    assert set(_descriptions(pair).values()) == {None}
    key = sorted(pair.left())[0]
    with pair.engine.begin() as c:
        c.exec_driver_sql("UPDATE accounts SET description = 'kept by hand' WHERE accountid = ?",
                          (key,))
    pair.left_update(key, {"name": "Renamed", "description": "not carried"})
    assert pair.run().updated_right == 1
    assert pair.right()[key][0] == "Renamed"
    assert _descriptions(pair)[key] == "kept by hand"


def test_without_exclude_the_same_column_is_carried(pair: Pair) -> None:
    _with_description(pair)
    pair.run()
    left = {r["accountid"]: r["description"] for r in pair.emu.store.rows("accounts")}
    assert _descriptions(pair) == left


@pytest.mark.parametrize(("exclude", "refusal"), [
    (["nosuchcolumn"], "mapping.exclude: 'nosuchcolumn' is a column of neither entity"),
    (["accountid"], "mapping.exclude: 'accountid' is in the match key, which cannot be excluded"),
    (["NAME"], "mapping.exclude: 'NAME' is both mapped ([[mapping.columns]]) and excluded"),
], ids=["not a column", "the match key", "mapped by hand"])
def test_an_exclude_the_mapping_check_refuses_writes_nothing(
        pair: Pair, exclude: list[str], refusal: str) -> None:
    pair.conn.mapping.columns = [ColumnPair("name", "name")]
    pair.conn.mapping.exclude = exclude
    with pytest.raises(ConfigError) as refused:
        pair.run()
    assert str(refused.value).startswith(refusal) and "\n" not in str(refused.value)
    assert pair.right_count() == 0
