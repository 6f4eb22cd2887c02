"""Decimals through whole runs: every digit a side holds is written and compared, -0 is 0."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import Connection, Direction, Entity, Mapping
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from tests.sync.conftest import database_url
from tests.sync.support import Pair, make_pair, sqlite_url


def _stored(engine: sa.Engine, table: str, key: str) -> Decimal:
    """The revenue a row holds, as the database keeps it (a SQLite REAL by its shortest text)."""
    with engine.connect() as c:
        value = c.exec_driver_sql(f"SELECT revenue FROM {table} WHERE accountid = '{key}'"
                                  ).scalar_one()
    return value if isinstance(value, Decimal) else Decimal(repr(value))


@pytest.mark.parametrize("revenue, edited", [("123456789012.3456", "123456789012.3449"),
                                             ("922337203685476.9", "922337203685476.8")])
def test_a_decimal_beyond_fifteen_digits_is_written_whole_and_an_edit_at_its_last_is_carried(
        emu: Any, db_url: str, revenue: str, edited: str) -> None:
    table = f"accounts_{uuid.uuid4().hex[:8]}"
    pair = make_pair(emu, db_url, table)
    key = next(iter(pair.left()))
    pair.left_update(key, {"revenue": float(revenue)})  # (the emulator keeps money as a double)
    try:
        assert pair.run().created_right == 20
        assert _stored(pair.engine, table, key) == Decimal(revenue)
        again = pair.run(full=True)
        assert again.plan is not None and again.plan.writes == 0
        pair.left_update(key, {"revenue": float(edited)})
        assert pair.run().updated_right == 1
        assert _stored(pair.engine, table, key) == Decimal(edited)
        last = pair.run(full=True)
        assert last.plan is not None and last.plan.writes == 0
    finally:
        pair.table.drop(pair.engine)


def test_negative_zero_is_zero_so_a_second_bidirectional_run_has_nothing_to_do(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    pair.left_update(next(iter(pair.left())), {"revenue": -0.0})
    assert pair.run().created_right == 20
    second = pair.run()
    assert (second.updated_left, second.updated_right) == (0, 0)
    assert second.plan is not None and second.plan.writes == 0


def test_a_decimal_sqlite_cannot_hold_is_compared_as_sqlite_holds_it_so_runs_settle(
        pg_url: str, tmp_path: Path) -> None:
    pg, table = sa.create_engine(pg_url), f"money_{uuid.uuid4().hex[:8]}"
    with pg.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {table} (id VARCHAR(10) PRIMARY KEY, "
                          "amount NUMERIC(38, 10))")
        c.exec_driver_sql(f"INSERT INTO {table} VALUES ('max', 922337203685477.0001), "
                          "('long', 123456789012.3456)")
    right = tmp_path / "right.db"
    with sa.create_engine(sqlite_url(right)).begin() as c:
        c.exec_driver_sql("CREATE TABLE money (id VARCHAR(10) PRIMARY KEY, "
                          "amount NUMERIC(38, 10))")
    conn = Connection(
        title="Money into SQLite", direction=Direction.LEFT_TO_RIGHT,
        entity1=Entity(provider="postgresql", connection_string=pg_url, select=table,
                       primary_key=["id"]),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={right};",
                       select="money", primary_key=["id"]),
        mapping=Mapping(auto=True, columns=[]),
    )
    runner = Runner(resolve_paths())
    try:
        assert runner.run(conn).created_right == 2
        second = runner.run(conn, full=True)
        with pg.connect() as c:
            left = dict(c.exec_driver_sql(f"SELECT id, amount FROM {table}").all())
    finally:
        with pg.begin() as c:
            c.exec_driver_sql(f"DROP TABLE {table}")
    assert second.plan is not None and second.plan.writes == 0
    assert left["max"] == Decimal("922337203685477.0001")  # (the source is never rounded)
    with sa.create_engine(sqlite_url(right)).connect() as c:
        held = dict(c.exec_driver_sql("SELECT id, amount FROM money").all())
    assert held == {"max": 922337203685477.0, "long": 123456789012.3456}



@pytest.fixture
def rounded(emu: Any, pg_url: str) -> Iterator[tuple[Pair, str]]:
    """Emulator accounts synced one way into a PostgreSQL ``revenue NUMERIC(12, 2)``, one of
    them with four digits after the point (1234.5678, stored 1234.57); the pair and its key."""
    table = f"accounts_{uuid.uuid4().hex[:8]}"
    pair = make_pair(emu, pg_url, table)
    try:
        with pair.engine.begin() as c:
            c.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN revenue TYPE NUMERIC(12, 2)")
        key = next(iter(pair.left()))
        pair.left_update(key, {"revenue": 1234.5678})
        assert pair.run().created_right == 20
        assert _stored(pair.engine, table, key) == Decimal("1234.57")
        yield pair, key
    finally:
        pair.table.drop(pair.engine)


def test_a_decimal_its_sql_column_rounds_is_not_written_again_by_a_full_run(
        rounded: tuple[Pair, str]) -> None:
    pair, _ = rounded
    again = pair.run(full=True)
    assert again.plan is not None and again.plan.writes == 0


def test_a_decimal_its_sql_column_rounds_is_not_written_back_when_going_bidirectional(
        rounded: tuple[Pair, str]) -> None:
    pair, key = rounded
    pair.conn.direction = Direction.BIDIRECTIONAL
    switched = pair.run()
    assert (switched.updated_left, switched.updated_right) == (0, 0)
    assert next(r["revenue"] for r in pair.emu.store.rows("accounts")
                if r["accountid"] == key) == 1234.5678


@pytest.fixture(params=[("postgresql", "ALTER COLUMN revenue TYPE REAL"),
                        ("mysql", "MODIFY revenue FLOAT")], ids=["REAL", "FLOAT"])
def single_float(request: pytest.FixtureRequest, emu: Any,
                 tmp_path: Path) -> Iterator[tuple[Pair, str]]:
    """Emulator accounts synced one way into a single-precision float column, one of them
    with more digits than it holds (40184161.6, kept as 40184160: 6 digits hold); the pair and
    its key."""
    kind, alter = request.param
    table = f"accounts_{uuid.uuid4().hex[:8]}"
    pair = make_pair(emu, database_url(kind, tmp_path), table)
    try:
        with pair.engine.begin() as c:
            c.exec_driver_sql(f"ALTER TABLE {table} {alter}")
        key = next(iter(pair.left()))
        pair.left_update(key, {"revenue": 40184161.6})
        assert pair.run().created_right == 20
        yield pair, key
    finally:
        pair.table.drop(pair.engine)


def test_a_number_its_single_precision_float_column_rounds_is_not_written_again_by_a_full_run(
        single_float: tuple[Pair, str]) -> None:
    pair, _ = single_float
    again = pair.run(full=True)
    assert again.plan is not None and again.plan.writes == 0


def test_a_number_its_single_precision_float_column_rounds_is_not_written_back_when_going_bidirectional(
        single_float: tuple[Pair, str]) -> None:
    pair, key = single_float
    pair.conn.direction = Direction.BIDIRECTIONAL
    switched = pair.run()
    assert (switched.updated_left, switched.updated_right) == (0, 0)
    assert next(r["revenue"] for r in pair.emu.store.rows("accounts")
                if r["accountid"] == key) == 40184161.6


def test_a_sqlite_decimal_with_more_digits_than_dataverse_money_holds_settles_in_one_run(
        emu: Any, tmp_path: Path) -> None:
    # Dataverse money keeps 4 digits after the point, a SQLite NUMERIC column any: an edit of
    # 1234.56789 there is 1234.5679 once written to Dataverse, which is then no change of its own
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL)
    key = next(iter(pair.left()))
    assert pair.run().created_right == 20
    pair.right_update(key, {"revenue": 1234.56789})
    assert pair.run().updated_left == 1
    assert next(r["revenue"] for r in pair.emu.store.rows("accounts")
                if r["accountid"] == key) == 1234.5679
    second = pair.run()
    assert (second.updated_left, second.updated_right, second.conflicts) == (0, 0, 0)
