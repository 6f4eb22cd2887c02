"""Text through a CHAR(n) column, whose trailing blanks are not its own: MySQL/MariaDB gives a
value back without them, PostgreSQL padded to the column's length."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from l2tui.config.model import Direction
from tests.sync.conftest import database_url
from tests.sync.support import Pair, make_pair

NAME = "Contoso Trailing  "  # two blanks at its end, in Dataverse


@pytest.fixture(params=["postgresql", "mysql"])
def fixed_length(request: pytest.FixtureRequest, emu: Any,
                 tmp_path: Path) -> Iterator[tuple[Pair, str]]:
    """Emulator accounts synced one way into a table whose name is a CHAR(200), one of them
    named with trailing blanks; the pair and that account's key."""
    table = f"accounts_{uuid.uuid4().hex[:8]}"
    pair = make_pair(emu, database_url(request.param, tmp_path), table)
    try:
        alter = "ALTER COLUMN name TYPE CHAR(200)" if request.param == "postgresql" \
            else "MODIFY name CHAR(200)"
        with pair.engine.begin() as c:
            c.exec_driver_sql(f"ALTER TABLE {table} {alter}")
        key = next(iter(pair.left()))
        pair.left_update(key, {"name": NAME})
        assert pair.run().created_right == 20
        yield pair, key
    finally:
        pair.table.drop(pair.engine)


def test_a_text_in_a_char_column_is_not_written_again_by_a_full_run(
        fixed_length: tuple[Pair, str]) -> None:
    pair, _ = fixed_length
    again = pair.run(full=True)
    assert again.plan is not None and again.plan.writes == 0


def test_a_text_in_a_char_column_loses_no_trailing_blanks_in_dataverse_when_going_bidirectional(
        fixed_length: tuple[Pair, str]) -> None:
    pair, key = fixed_length
    pair.conn.direction = Direction.BIDIRECTIONAL
    switched = pair.run()
    assert switched.outcome == "success"
    assert (switched.updated_left, switched.updated_right) == (0, 0)
    assert next(r["name"] for r in pair.emu.store.rows("accounts")
                if r["accountid"] == key) == NAME
