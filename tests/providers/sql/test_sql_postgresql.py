"""PostgreSQL types with no plain Python value: money, arrays."""

from __future__ import annotations

from decimal import Decimal

from l2tui.providers.base import Change, ChangeOp
from tests.providers.sql.conftest import Database


def _records(db: Database, table: str) -> list[dict[str, object]]:
    return sorted((r for page in db.open(table).read() for r in page.records),
                  key=lambda r: str(r["id"]))


def test_money_is_read_as_an_exact_decimal_not_the_locales_text(pg_db: Database) -> None:
    pg_db.run("CREATE TABLE m (id INT PRIMARY KEY, amount MONEY)",
              "INSERT INTO m VALUES (1, 49251193.02), (2, -0.5), (3, NULL)")
    assert [r["amount"] for r in _records(pg_db, "m")] == [Decimal("49251193.02"),
                                                           Decimal("-0.50"), None]


def test_a_decimal_written_into_money_reads_back_as_it_was_written(pg_db: Database) -> None:
    pg_db.run("CREATE TABLE m (id INT PRIMARY KEY, amount MONEY)",
              "INSERT INTO m VALUES (1, 1)")
    provider = pg_db.open("m", ["id"])
    outcomes = provider.write([Change(ChangeOp.CREATE, {"id": 2}, {"amount": Decimal("12.34")}),
                               Change(ChangeOp.UPDATE, {"id": 1}, {"amount": Decimal("5.5")})])
    assert all(o.ok for o in outcomes), outcomes
    assert [r["amount"] for r in _records(pg_db, "m")] == [Decimal("5.50"), Decimal("12.34")]


def test_text_that_is_no_json_array_fails_its_row_naming_the_array_column(
        pg_db: Database) -> None:
    pg_db.run("CREATE TABLE a (id INT PRIMARY KEY, n INT[])")
    outcomes = pg_db.open("a").write([Change(ChangeOp.CREATE, {"id": 1}, {"n": "[1, 2]"}),
                                      Change(ChangeOp.CREATE, {"id": 2}, {"n": "abc"})])
    assert [(o.ok, o.error) for o in outcomes] == [
        (True, ""), (False, "n: 'abc' cannot be stored as INTEGER[]")]
    assert pg_db.rows("SELECT id, n FROM a") == [(1, [1, 2])]
