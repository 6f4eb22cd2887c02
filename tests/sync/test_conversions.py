"""Manual mapping pairs between differently named and typed SQL columns, run both ways."""

from __future__ import annotations

import uuid
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Connection, Direction, Entity, Mapping
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from l2tui.sync.events import ItemError, LogLine
from l2tui.sync.side import match_values
from tests.sync.support import make_pair, manual_mapping, sqlite_url


def _sql_entity(url: str, table: str, key: str) -> Entity:
    if url.startswith("sqlite"):
        return Entity(provider="sqlite", connection_string=f"Data Source={url[len('sqlite:///'):]};",
                      select=table, primary_key=[key])
    return Entity(provider="postgresql", connection_string=url, select=table, primary_key=[key])


def test_a_datetime_mapped_to_a_date_column_is_not_cut_to_midnight_on_the_next_run(
        db_url: str, tmp_path: Path) -> None:
    left_url = sqlite_url(tmp_path / "left.db")
    left_engine, right_engine = sa.create_engine(left_url), sa.create_engine(db_url)
    right_table = f"days_{uuid.uuid4().hex[:8]}"
    with left_engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE items (id TEXT PRIMARY KEY, at DATETIME)")
        c.exec_driver_sql("INSERT INTO items VALUES ('a', '2026-01-02 15:30:00')")
    with right_engine.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {right_table} (item_id VARCHAR(10) PRIMARY KEY, day DATE)")
    conn = Connection(
        title="Datetime to date", direction=Direction.BIDIRECTIONAL,
        entity1=_sql_entity(left_url, "items", "id"),
        entity2=_sql_entity(db_url, right_table, "item_id"),
        mapping=Mapping(auto=False, columns=[ColumnPair("id", "item_id"), ColumnPair("at", "day")]),
    )
    runner = Runner(resolve_paths())
    try:
        assert runner.run(conn).created_right == 1
        second = runner.run(conn)
        with left_engine.connect() as c:
            at = c.exec_driver_sql("SELECT at FROM items").scalar_one()
        with right_engine.connect() as c:
            day = c.exec_driver_sql(f"SELECT day FROM {right_table}").scalar_one()
    finally:
        with right_engine.begin() as c:
            c.exec_driver_sql(f"DROP TABLE {right_table}")
    assert str(at).startswith("2026-01-02 15:30:00")
    assert str(day) == "2026-01-02"
    assert second.plan is not None and second.plan.writes == 0


def test_a_value_its_target_column_cannot_take_fails_that_row_alone_naming_it(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts")
    manual_mapping(pair, [("accountid", "accountid"), ("name", "revenue")])
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "12.5"})  # one name that is a number: it goes in
    report = pair.run()
    assert report.created_right == 1 and report.errors_right == 19
    errors = {e.key: e.message for e in pair.events if isinstance(e, ItemError)}
    names = {k: v[0] for k, v in pair.left().items()}
    for mkey, message in errors.items():
        name = names[match_values(mkey)[0]]
        assert message == f"revenue: {name!r} cannot be stored as NUMERIC(38, 10)"


def test_text_mapped_into_a_typed_column_is_warned_of_before_the_run(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts")
    manual_mapping(pair, [("accountid", "accountid"), ("name", "revenue")])
    pair.run()
    warnings = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]
    assert "'name' (text) goes into 'revenue' (decimal): a value that is not a decimal fails " \
           "its row" in warnings
