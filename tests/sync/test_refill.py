"""A one-way target emptied by hand (its rows deleted, its table made again empty) is filled
again by the next run, which compares every row as ``--full`` does and says so."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import Direction
from l2tui.errors import RunError
from l2tui.runner import Runner
from l2tui.sync.events import LogLine, Progress
from tests.conftest import CliRunner
from tests.sync.support import Pair, make_into_dataverse, make_pair, sql_table, sqlite_url

REFILL = "holds no rows though 20 were synced to it: comparing every row of both sides " \
         "(as --full)"


def emptied(pair: Pair) -> None:
    """Every row of the right-hand table deleted, as a user's DELETE FROM would."""
    with pair.engine.begin() as c:
        c.execute(pair.table.delete())


def warnings(pair: Pair) -> list[str]:
    """The warnings the runs logged."""
    return [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]


def test_a_one_way_target_emptied_by_hand_is_filled_again_by_the_next_run(
        emu: Any, db_url: str) -> None:
    pair = make_pair(emu, db_url, "accounts")
    pair.run()
    emptied(pair)
    report = pair.run()
    assert report.outcome == "success" and report.created_right == 20
    assert pair.right() == pair.left()
    assert [w for w in warnings(pair) if REFILL in w] == [
        f"entity 2 (SQL accounts) {REFILL}"]


def test_a_one_way_target_table_made_again_empty_is_filled_again(pair: Pair) -> None:
    pair.run()
    pair.table = sql_table(pair.engine, "accounts")  # dropped and created again, empty
    assert pair.run().created_right == 20
    assert pair.right() == pair.left()


def test_the_next_run_after_the_refill_reads_the_source_changes_alone(pair: Pair) -> None:
    pair.run()
    emptied(pair)
    pair.run()
    report = pair.run()
    assert report.details["mode"] == {"left": "delta", "right": "none"}
    assert report.plan is not None and report.plan.writes == 0


def test_an_emptied_target_is_filled_again_past_a_deletion_guard_it_does_not_meet(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2)
    pair.run()
    emptied(pair)
    assert pair.run().created_right == 20 and pair.right() == pair.left()


def cancelled_refill(pair: Pair) -> None:
    """A refill of the emptied target cancelled between batches, some of its rows written."""
    pair.conn.entity1.connection_string += "PageSize=5;"
    pair.run()
    emptied(pair)
    cancel = threading.Event()

    def sink(event: Any) -> None:
        if isinstance(event, Progress) and event.phase == "read left":
            cancel.set()  # (a page read and its writes made, one a batch)

    report = Runner(pair.paths).run(pair.conn, sink=sink, cancel=cancel, batch_size=1)
    assert report.outcome == "cancelled" and 0 < pair.right_count() < 20


def test_a_refill_cancelled_midway_is_finished_by_the_next_run(pair: Pair) -> None:
    """Stopped between batches with some rows written, the target is no longer empty: the next
    run still compares every row, as the stopped one did, until one ends normally."""
    cancelled_refill(pair)
    report = pair.run()
    assert report.outcome == "success" and report.created_right == 20 - report.unchanged
    assert pair.right() == pair.left()


def test_the_run_that_finishes_a_cancelled_refill_says_it_is_a_refill_stopped_midway(
        pair: Pair) -> None:
    cancelled_refill(pair)
    pair.events.clear()
    assert pair.run().outcome == "success"
    assert warnings(pair) == ["a refill of entity 2 (SQL accounts) was stopped midway: comparing "
                              "every row of both sides again (as --full)"]
    pair.events.clear()
    pair.run()
    assert warnings(pair) == []  # (the refill ended: no later run says it again)


def test_a_one_way_target_with_a_row_left_is_not_compared_in_full(pair: Pair) -> None:
    pair.run()
    for key in sorted(pair.right())[1:]:
        pair.right_delete(key)
    report = pair.run()
    assert report.details["mode"] == {"left": "delta", "right": "none"}
    assert report.created_right == 0 and pair.right_count() == 1
    assert not [w for w in warnings(pair) if "holds no rows" in w]


def test_an_emptied_dataverse_target_is_filled_again_from_sql(emu: Any, tmp_path: Path) -> None:
    into = make_into_dataverse(emu, tmp_path / "src.db", rows=5)
    for key in [r["accountid"] for r in emu.store.rows("accounts")]:
        emu.store.delete("accounts", key)
    assert Runner(into.paths).run(into.conn).created_left == 5
    for key in [r["accountid"] for r in emu.store.rows("accounts")]:
        emu.store.delete("accounts", key)
    report = Runner(into.paths).run(into.conn)
    assert report.created_left == 5 and into.left() == into.right()


def test_a_dry_run_of_an_emptied_target_plans_the_refill_and_writes_nothing(pair: Pair) -> None:
    pair.run()
    emptied(pair)
    report = pair.run(dry_run=True)
    assert report.outcome == "dry_run" and report.created_right == 20
    assert pair.right_count() == 0
    assert pair.run().created_right == 20


def test_an_emptied_side_of_a_bidirectional_connection_still_stops_at_the_deletion_guard(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2,
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    emptied(pair)
    with pytest.raises(RunError, match="max_delete_ratio"):
        pair.run()
    assert len(pair.left()) == 20 and pair.right_count() == 0
    assert not [w for w in warnings(pair) if "holds no rows" in w]


def test_run_says_in_one_line_that_it_fills_an_emptied_target_again(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    with pair.engine.begin() as c:
        c.execute(sa.text("DELETE FROM accounts"))
    result = run_cli("run", name)
    assert result.returncode == 0, result.stderr
    assert f"warning: entity 2 (SQL accounts) {REFILL}\n" in result.stderr
    assert "20 created" in result.stdout
    logs = list(pair.paths.run_logs(name).glob("*.log"))
    assert len(logs) == 2 and len([log for log in logs if REFILL in log.read_text()]) == 1


def test_a_target_whose_select_leaves_out_the_rows_written_is_not_taken_as_emptied(
        emu: Any, db_url: str) -> None:
    pair = make_pair(emu, db_url, "accounts")
    pair.conn.entity2.select = "SELECT * FROM accounts WHERE name = 'nobody'"
    assert pair.run().created_right == 20
    for _ in range(2):
        report = pair.run()
        assert report.outcome == "success" and report.details["mode"]["right"] == "none"
    assert not [w for w in warnings(pair) if "holds no rows" in w]
    assert pair.right_count() == 20


def test_a_filtered_target_table_emptied_by_hand_is_filled_again(emu: Any, db_url: str) -> None:
    pair = make_pair(emu, db_url, "accounts")
    pair.conn.entity2.select = "SELECT * FROM accounts WHERE revenue IS NOT NULL OR 1 = 1"
    pair.run()
    emptied(pair)
    assert pair.run().created_right == 20 and pair.right() == pair.left()


def test_a_dataverse_target_whose_filter_leaves_out_the_rows_written_gets_no_duplicates(
        emu: Any, tmp_path: Path) -> None:
    into = make_into_dataverse(emu, tmp_path / "src.db", rows=5)
    into.conn.entity1.select += "&$filter=revenue gt 1000000"
    for key in [r["accountid"] for r in emu.store.rows("accounts")]:
        emu.store.delete("accounts", key)
    assert Runner(into.paths).run(into.conn).created_left == 5
    for _ in range(2):
        report = Runner(into.paths).run(into.conn)
        assert report.outcome == "success" and report.created_left == 0
    assert len(emu.store.rows("accounts")) == 5
