"""Runs, plans and conflicts in one line: the words the TUI, the command line and the log share."""

from __future__ import annotations

from datetime import UTC, date, datetime
from decimal import Decimal
from uuid import UUID

import pytest

from l2tui.sync.events import PlanCounts, RunReport
from l2tui.sync.summaries import (
    conflict_text,
    counts_text,
    differences,
    item_error_text,
    plan_text,
    report_body,
    run_text,
    seconds_text,
    sets_text,
)


def test_counts_name_the_left_first_with_thousands_separated() -> None:
    assert counts_text({"created_right": 50000, "updated_left": 2}) == \
        "left 0 created, 2 updated, 0 deleted; right 50,000 created, 0 updated, 0 deleted"


def test_conflicts_and_errors_are_named_only_when_there_are_some() -> None:
    text = counts_text({"conflicts": 3, "errors_left": 1, "errors_right": 1})
    assert text.endswith("; 3 conflicts; 2 errors")


def test_one_conflict_and_one_error_are_named_in_the_singular() -> None:
    assert counts_text({"conflicts": 1, "errors_right": 1}).endswith("; 1 conflict; 1 error")


def test_a_plan_with_one_conflict_names_it_in_the_singular() -> None:
    assert "; 1 conflict; " in plan_text(PlanCounts(update_right=1, conflicts=1))


def test_a_plan_names_only_the_sides_it_writes() -> None:
    plan = PlanCounts(create_right=1200, unchanged=7)
    assert plan_text(plan) == "plan — right: 1,200 to create, 0 to update, 0 to delete; 7 unchanged"


def test_a_dry_run_in_the_history_reads_as_its_plan() -> None:
    assert run_text("dry_run", {"created_right": 5}, -0.01, "") == \
        "plan — right: 5 to create, 0 to update, 0 to delete; 0 unchanged"


def test_a_failed_run_says_why_first() -> None:
    assert run_text("failed", {}, 1.25, "refusing to delete") == (
        "refusing to delete — left 0 created, 0 updated, 0 deleted; right 0 created, 0 updated, "
        "0 deleted in 1.2s")


def test_differences_pair_the_sides_by_position_and_name_both_columns() -> None:
    left = {"name": "A", "revenue": "1", "city": "X"}
    right = {"Name": "A", "amount": "2", "city": "Y"}
    assert differences(left, right) == [("revenue / amount", "1", "2"), ("city", "X", "Y")]


def test_a_conflict_names_what_differs_or_the_side_it_is_gone_from() -> None:
    assert conflict_text('["k"]', "left_wins", {"name": "A"}, {"name": "B"}) == \
        "conflict k: the left's values kept — name: 'A' (left) ≠ 'B' (right)"
    assert conflict_text('["k"]', "skipped", None, {"name": "B"}) == \
        "conflict k: skipped — gone on the left"


def test_a_conflict_says_the_rule_that_settled_it_and_the_side_kept_not_the_code() -> None:
    assert conflict_text('["AC-001"]', "right_wins", {"name": "A"}, {"name": "B"},
                         policy="latest_wins") == \
        "conflict AC-001: latest wins, the right's values kept — name: 'A' (left) ≠ 'B' (right)"
    assert conflict_text('["k"]', "left_wins", None, {"name": "B"}, policy="left_wins") == \
        "conflict k: left wins, the left's deletion kept — gone on the left"
    assert conflict_text('["k"]', "skipped", {"name": "A"}, {"name": "B"}, policy="skip") == \
        "conflict k: skipped — name: 'A' (left) ≠ 'B' (right)"


def test_a_conflict_whose_winning_write_failed_reads_as_not_settled_not_as_a_code() -> None:
    assert conflict_text('["k"]', "left_wins_failed", {"name": "A"}, {"name": "B"}) == \
        "conflict k: the left's values won, its write not made: not settled — name: 'A' " \
        "(left) ≠ " \
        "'B' (right)"


def test_a_conflict_recorded_as_not_settled_that_a_later_run_settled_says_which_run() -> None:
    assert conflict_text('["k"]', "left_wins_failed", {"name": "A"}, {"name": "B"},
                         settled_by=7) == \
        "conflict k: the left's values won, its write not made; settled by run 7 — name: " \
        "'A' (left) " \
        "≠ 'B' (right)"
    assert conflict_text('["k"]', "skipped", {"name": "A"}, {"name": "B"}, settled_by=7) == \
        "conflict k: skipped; settled by run 7 — name: 'A' (left) ≠ 'B' (right)"


