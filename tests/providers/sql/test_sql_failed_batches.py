"""A batch with failing rows: its retries run in savepoints of one transaction, committed once."""

from __future__ import annotations

import threading
from typing import Any

import sqlalchemy as sa

from l2tui.config.model import Entity
from l2tui.providers.base import Change, ChangeOp, ProviderContext
from l2tui.providers.sql import SqlProvider
from tests.providers.sql.conftest import Database

C = ChangeOp.CREATE
STAFF = ("CREATE TABLE staff (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, "
         "employees INTEGER, CONSTRAINT few_employees CHECK (employees < 9000))")


def staff(i: int) -> Change:
    """Every 7th row breaks the CHECK, every 11th (not 7th) has no name; the others are good."""
    if i % 7 == 3:
        return Change(C, {"id": i}, {"name": f"n{i}", "employees": 9000 + i})
    if i % 11 == 5:
        return Change(C, {"id": i}, {"name": None, "employees": i})
    return Change(C, {"id": i}, {"name": f"n{i}", "employees": i})


def test_a_batch_with_failing_rows_keeps_every_good_row_and_fails_each_bad_one_with_its_own_message(
        db: Database) -> None:
    db.run(STAFF)
    outcomes = db.open("staff").write([staff(i) for i in range(500)])
    checks = [i for i in range(500) if i % 7 == 3]
    nulls = [i for i in range(500) if i % 11 == 5 and i % 7 != 3]
    assert [i for i, o in enumerate(outcomes) if not o.ok] == sorted(checks + nulls)
    assert all("few_employees" in outcomes[i].error for i in checks)
    assert all("name" in outcomes[i].error and "few_employees" not in outcomes[i].error
               for i in nulls)
    good = [i for i in range(500) if i not in checks and i not in nulls]
    assert all(outcomes[i].key == {"id": i} for i in good)
    assert db.rows("SELECT id, name, employees FROM staff ORDER BY id") == [
        (i, f"n{i}", i) for i in good]


def test_the_retries_of_a_failed_batch_commit_once(db: Database) -> None:
    db.run(STAFF)
    provider = db.open("staff")
    commits: list[Any] = []
    sa.event.listen(provider.engine(), "commit", commits.append)
    outcomes = provider.write([staff(i) for i in range(500)])
    assert sum(not o.ok for o in outcomes) > 50
    assert len(commits) == 1


def test_a_failed_part_rolls_back_to_its_savepoint_only(db: Database) -> None:
    """Rows made with a generated key: a part whose insert failed half way leaves none behind,
    and the parts before and after it stay."""
    auto = {"sqlite": "INTEGER PRIMARY KEY", "postgresql": "SERIAL PRIMARY KEY",
            "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY"}[db.provider]
    db.run(f"CREATE TABLE items (id {auto}, n INTEGER, CONSTRAINT small CHECK (n < 9000))")
    changes = [Change(C, {}, {"n": 9000 + i if i % 9 == 4 else i}) for i in range(300)]
    outcomes = db.open("items").write(changes)
    bad = [i for i in range(300) if i % 9 == 4]
    assert [i for i, o in enumerate(outcomes) if not o.ok] == bad
    made = {o.key["id"]: changes[i].values["n"] for i, o in enumerate(outcomes)  # type: ignore[index]
            if o.ok}
    assert len(made) == 300 - len(bad)
    assert dict(db.rows("SELECT id, n FROM items")) == made


def test_every_savepoint_on_sqlite_opens_inside_the_batch_transaction(sqlite_db: Database) -> None:
    """pysqlite begins a transaction only before a data change: a SAVEPOINT outside one would
    open a transaction of its own, committed (with an fsync) by its RELEASE."""
    sqlite_db.run(STAFF)
    provider = sqlite_db.open("staff")
    outside: list[str] = []

    def trace(dbapi_connection: Any, _record: Any) -> None:
        def seen(statement: str) -> None:
            if statement.startswith(("SAVEPOINT", "RELEASE")) and \
                    not dbapi_connection.in_transaction:
                outside.append(statement)
        dbapi_connection.set_trace_callback(seen)

    sa.event.listen(provider.engine(), "connect", trace)
    outcomes = provider.write([staff(i) for i in range(200)])
    assert sum(not o.ok for o in outcomes) > 20
    assert outside == []
    assert len(sqlite_db.rows("SELECT id FROM staff")) == sum(o.ok for o in outcomes)


def test_a_row_refused_only_at_commit_fails_alone_and_the_others_are_written(
        pg_db: Database) -> None:
    """A deferred foreign key is checked at COMMIT: the retries' one commit fails, and the
    batch is retried part by part, each in its own transaction, down to the row it refuses."""
    pg_db.run("CREATE TABLE towns (id INTEGER PRIMARY KEY)", "INSERT INTO towns VALUES (1)",
              "CREATE TABLE people (id INTEGER PRIMARY KEY, name VARCHAR(20) NOT NULL, "
              "town INTEGER REFERENCES towns DEFERRABLE INITIALLY DEFERRED)")
    changes = [Change(C, {"id": i}, {"name": None if i == 7 else f"n{i}",
                                     "town": 2 if i == 40 else 1}) for i in range(100)]
    outcomes = pg_db.open("people").write(changes)
    assert [i for i, o in enumerate(outcomes) if not o.ok] == [7, 40]
    assert "town" in outcomes[40].error and "name" in outcomes[7].error
    assert pg_db.rows("SELECT COUNT(*) FROM people") == [(98,)]


