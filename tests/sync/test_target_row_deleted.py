"""A one-way run's target is a copy of its source: a record or row deleted there by hand whose
source item was then edited is made again (with its own key), not failed every run as "no longer
exists"; a bidirectional run never brings a deleted record back."""

from __future__ import annotations

import uuid
from typing import Any

from l2tui.config.model import Direction
from tests.sync.support import make_pair

VALUES = {"name": "A", "accountnumber": None, "revenue": None, "numberofemployees": 1,
          "creditonhold": False}


def _errors(pair: Any) -> list[str]:
    return [e.message for e in pair.events if type(e).__name__ == "ItemError"]


def _into_dataverse(emu: Any, db_url: str) -> Any:
    """SQL → Dataverse, after a run that read the target in full (so the next one does not)."""
    pair = make_pair(emu, db_url, f"accts_{uuid.uuid4().hex[:8]}",
                     direction=Direction.RIGHT_TO_LEFT)
    assert pair.run().ok
    pair.right_insert(dict(VALUES))
    assert pair.run().ok
    return pair


def test_a_dataverse_record_deleted_by_hand_is_made_again_when_its_sql_row_changes(
        emu: Any, db_url: str) -> None:
    pair = _into_dataverse(emu, db_url)
    key = sorted(pair.right())[0]
    pair.left_delete(key)
    pair.right_update(key, {"name": "edited"})
    report = pair.run()
    assert (report.created_left, report.errors_left, _errors(pair)) == (1, 0, [])
    assert report.details["mode"]["left"] == "none"  # (the target was not read: its write found it)
    assert pair.left()[key] == pair.right()[key]  # the same GUID, the SQL row's values
    assert pair.run().plan.writes == 0  # type: ignore[union-attr]


def test_a_sql_row_deleted_by_hand_is_made_again_when_its_dataverse_record_changes(
        emu: Any, db_url: str) -> None:
    pair = make_pair(emu, db_url, f"accts_{uuid.uuid4().hex[:8]}")
    assert pair.run().ok
    key = sorted(pair.left())[0]
    pair.right_delete(key)
    pair.left_update(key, {"name": "edited"})
    report = pair.run()
    assert report.errors_right == 0, _errors(pair)
    assert pair.right()[key] == pair.left()[key]


def test_a_bidirectional_run_does_not_bring_back_a_record_deleted_in_dataverse(
        emu: Any, db_url: str) -> None:
    pair = make_pair(emu, db_url, f"accts_{uuid.uuid4().hex[:8]}",
                     direction=Direction.BIDIRECTIONAL)
    assert pair.run().ok
    key = sorted(pair.right())[0]
    pair.left_delete(key)
    report = pair.run()
    assert key not in pair.left() and key not in pair.right(), report.message
