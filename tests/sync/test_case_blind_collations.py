"""SQL key columns whose collation compares texts in any case (MySQL/MariaDB `_ci`, their
default): 'ABC' and 'abc' are one key there, as in Dataverse (SQLite → MariaDB)."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Iterator
from contextlib import closing
from pathlib import Path

import pytest
import sqlalchemy as sa

from l2tui.config.model import Connection, Direction, Entity, Mapping
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from l2tui.sync.events import Event, ItemError
from tests.sync.conftest import database_url


@pytest.fixture
def mariadb_table(tmp_path: Path) -> Iterator[tuple[sa.Engine, str]]:
    """A MariaDB table (acctno VARCHAR(20) PRIMARY KEY, name) in the database's default
    collation, which ignores case; its engine and name, dropped after the test."""
    engine = sa.create_engine(database_url("mysql", tmp_path))
    table = f"accts_{uuid.uuid4().hex[:8]}"
    with engine.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {table} (acctno VARCHAR(20) PRIMARY KEY, "
                          "name VARCHAR(50))")
    try:
        yield engine, table
    finally:
        with engine.begin() as c:
            c.exec_driver_sql(f"DROP TABLE {table}")
        engine.dispose()


def _sqlite(path: Path, rows: list[tuple[str, str]]) -> None:
    """A SQLite table accts (id key, acctno, name) holding ``rows`` (acctno, name)."""
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE accts (id INTEGER PRIMARY KEY, acctno TEXT NOT NULL, name TEXT)")
        db.executemany("INSERT INTO accts (acctno, name) VALUES (?, ?)", rows)


def _connection(path: Path, url: str, table: str) -> Connection:
    """SQLite accts → the MariaDB table, one way, matched by account number."""
    return Connection(
        title=f"Case blind {table}", direction=Direction.LEFT_TO_RIGHT,
        mapping=Mapping(auto=True, exclude=["id"]),
        entity1=Entity(provider="sqlite", connection_string=f"Data Source={path};",
                       select="accts", primary_key=["acctno"]),
        entity2=Entity(provider="mysql", connection_string=url, select=table,
                       primary_key=["acctno"]))


def test_two_sqlite_keys_one_in_mariadbs_default_collation_are_each_an_error_naming_both(
        tmp_path: Path, mariadb_table: tuple[sa.Engine, str]) -> None:
    """(both were written to one MariaDB row, the one read last over the other, every run)"""
    engine, table = mariadb_table
    _sqlite(tmp_path / "l.db", [("ABC", "upper"), ("abc", "lower"), ("XYZ", "other")])
    conn = _connection(tmp_path / "l.db", engine.url.render_as_string(hide_password=False),
                       table)
    events: list[Event] = []
    report = Runner(resolve_paths()).run(conn, sink=events.append)
    assert (report.outcome, report.errors_left, report.created_right) == ("errors", 2, 1), \
        report.message
    assert sorted(e.message for e in events if isinstance(e, ItemError)) == [
        'appears 2 times (as ["ABC"], ["abc"]: one value to entity 2, whose keys ignore case): '
        "primary_key must be unique in any case"] * 2
    with engine.connect() as c:
        assert c.exec_driver_sql(f"SELECT acctno, name FROM {table}").all() == [("XYZ", "other")]


def test_a_first_run_pairs_a_sqlite_key_with_the_mariadb_row_of_it_in_another_case(
        tmp_path: Path, mariadb_table: tuple[sa.Engine, str]) -> None:
    """(a create, which wrote over that row through its duplicate key: every --full run too)"""
    engine, table = mariadb_table
    with engine.begin() as c:
        c.exec_driver_sql(f"INSERT INTO {table} VALUES ('ABC', 'in MariaDB')")
    _sqlite(tmp_path / "l.db", [("abc", "in SQLite")])
    conn = _connection(tmp_path / "l.db", engine.url.render_as_string(hide_password=False),
                       table)
    runner = Runner(resolve_paths())
    report = runner.run(conn)
    assert (report.outcome, report.created_right, report.updated_right) == ("success", 0, 1), \
        report.message
    for full in (False, True):  # (its key column keeps its spelling: the pair holds it)
        again = runner.run(conn, full=full)
        assert (again.outcome, again.created_right, again.updated_right) == ("success", 0, 0), \
            again.message
    with engine.connect() as c:
        assert c.exec_driver_sql(f"SELECT acctno, name FROM {table}").all() == \
            [("ABC", "in SQLite")]
