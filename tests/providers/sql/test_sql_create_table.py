"""Tables made by create-table hold what the other side's columns hold."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest

from l2tui.providers.base import Change, ChangeOp, Column, ColumnType
from tests.providers.sql.conftest import Database

C = ChangeOp.CREATE


@pytest.fixture(params=["postgresql", "mysql"])
def server_db(request: pytest.FixtureRequest) -> Database:
    """PostgreSQL, then MySQL/MariaDB (SQLite keeps a decimal, or an integer past 64 bits, as a
    double: it holds what a double holds)."""
    return request.getfixturevalue({"postgresql": "pg_db", "mysql": "mysql_db"}[request.param])


def _keys(db: Database, table: str) -> list[str]:
    return sorted(str(r[0]) for r in db.rows(f"SELECT code FROM {db.q(table)}"))


def test_a_table_to_make_is_named_whole_with_its_databases_default_schema(
        pg_db: Database, sqlite_db: Database, tmp_path: Path) -> None:
    """Create Table names where it makes the table: the schema the select leaves to the
    database, and a SQLite database's file as an absolute path."""
    assert pg_db.open("items").table_place() == ("public.items", None)
    assert pg_db.open("sales.items").table_place() == ("sales.items", None)
    assert sqlite_db.open("items").table_place() == ("main.items", str(tmp_path / "test.db"))


def test_a_made_table_holds_emoji_and_cjk_in_a_latin1_mysql_database(mysql_db: Database) -> None:
    name = mysql_db.rows("SELECT DATABASE()")[0][0]
    mysql_db.run(f"ALTER DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    provider = mysql_db.open("items")
    provider.create_table([Column("code", ColumnType.STRING, key=True, nullable=False),
                           Column("label", ColumnType.STRING, max_length=100),
                           Column("notes", ColumnType.STRING)])
    values = {"label": "emoji 😀 漢字", "notes": "日本語 🎉"}
    outcomes = provider.write([Change(C, {"code": "ü😀"}, values)])
    assert all(o.ok for o in outcomes), outcomes
    assert mysql_db.rows("SELECT code, label, notes FROM items") == [("ü😀", *values.values())]


def test_text_keys_that_differ_by_case_or_trailing_blanks_are_other_rows(db: Database) -> None:
    provider = db.open("items")
    provider.create_table([Column("code", ColumnType.STRING, key=True, nullable=False),
                           Column("label", ColumnType.STRING)])
    keys = ["abc", "ABC", "x", "x "]
    outcomes = provider.write([Change(C, {"code": k}, {"label": f"<{k}>"}) for k in keys])
    assert all(o.ok for o in outcomes), outcomes
    assert _keys(db, "items") == sorted(keys)


def test_a_decimal_column_is_described_with_its_precision_and_scale(db: Database) -> None:
    db.run("CREATE TABLE src (id INTEGER PRIMARY KEY, amount NUMERIC(30, 15))")
    amount = {c.name: c for c in db.open("src").describe()}["amount"]
    assert (amount.precision, amount.scale) == (30, 15)


def test_a_made_table_keeps_every_digit_of_a_decimal_of_the_precision_it_was_made_for(
        server_db: Database) -> None:
    provider = server_db.open("items")
    provider.create_table([Column("id", ColumnType.INTEGER, key=True, nullable=False),
                           Column("amount", ColumnType.DECIMAL, precision=30, scale=15)])
    value = Decimal("123456789012345.123456789012345")
    assert provider.write([Change(C, {"id": 1}, {"amount": value})])[0].ok
    assert next(iter(provider.read())).records[0]["amount"] == value


def test_a_made_table_holds_the_largest_mysql_bigint_unsigned(
        server_db: Database, mysql_db: Database) -> None:
    mysql_db.run("CREATE TABLE big (id BIGINT UNSIGNED PRIMARY KEY, n BIGINT UNSIGNED)")
    columns = mysql_db.open("big").describe()
    provider = server_db.open("items")
    provider.create_table(columns)
    largest = 18446744073709551615
    outcomes = provider.write([Change(C, {"id": largest}, {"n": largest})])
    assert all(o.ok for o in outcomes), outcomes
    assert [tuple(map(int, r)) for r in server_db.rows("SELECT id, n FROM items")] == [(largest,) * 2]