def test_the_retries_of_a_failed_batch_of_creates_take_no_sqlalchemy_savepoint(
        db: Database) -> None:
    """On SQLite and PostgreSQL each part of a failed batch of creates is retried in a savepoint
    spelt on the driver's own cursor: SQLAlchemy's, one per part and item, took most of the
    time of a batch with many failing rows (with 30 % of 10,000 rows failing, 22 s of 25 s on
    PostgreSQL). MySQL/MariaDB keeps SQLAlchemy's."""
    db.run(STAFF)
    provider = db.open("staff")
    savepoints: list[Any] = []
    sa.event.listen(provider.engine(), "savepoint", lambda *args: savepoints.append(args))
    outcomes = provider.write([staff(i) for i in range(200)])
    assert sum(not o.ok for o in outcomes) == sum(
        i % 7 == 3 or i % 11 == 5 for i in range(200))
    assert (len(savepoints) == 0) == (db.provider != "mysql")


def test_a_constraint_that_rolls_back_the_whole_transaction_still_fails_its_row_alone(
        sqlite_db: Database) -> None:
    """SQLite's ON CONFLICT ROLLBACK ends the retries' transaction, savepoints and all: the
    batch is retried part by part in transactions of their own, and no good row is lost."""
    sqlite_db.run("CREATE TABLE staff (id INTEGER PRIMARY KEY, "
                  "name VARCHAR(20) NOT NULL ON CONFLICT ROLLBACK, employees INTEGER)")
    changes = [Change(C, {"id": i}, {"name": None if i in (5, 60) else f"n{i}",
                                     "employees": i}) for i in range(100)]
    outcomes = sqlite_db.open("staff").write(changes)
    assert [i for i, o in enumerate(outcomes) if not o.ok] == [5, 60]
    assert sqlite_db.rows("SELECT COUNT(*) FROM staff") == [(98,)]


def test_a_failed_batch_in_a_run_that_can_be_stopped_fails_each_bad_row_with_its_own_message(
        sqlite_db: Database) -> None:
    """A run's SQLite connection is l2tui's own (it waits on locks in slices, ``busy``): the
    retries of a failed batch take their driver's errors from SQLite's module all the same."""
    sqlite_db.run(STAFF)
    entity = Entity(provider="sqlite", connection_string=sqlite_db.connection_string,
                    select="staff", primary_key=[])
    provider = SqlProvider(entity, ProviderContext(stop=threading.Event()))
    outcomes = provider.write([staff(i) for i in range(100)])
    provider.close()
    failed = [i for i in range(100) if i % 7 == 3 or i % 11 == 5]
    assert [i for i, o in enumerate(outcomes) if not o.ok] == failed
    assert all("few_employees" in outcomes[i].error or "name" in outcomes[i].error
               for i in failed)
    assert len(sqlite_db.rows("SELECT id FROM staff")) == 100 - len(failed)


def _inserts(provider: Any) -> list[str]:
    """The INSERT statements a SQLite provider's connections run, as they run."""
    seen: list[str] = []
    sa.event.listen(provider.engine(), "connect", lambda dbapi, _record: dbapi.set_trace_callback(
        lambda statement: seen.append(statement) if statement.startswith("INSERT") else None))
    return seen


def test_an_item_that_fails_alone_is_tried_alone_once(sqlite_db: Database) -> None:
    """(a part of one item that failed was tried again, alone, the same way)"""
    sqlite_db.run(STAFF)
    provider = sqlite_db.open("staff")
    inserts = _inserts(provider)
    outcomes = provider.write([staff(i) for i in range(10)])
    assert [i for i, o in enumerate(outcomes) if not o.ok] == [3, 5]
    assert len(inserts) == 1 + 10  # the batch, then each item alone


def test_a_batch_with_many_failing_items_is_retried_in_parts_that_fit_their_share(
        sqlite_db: Database) -> None:
    """About a fifth of 1,000 items fail: once 20 items are known, parts of two (one that
    succeeds about half the time), not tenths down to parts of ten that nearly always fail,
    each of them one statement more (923 statements here; 1,332 before)."""
    sqlite_db.run(STAFF)
    provider = sqlite_db.open("staff")
    inserts = _inserts(provider)
    outcomes = provider.write([staff(i) for i in range(1000)])
    assert sum(not o.ok for o in outcomes) == sum(i % 7 == 3 or i % 11 == 5 for i in range(1000))
    assert len(inserts) < 1000
