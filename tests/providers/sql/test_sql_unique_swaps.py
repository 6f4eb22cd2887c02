"""Rows whose new values of a unique index are other rows' old ones: swaps, chains, cycles."""

from __future__ import annotations

import pytest
import sqlalchemy as sa

from l2tui.providers.base import Change, ChangeOp
from tests.providers.sql.conftest import Database

U = ChangeOp.UPDATE


def codes(db: Database, null: str = "NULL", rows: int = 4) -> None:
    """A table ``codes`` (id key, code under a unique index, note) with rows i → ('c<i>', 'n<i>')."""
    db.run(f"CREATE TABLE codes (id INTEGER PRIMARY KEY, code VARCHAR(20) {null}, "
           "note VARCHAR(20))",
           "CREATE UNIQUE INDEX codes_code ON codes (code)",
           *(f"INSERT INTO codes VALUES ({i}, 'c{i}', 'n{i}')" for i in range(rows)))


def table(db: Database) -> list[tuple[object, ...]]:
    """The rows, by id."""
    return db.rows("SELECT id, code, note FROM codes ORDER BY id")


def test_two_rows_that_swap_a_unique_value_are_both_written(db: Database) -> None:
    codes(db)
    outcomes = db.open("codes").write([Change(U, {"id": 0}, {"code": "c1", "note": "x"}),
                                       Change(U, {"id": 1}, {"code": "c0", "note": "y"})])
    assert [o.error for o in outcomes] == ["", ""]
    assert table(db) == [(0, "c1", "x"), (1, "c0", "y"), (2, "c2", "n2"), (3, "c3", "n3")]


@pytest.mark.parametrize("db", ["sqlite", "postgresql"], indirect=True)
def test_two_rows_that_swap_a_unique_value_through_creates_are_both_written(
        db: Database) -> None:
    """(a create is an upsert: on SQLite and PostgreSQL its retries take the driver's own
    savepoints; MySQL/MariaDB takes a create as a plain INSERT beside another unique index)"""
    codes(db)
    c = ChangeOp.CREATE
    outcomes = db.open("codes").write([Change(c, {"id": 0}, {"code": "c1", "note": "x"}),
                                       Change(c, {"id": 1}, {"code": "c0", "note": "y"})])
    assert [o.error for o in outcomes] == ["", ""]
    assert table(db)[:2] == [(0, "c1", "x"), (1, "c0", "y")]


def test_three_rows_that_pass_unique_values_round_are_all_written(db: Database) -> None:
    codes(db)
    outcomes = db.open("codes").write([Change(U, {"id": i}, {"code": f"c{(i + 1) % 3}"})
                                       for i in range(3)])
    assert all(o.ok for o in outcomes)
    assert table(db) == [(0, "c1", "n0"), (1, "c2", "n1"), (2, "c0", "n2"), (3, "c3", "n3")]


def test_a_row_taking_the_value_a_later_row_gives_up_is_written_in_a_not_null_column(
        db: Database) -> None:
    codes(db, "NOT NULL")
    outcomes = db.open("codes").write([Change(U, {"id": 0}, {"code": "c1"}),
                                       Change(U, {"id": 1}, {"code": "new"})])
    assert [o.error for o in outcomes] == ["", ""]
    assert table(db)[:2] == [(0, "c1", "n0"), (1, "new", "n1")]


def test_a_swap_in_a_not_null_unique_column_fails_each_row_saying_why_and_changes_nothing(
        db: Database) -> None:
    codes(db, "NOT NULL")
    outcomes = db.open("codes").write([Change(U, {"id": 0}, {"code": "c1"}),
                                       Change(U, {"id": 1}, {"code": "c0"})])
    assert [o.error for o in outcomes] == [
        "code: another row holds this value (a unique index); values swapped between rows are "
        "written only where the column allows NULL (code is NOT NULL)"] * 2
    assert table(db) == [(i, f"c{i}", f"n{i}") for i in range(4)]