def test_a_conflict_shows_a_number_as_it_reads_and_text_quoted() -> None:
    assert conflict_text('["k"]', "left_wins", {"revenue": Decimal("12.5"), "name": "A"},
                         {"revenue": 13, "name": "B"}) == \
        "conflict k: the left's values kept — revenue: 12.5 (left) ≠ 13 (right); name: 'A' (left) ≠ " \
        "'B' (right)"


def test_a_run_names_the_target_rows_it_left_alone_after_its_time() -> None:
    assert run_text("success", {"only_right": 37}, 0.5, "").endswith(
        "in 0.5s; 37 only on the right, left alone")


def test_a_plan_names_the_target_rows_it_would_leave_alone_apart_from_the_unchanged() -> None:
    assert plan_text(PlanCounts(unchanged=3, only_right=37)) == \
        "plan — 3 unchanged; 37 only on the right, left alone"


def test_a_run_after_a_change_of_settings_says_so_first() -> None:
    report = RunReport(connection="c", outcome="success", started=0.0, finished=0.5,
                       unchanged=20, details={"rematched": 20})
    assert report_body(report) == "settings changed, matched by key again: left 0 created, " \
        "0 updated, 0 deleted; right 0 created, 0 updated, 0 deleted in 0.5s"


def test_a_dry_run_a_real_run_would_stop_at_says_so_after_its_plan() -> None:
    report = RunReport(connection="c", outcome="dry_run", started=0.0, finished=0.5,
                       plan=PlanCounts(delete_right=20),
                       details={"refused": "a real run would refuse to delete 20 of the 20"})
    assert report_body(report) == "plan — right: 0 to create, 0 to update, 20 to delete; " \
        "0 unchanged — a real run would refuse to delete 20 of the 20"


@pytest.mark.parametrize(("seconds", "text"), [(0.5, "0.5s"), (1.24, "1.2s"), (0.049, "0.05s"),
                                                (0.04, "0.04s"), (0.0, "0.00s"), (12.96, "13.0s")])
def test_a_run_s_duration_reads_in_tenths_or_under_0_05_s_in_hundredths(seconds: float,
                                                                         text: str) -> None:
    assert seconds_text(seconds) == text


def test_a_conflict_line_cuts_a_long_value_short() -> None:
    text = conflict_text('["k"]', "right_wins", {"note": "a" * 50_000}, {"note": "b" * 50_000})
    assert text == f"conflict k: the right's values kept — note: '{'a' * 56}... (left) ≠ " \
        f"'{'b' * 56}... (right)"


def test_an_item_error_names_its_side_and_its_key_as_a_conflict_does() -> None:
    assert item_error_text("right", '["AC-001"]', "CHECK constraint failed: n > 0") == \
        "error on the right for AC-001: CHECK constraint failed: n > 0"
    assert item_error_text("left", '["AC-001",2]', "refused") == \
        "error on the left for AC-001, 2: refused"


def test_an_item_error_is_one_line_though_its_message_is_not() -> None:
    assert item_error_text("right", '["k"]', "violates check\nDETAIL:  row (1)\n") == \
        "error on the right for k: violates check DETAIL:  row (1)"


def test_a_conflict_shows_its_key_as_its_values_as_an_item_error_does() -> None:
    assert conflict_text('["AC-001", 2]', "skipped", None, {"name": "B"}).startswith(
        "conflict AC-001, 2: skipped")


def test_a_planned_update_shows_dates_and_guids_as_they_read_not_as_python_writes_them() -> None:
    guid = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    assert sets_text({"placed": datetime(2026, 11, 28, 10, tzinfo=UTC),
                      "born": date(1990, 5, 1), "owner": UUID(guid)}) == \
        f": placed = 2026-11-28T10:00:00+00:00, born = 1990-05-01, owner = {guid}"


def test_a_planned_update_shows_four_columns_then_how_many_more() -> None:
    values = {f"c{n}": n for n in range(6)}
    assert sets_text(values) == ": c0 = 0, c1 = 1, c2 = 2, c3 = 3, and 2 more"
