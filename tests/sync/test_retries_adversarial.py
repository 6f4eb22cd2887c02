"""Item errors kept for the next run to read by key, tried against what may happen to those
items between runs: deleted, edited again, a stop, another select, right to left, --full."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from l2tui.config.model import ConflictResolution, Deletions, Direction, Entity
from l2tui.runner import Runner
from l2tui.sync.events import Event, Progress
from tests.sync.support import LEFT_SELECT, Pair, sqlite_url
from tests.sync.test_retries import _allow, _cursor, _failed_once, _pair, _refuse_name, _state


def _retry(pair: Pair) -> list[str]:
    return sorted(m for (m,) in _state(pair, "SELECT mkey FROM retry"))


def test_a_failed_item_deleted_on_the_source_is_deleted_on_the_target(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    pair.left_delete(refused)
    report = pair.run()
    assert (report.outcome, report.deleted_right) == ("success", 1)
    assert refused not in pair.right() and _retry(pair) == []


def test_a_failed_item_deleted_on_the_source_is_left_on_the_target_when_deletions_are_ignored(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    pair.conn.deletions = Deletions.IGNORE
    refused, _ = _failed_once(pair)
    before = pair.right()[refused]
    pair.left_delete(refused)
    report = pair.run()
    assert (report.outcome, report.deleted_right, report.errors_right) == ("success", 0, 0)
    assert pair.right()[refused] == before and _retry(pair) == []


def test_a_failed_item_deleted_on_the_one_way_target_is_made_again_once_allowed(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    pair.right_delete(refused)
    _allow(pair)
    pair.run()
    pair.run()
    assert pair.right().get(refused) == pair.left()[refused]


def test_a_failed_item_edited_again_on_the_source_gets_the_newer_value(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    pair.left_update(refused, {"name": "newer"})
    report = pair.run()
    assert (report.outcome, report.updated_right) == ("success", 1)
    assert pair.right()[refused][0] == "newer" and _retry(pair) == []


def test_a_failed_item_edited_on_the_target_in_a_bidirectional_run_is_a_conflict(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    pair.conn.conflict_resolution = ConflictResolution.RIGHT_WINS
    refused, _ = _failed_once(pair)
    pair.right_update(refused, {"name": "edited in SQL"})
    report = pair.run()
    assert report.outcome == "success" and report.conflicts == 1 and report.updated_left == 1
    assert pair.left()[refused][0] == "edited in SQL" == pair.right()[refused][0]
    assert _retry(pair) == []


def test_many_failed_items_over_several_runs_leave_the_list_as_each_is_fixed(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    pair.run()
    _refuse_name(pair, "refused")
    keys = sorted(pair.left())[:6]
    for key in keys[:3]:
        pair.left_update(key, {"name": "refused"})
    assert pair.run().errors_right == 3
    for key in keys[3:]:
        pair.left_update(key, {"name": "refused"})
    pair.left_update(keys[0], {"name": "fixed 0"})
    assert pair.run().errors_right == 5
    assert _retry(pair) == sorted(f'["{k}"]' for k in keys[1:])
    pair.left_update(keys[1], {"name": "fixed 1"})
    pair.left_update(keys[4], {"name": "fixed 4"})
    assert pair.run().errors_right == 3
    assert _retry(pair) == sorted(f'["{k}"]' for k in (keys[2], keys[3], keys[5]))
    _allow(pair)
    report = pair.run()
    assert (report.outcome, report.updated_right) == ("success", 3)
    assert _retry(pair) == [] and pair.right() == pair.left()


def test_a_failed_item_matched_by_another_column_than_the_key_is_retried(
        emu: Any, tmp_path: Path) -> None:
    from l2tui.config.model import ColumnPair, Mapping

    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    pair.conn.mapping = Mapping(auto=False, columns=[ColumnPair("accountid", "accountid"),
                                                     ColumnPair("name", "name"),
                                                     ColumnPair("revenue", "revenue")],
                                match_key=ColumnPair("accountnumber", "accountnumber"))
    first = pair.run()
    assert first.outcome == "success", first.message
    refused = sorted(pair.left())[0]
    number = emu.store.get("accounts", refused)["accountnumber"]
    _refuse_name(pair, "refused")
    pair.left_update(refused, {"name": "refused"})
    assert pair.run().errors_right == 1
    assert _retry(pair) == [f'["{number}"]']
    _allow(pair)
    report = pair.run()
    assert (report.outcome, report.updated_right) == ("success", 1)
    with pair.engine.connect() as c:
        names = dict(c.exec_driver_sql(
            f"SELECT accountnumber, name FROM {pair.table.name}").all())
    assert names[number] == "refused" and _retry(pair) == []


def test_a_cancelled_run_keeps_the_list_and_the_next_run_retries(
        emu: Any, tmp_path: Path) -> None:
    import threading

    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    cursor, kept = _cursor(pair), _retry(pair)
    cancel = threading.Event()

    def sink(event: Event) -> None:
        if isinstance(event, Progress):
            cancel.set()

    pair.left_update(sorted(pair.left())[5], {"name": "later"})
    report = Runner(pair.paths).run(pair.conn, sink=sink, cancel=cancel)
    assert report.outcome == "cancelled"
    assert (_cursor(pair), _retry(pair)) == (cursor, kept)
    _allow(pair)
    report = pair.run()
    assert report.outcome == "success"
    assert pair.right() == pair.left() and _retry(pair) == []


def test_a_changed_select_keeps_the_failed_item_and_does_not_bring_back_a_deleted_one(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    gone = sorted(pair.left())[7]
    pair.left_delete(gone)
    pair.conn.entity1.select = LEFT_SELECT + "&$filter=statecode eq 0"
    pair.run()
    assert gone not in pair.right()
    _allow(pair)
    pair.run()
    assert pair.right() == pair.left_active()


def test_a_changed_select_without_filter_retries_after_the_rebaseline(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    gone = sorted(pair.left())[7]
    pair.left_delete(gone)
    pair.conn.entity1.select = "$select=accountid,name,accountnumber,revenue,modifiedon"
    from l2tui.config.model import ColumnPair, Mapping
    pair.conn.mapping = Mapping(auto=False, columns=[ColumnPair("accountid", "accountid"),
                                                     ColumnPair("name", "name"),
                                                     ColumnPair("revenue", "revenue"),
                                                     ColumnPair("accountnumber", "accountnumber")])
    pair.run()
    assert gone not in pair.right()
    pair.run()
    _allow(pair)
    pair.run()
    assert pair.right()[refused][0] == "refused"


def test_right_to_left_a_refused_value_does_not_pin_or_grow_the_list(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.RIGHT_TO_LEFT)
    pair.run()  # nothing on the right yet
    pair.right_insert({"name": "SQL", "accountnumber": "X" * 30})  # Dataverse holds 20
    other = pair.right_insert({"name": "SQL 2", "accountnumber": "ok"})
    for created in (1, 0, 0):  # the SQL side is read in full each run: the same item error
        report = pair.run()
        assert (report.errors_left, report.created_left) == (1, created), report.message
        assert len(_retry(pair)) == 1
    assert other in pair.left()


def test_full_and_reset_with_failed_items_kept(emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    report = pair.run(full=True)
    assert report.errors_right == 1 and _retry(pair) == [f'["{refused}"]']
    _allow(pair)
    pair.left_update(sorted(pair.left())[9], {"name": "later"})
    report = pair.run(full=True)
    assert report.outcome == "success" and _retry(pair) == []
    assert pair.right() == pair.left()


def test_dynamics_both_ways_an_edit_not_written_as_changed_meanwhile_is_not_lost(
        emu: Any, tmp_path: Path) -> None:
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=4, auth=False) as other:
        pair = _pair(emu, sqlite_url(tmp_path / "unused.db"), Direction.BIDIRECTIONAL)
        pair.conn.entity2 = Entity(title="Other Dynamics", provider="odata",
                                   connection_string=other.connection_string("accounts"),
                                   select=LEFT_SELECT, primary_key=["accountid"])
        assert pair.run().created_right == 20
        key = sorted(pair.left())[0]
        pair.left_update(key, {"name": "edited left"})
        done: list[str] = []

        def sink(event: Event) -> None:
            if isinstance(event, Progress) and event.phase == "read left" and not done:
                other.store.update("accounts", key, {"accountnumber": "EDITED-RIGHT"})
                done.append(key)

        report = Runner(pair.paths).run(pair.conn, sink=sink)
        assert done and report.updated_right == 0, report.message
        again = pair.run()
        assert again.conflicts == 1, again.message
        left = emu.store.get("accounts", key)
        right = other.store.get("accounts", key)
        assert left["name"] == right["name"] == "edited left"


def test_a_run_killed_while_reading_failed_items_by_key_leaves_them_for_the_next_run(
        emu: Any, tmp_path: Path) -> None:
    import signal
    import time

    from tests.sync.test_crash import start_run

    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, _ = _failed_once(pair)
    name = pair.save()
    later = sorted(pair.left())[5]
    pair.left_update(later, {"name": "later"})
    emu.recent_requests.clear()
    emu.faults.delay_next(1, 30.0, query_contains="Microsoft.Dynamics.CRM.In")
    proc = start_run(name)
    deadline = time.monotonic() + 20
    while not any("Microsoft.Dynamics.CRM.In" in r for r in emu.recent_requests):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert _retry(pair) == [f'["{refused}"]']
    report = pair.run()  # still refused: the same item error, and the later edit synced
    assert report.errors_right == 1 and pair.right()[later][0] == "later"
    assert _retry(pair) == [f'["{refused}"]']
    _allow(pair)
    report = pair.run()
    assert report.outcome == "success" and pair.right() == pair.left() and _retry(pair) == []


def test_a_later_conflict_of_an_item_whose_unsettled_conflict_ended_otherwise_is_recorded(
        emu: Any, tmp_path: Path) -> None:
    from tests.sync.test_retries import _conflicts

    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    assert pair.run().outcome == "success"
    key = sorted(pair.left())[0]
    _refuse_name(pair, "refused")
    pair.left_update(key, {"name": "refused"})
    pair.right_update(key, {"name": "edited in SQL"})
    first = pair.run()
    assert _conflicts(pair) == [(first.details["run"], f'["{key}"]', "left_wins_failed")]
    pair.left_update(key, {"name": "edited in SQL"})  # mended by hand: both sides agree
    mended = pair.run()
    assert (mended.outcome, mended.conflicts) == ("success", 0), mended.message
    _allow(pair)
    pair.left_update(key, {"name": "left again"})
    pair.right_update(key, {"name": "SQL again"})
    later = pair.run()
    assert (later.outcome, later.conflicts) == ("success", 1), later.message
    assert (later.details["run"], f'["{key}"]', "left_wins") in _conflicts(pair)
    assert pair.right()[key] == pair.left()[key]


def test_both_ways_a_failed_edit_whose_source_is_then_deleted_is_deleted_on_the_other_side(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    refused, _ = _failed_once(pair)
    pair.left_delete(refused)
    report = pair.run()
    assert (report.outcome, report.deleted_right) == ("success", 1), report.message
    assert refused not in pair.right() and pair.right() == pair.left() and _retry(pair) == []


def test_both_ways_a_failed_edit_whose_target_row_is_then_deleted_ends_converged(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    refused, _ = _failed_once(pair)
    pair.right_delete(refused)
    _allow(pair)
    report = pair.run()
    assert report.outcome in ("success", "conflicts"), report.message
    assert pair.right() == pair.left() and _retry(pair) == []
    assert pair.run().plan.writes == 0  # type: ignore[union-attr]


def test_both_ways_a_sql_edit_dataverse_refuses_meets_a_later_dataverse_edit_as_a_conflict(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    assert pair.run().outcome == "success"
    key = sorted(pair.left())[0]
    pair.right_update(key, {"accountnumber": "X" * 30})  # longer than Dataverse holds
    first = pair.run()
    assert (first.errors_left, _retry(pair)) == (1, [f'["{key}"]']), first.message
    cursor = _cursor(pair)
    again = pair.run()
    assert again.errors_left == 1 and _cursor(pair) != cursor and len(_retry(pair)) == 1
    pair.left_update(key, {"name": "edited in Dynamics"})
    report = pair.run()  # both edited: the left wins, and its values reach SQL
    assert (report.outcome, report.conflicts, report.updated_right) == ("success", 1, 1)
    assert pair.right() == pair.left() and _retry(pair) == []


def test_a_reset_run_with_failed_items_kept_compares_all_and_keeps_only_what_fails_again(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    refused, fine = _failed_once(pair)
    report = pair.run(reset=True)  # the pairs forgotten: every item matched by key again
    assert (report.errors_right, report.created_right) == (1, 0), report.message
    assert _retry(pair) == [f'["{refused}"]'] and pair.right()[fine][0] == "fine"
    _allow(pair)
    report = pair.run()
    assert report.outcome == "success" and pair.right() == pair.left() and _retry(pair) == []


def test_the_loser_edited_again_while_the_winning_write_keeps_failing_is_a_conflict_recorded(
        emu: Any, tmp_path: Path) -> None:
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"), Direction.BIDIRECTIONAL)
    assert pair.run().outcome == "success"
    key = sorted(pair.left())[0]
    _refuse_name(pair, "refused")
    pair.left_update(key, {"name": "refused"})  # the left wins, the right refuses its value
    pair.right_update(key, {"name": "first SQL edit"})
    assert pair.run().conflicts == 1
    pair.right_update(key, {"name": "second SQL edit"})
    again = pair.run()  # the loser's values are new: recorded, or they would be lost unseen
    assert (again.conflicts, again.errors_right) == (1, 1), again.message
    kept = [r for (r,) in _state(pair, "SELECT right_values FROM conflicts ORDER BY id")]
    assert "second SQL edit" in kept[-1]
    _allow(pair)
    settled = pair.run()
    assert (settled.outcome, settled.conflicts) == ("success", 0) and \
        pair.right() == pair.left()


def test_failed_items_past_the_most_read_by_key_then_fewer_are_all_synced_once_allowed(
        emu: Any, tmp_path: Path, monkeypatch: Any) -> None:
    from l2tui.sync import engine

    monkeypatch.setattr(engine, "MOST_RETRIED", 2)
    pair = _pair(emu, sqlite_url(tmp_path / "right.db"))
    pair.run()
    first = _cursor(pair)
    _refuse_name(pair, "refused")
    keys = sorted(pair.left())[:3]
    for key in keys:
        pair.left_update(key, {"name": "refused"})
    assert pair.run().errors_right == 3 and _cursor(pair) == first  # too many: cursor kept
    pair.left_update(keys[0], {"name": "fixed"})
    report = pair.run()
    assert report.errors_right == 2 and _cursor(pair) != first
    assert _retry(pair) == sorted(f'["{k}"]' for k in keys[1:])
    _allow(pair)
    report = pair.run()
    assert (report.outcome, report.updated_right) == ("success", 2)
    assert pair.right() == pair.left() and _retry(pair) == []