def test_a_value_another_row_keeps_fails_beside_a_swap_and_its_row_keeps_its_old_value(
        db: Database) -> None:
    codes(db)
    outcomes = db.open("codes").write([Change(U, {"id": 0}, {"code": "c1"}),
                                       Change(U, {"id": 2}, {"code": "c3", "note": "x"}),
                                       Change(U, {"id": 1}, {"code": "c0"})])
    assert [o.ok for o in outcomes] == [True, False, True]
    assert "code" in outcomes[1].error
    assert table(db) == [(0, "c1", "n0"), (1, "c0", "n1"), (2, "c2", "n2"), (3, "c3", "n3")]


def test_two_rows_that_want_one_value_of_a_swap_fail_without_leaving_a_null(
        db: Database) -> None:
    """0 and 2 both want 1's value while 1 takes 0's: no order writes all three; what fails
    keeps its old value."""
    codes(db)
    outcomes = db.open("codes").write([Change(U, {"id": 0}, {"code": "c1"}),
                                       Change(U, {"id": 2}, {"code": "c1"}),
                                       Change(U, {"id": 1}, {"code": "c0"})])
    assert sum(not o.ok for o in outcomes) >= 1
    assert None not in {row[1] for row in table(db)}
    assert sorted(str(row[1]) for row in table(db)) == ["c0", "c1", "c2", "c3"]


def test_a_batch_with_over_a_hundred_unique_collisions_is_not_tried_again_for_swaps(
        sqlite_db: Database) -> None:
    """Many items kept out by a unique index are most likely duplicates: they fail with the
    database's error, each tried once alone, as before."""
    codes(sqlite_db, rows=300)
    provider = sqlite_db.open("codes")
    statements: list[str] = []
    sa.event.listen(provider.engine(), "connect",
                    lambda dbapi, _record: dbapi.set_trace_callback(statements.append))
    changes = [Change(U, {"id": i}, {"code": f"c{i + 150}"}) for i in range(101)] + [
        Change(U, {"id": 200}, {"code": "c201"}), Change(U, {"id": 201}, {"code": "c200"})]
    outcomes = provider.write(changes)
    assert [o.ok for o in outcomes] == [False] * 103
    assert sum(s.startswith("UPDATE") and "NULL" in s for s in statements) == 0


def test_two_rows_that_swap_a_unique_value_across_two_batches_are_both_written(
        db: Database) -> None:
    """(the batch boundary falls between them: each batch alone is kept out by the other's
    row; the items kept out so are written together once every batch was)"""
    codes(db)
    outcomes = db.open("codes", batch_size=1).write([
        Change(U, {"id": 0}, {"code": "c1", "note": "x"}),
        Change(U, {"id": 1}, {"code": "c0", "note": "y"})])
    assert [o.error for o in outcomes] == ["", ""]
    assert table(db) == [(0, "c1", "x"), (1, "c0", "y"), (2, "c2", "n2"), (3, "c3", "n3")]


def test_three_rows_that_pass_unique_values_round_across_batches_are_all_written(
        db: Database) -> None:
    codes(db)
    outcomes = db.open("codes", batch_size=2).write([
        Change(U, {"id": i}, {"code": f"c{(i + 1) % 3}"}) for i in range(3)])
    assert [o.error for o in outcomes] == ["", "", ""]
    assert table(db) == [(0, "c1", "n0"), (1, "c2", "n1"), (2, "c0", "n2"), (3, "c3", "n3")]


def test_a_value_a_row_outside_the_batch_keeps_in_a_not_null_unique_column_names_that_row(
        db: Database) -> None:
    """(it said 'values swapped between rows are written only where the column allows NULL',
    though no row of the batch gave the value up)"""
    codes(db, "NOT NULL")
    outcomes = db.open("codes").write([Change(U, {"id": 0}, {"code": "c1"}),
                                       Change(U, {"id": 2}, {"note": "x"})])
    assert [o.error for o in outcomes] == [
        "code: the row id = 1 holds this value (a unique index)", ""]
    assert table(db)[:3] == [(0, "c0", "n0"), (1, "c1", "n1"), (2, "c2", "x")]
