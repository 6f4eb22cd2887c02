"""MySQL/MariaDB: a TIMESTAMP is UTC whatever the server's time zone; a value the column
cannot hold fails its row whatever the server's sql_mode; a create never writes over another
row through a unique index."""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator

import pytest

from l2tui.providers.base import Change, ChangeOp
from tests.providers.sql.conftest import Database

NOON = dt.datetime(2024, 1, 1, 12, 0)


@pytest.fixture
def server_at_plus_two(mysql_db: Database) -> Iterator[Database]:
    """``mysql_db`` on a server whose time zone is +02:00 (for new sessions), set back after."""
    was = mysql_db.rows("SELECT @@global.time_zone")[0][0]
    mysql_db.run("CREATE TABLE moments (id INT PRIMARY KEY, at TIMESTAMP NULL)")
    mysql_db.run("SET GLOBAL time_zone = '+02:00'")
    try:
        yield mysql_db
    finally:
        mysql_db.run(f"SET GLOBAL time_zone = '{was}'")


def _utc_rows(db: Database) -> list[tuple[object, ...]]:
    with db.engine.connect() as conn:
        conn.exec_driver_sql("SET time_zone = '+00:00'")
        return [tuple(r) for r in conn.exec_driver_sql("SELECT id, at FROM moments")]


def test_a_timestamp_is_read_as_utc_whatever_the_servers_time_zone(
        server_at_plus_two: Database) -> None:
    server_at_plus_two.run("SET time_zone = '+00:00'",
                           "INSERT INTO moments VALUES (1, '2024-01-01 12:00:00')")
    records = next(iter(server_at_plus_two.open("moments").read())).records
    assert records == [{"id": 1, "at": NOON}]


def test_a_timestamp_is_written_as_utc_whatever_the_servers_time_zone(
        server_at_plus_two: Database) -> None:
    provider = server_at_plus_two.open("moments")
    change = Change(ChangeOp.CREATE, {"id": 1}, {"at": NOON.replace(tzinfo=dt.UTC)})
    assert provider.write([change])[0].ok
    assert _utc_rows(server_at_plus_two) == [(1, NOON)]


@pytest.fixture
def lax_server(mysql_db: Database) -> Iterator[Database]:
    """``mysql_db`` on a server whose sql_mode is not strict (for new sessions), set back after."""
    was = mysql_db.rows("SELECT @@global.sql_mode")[0][0]
    mysql_db.run("CREATE TABLE names (id INT PRIMARY KEY, name VARCHAR(5))")
    mysql_db.run("SET GLOBAL sql_mode = ''")
    try:
        yield mysql_db
    finally:
        mysql_db.run(f"SET GLOBAL sql_mode = '{was}'")


def test_a_text_too_long_for_its_column_fails_its_row_on_a_server_that_is_not_strict(
        lax_server: Database) -> None:
    provider = lax_server.open("names")
    result = provider.write([Change(ChangeOp.CREATE, {"id": 1}, {"name": "Fourth Coffee"})])[0]
    assert not result.ok
    assert "too long" in result.error
    assert lax_server.rows("SELECT id, name FROM names") == []


def test_a_create_sharing_a_unique_value_with_another_row_fails_rather_than_write_over_it(
        mysql_db: Database) -> None:
    mysql_db.run("CREATE TABLE coded (id INT PRIMARY KEY, code VARCHAR(20) UNIQUE, name TEXT)",
                 "INSERT INTO coded VALUES (1, 'ACC-1', 'only in SQL')")
    provider = mysql_db.open("coded")
    change = Change(ChangeOp.CREATE, {"id": 2}, {"code": "ACC-1", "name": "new elsewhere"})
    result = provider.write([change])[0]
    assert not result.ok
    assert "Duplicate entry 'ACC-1'" in result.error
    assert mysql_db.rows("SELECT id, code, name FROM coded") == [(1, "ACC-1", "only in SQL")]
