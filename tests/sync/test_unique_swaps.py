"""Values swapped between rows under a unique index of the SQL target."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

from l2tui.sync.events import ItemError
from tests.sync.support import Pair, make_pair


def _unique_pair(emu: Any, db_url: str, tmp_path: Path) -> Pair:
    """Emulator accounts → a table whose accountnumber has a unique index, synced once."""
    pair = make_pair(emu, db_url, f"swaps_{uuid.uuid4().hex[:8]}")
    with pair.engine.begin() as c:
        c.exec_driver_sql(f"CREATE UNIQUE INDEX ix_{pair.table.name} "
                          f"ON {pair.table.name} (accountnumber)")
    assert pair.run().ok
    return pair


def swap(pair: Pair, a: str, b: str) -> None:
    """Swap two accounts' numbers in Dynamics (through a third value: its alternate key is
    unique too)."""
    rows = {r["accountid"]: r["accountnumber"] for r in pair.emu.store.rows("accounts")}
    pair.left_update(a, {"accountnumber": "swapping"})
    pair.left_update(b, {"accountnumber": rows[a]})
    pair.left_update(a, {"accountnumber": rows[b]})


def test_two_rows_swapping_a_unique_value_are_both_written(
        emu: Any, db_url: str, tmp_path: Path) -> None:
    pair = _unique_pair(emu, db_url, tmp_path)
    rows = {r["accountid"]: r["accountnumber"] for r in emu.store.rows("accounts")}
    a, b = list(rows)[:2]
    swap(pair, a, b)
    report = pair.run()
    assert [e.message for e in pair.events if isinstance(e, ItemError)] == []
    assert report.ok and report.updated_right == 2
    assert pair.right() == pair.left()


def test_two_rows_swapping_a_unique_value_in_two_write_batches_are_both_written(
        emu: Any, db_url: str, tmp_path: Path) -> None:
    """(each batch alone is kept out by the other's row: the writes kept out so are made again
    together once the run's other writes were)"""
    pair = _unique_pair(emu, db_url, tmp_path)
    rows = {r["accountid"]: r["accountnumber"] for r in emu.store.rows("accounts")}
    a, b = list(rows)[:2]
    swap(pair, a, b)
    report = pair.run(batch_size=1)
    assert [e.message for e in pair.events if isinstance(e, ItemError)] == []
    assert (report.ok, report.updated_right, report.errors_right) == (True, 2, 0)
    assert pair.right() == pair.left()
    again = pair.run(full=True)
    assert (again.ok, again.updated_right, again.created_right) == (True, 0, 0)

