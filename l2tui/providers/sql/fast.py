"""Raw DBAPI upserts and updates for SQLite, PostgreSQL (psycopg) and MySQL/MariaDB.

The statement text is built once per (operation, column set) and rows are bound as positional
tuples through ``Connection.exec_driver_sql``, so a batch costs one ``executemany`` (SQLite,
MySQL/MariaDB, whose drivers fold an INSERT into multi-row statements) or one statement per
batch (PostgreSQL: ``INSERT … SELECT FROM unnest(%b::type[], …)`` with the columns bound as binary
arrays). Values are already converted for the driver (``types.bind_converter``). Identifiers are
quoted by the dialect; values are only ever bound. SQL Server and other drivers use ``upsert``.
"""

from __future__ import annotations

import datetime as dt
import decimal
import sqlite3
import uuid
from collections.abc import Sequence
from itertools import chain
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from l2tui.providers.sql.upsert import WriteTarget
from l2tui.sqlite_rows import insert_rows

Params = tuple[Any, ...]
MYSQL_ROWS_PER_UPDATE = 500
PG_MAX_PARAMS = 30_000  # per multi-row VALUES statement (the protocol allows 65,535)
# Types whose PostgreSQL array cast (``%b::<type>[]``) is plain and safe to spell.
PG_ARRAY_TYPES: tuple[type, ...] = (sa.Integer, sa.Numeric, sa.String, sa.Boolean, sa.DateTime,
                                    sa.Date, sa.Time, sa.Uuid, sa.LargeBinary, sa.Interval)
# Python types psycopg dumps into a binary array without help.
PG_ARRAY_VALUES = frozenset({int, str, float, bool, bytes, decimal.Decimal, uuid.UUID,
                             dt.datetime, dt.date, dt.time, dt.timedelta})


def kind_of(dialect: Dialect) -> str | None:
    """Which raw path serves this dialect + driver ("sqlite" | "pg" | "mysql"), or None."""
    name, driver = dialect.name, dialect.driver
    if name == "sqlite" and driver == "pysqlite" and sqlite3.sqlite_version_info >= (3, 24):
        return "sqlite"
    if name == "postgresql" and driver == "psycopg":
        return "pg"
    if name in ("mysql", "mariadb") and driver in ("pymysql", "mysqldb") \
            and dialect.paramstyle in ("format", "pyformat"):
        return "mysql"
    return None


class FastStatements:
    """Raw upsert/update statements for one table on one database, built once per column set."""

    def __init__(self, target: WriteTarget, dialect: Dialect, kind: str) -> None:
        self.target = target
        self.dialect = dialect
        self.kind = kind
        prep = dialect.identifier_preparer
        percent = kind != "sqlite"  # format / pyformat paramstyles: a literal % is %%
        self._percent = percent

        def q(name: str) -> str:
            text = prep.quote_identifier(name)
            return text.replace("%", "%%") if percent else text

        self.q = q
        table = prep.format_table(target.table)
        self.table = table.replace("%", "%%") if percent else table
        self.keys = list(target.keys)
        self._cache: dict[tuple[Any, ...], str] = {}
        self._pg_casts: dict[str, str | None] = {}

    # -- upsert ---------------------------------------------------------------------------------

    def upsert(self, conn: Connection, columns: Sequence[str], rows: list[Params]) -> None:
        """Insert rows (key values, then ``columns``), updating ``columns`` of rows already there."""
        if self.kind == "sqlite":
            head, tail = self._sqlite_upsert(tuple(columns))
            insert_rows(conn.exec_driver_sql, head, tail, len(self.keys) + len(columns), rows)
        elif self.kind == "mysql":
            conn.exec_driver_sql(self._mysql_upsert(tuple(columns)), rows)
        else:
            self._pg_upsert(conn, tuple(columns), rows)

    def _conflict(self, columns: tuple[str, ...], excluded: str) -> str:
        keys = ", ".join(self.q(k) for k in self.keys)
        if not columns:
            return f" ON CONFLICT ({keys}) DO NOTHING"
        sets = ", ".join(f"{self.q(c)} = {excluded}.{self.q(c)}" for c in columns)
        return f" ON CONFLICT ({keys}) DO UPDATE SET {sets}"

    def _names(self, columns: tuple[str, ...]) -> str:
        return ", ".join(self.q(c) for c in (*self.keys, *columns))

    def _sqlite_upsert(self, columns: tuple[str, ...]) -> tuple[str, str]:
        """The text before and after the VALUES rows (see ``sqlite_rows``: one step per many
        rows, not one per row)."""
        return (f"INSERT INTO {self.table} ({self._names(columns)})",
                self._conflict(columns, "excluded"))

    def _mysql_upsert(self, columns: tuple[str, ...]) -> str:
        ck = ("mysql-upsert", columns)
        sql = self._cache.get(ck)
        if sql is None:
            marks = ", ".join(["%s"] * (len(self.keys) + len(columns)))
            # VALUES(col): MariaDB has no row alias; the drivers fold this into multi-row INSERTs.
            chosen = columns or (self.keys[0],)
            if columns:
                sets = ", ".join(f"{self.q(c)} = VALUES({self.q(c)})" for c in chosen)
            else:
                sets = f"{self.q(chosen[0])} = {self.q(chosen[0])}"
            sql = (f"INSERT INTO {self.table} ({self._names(columns)}) VALUES ({marks}) "
                   f"ON DUPLICATE KEY UPDATE {sets}")
            self._cache[ck] = sql
        return sql

    # -- PostgreSQL ----------------------------------------------------------------------------

    def _pg_cast(self, name: str) -> str | None:
        """The array cast for a column (``integer[]``), or None when it is not a plain type."""
        if name not in self._pg_casts:
            sql_type = self.target.table.c[name].type
            cast: str | None = None
            if isinstance(sql_type, PG_ARRAY_TYPES) and not isinstance(sql_type, sa.ARRAY) \
                    and not isinstance(sql_type, sa.Enum):
                try:
                    spelled = sql_type.compile(dialect=self.dialect)
                except sa.exc.SQLAlchemyError:
                    spelled = ""
                if isinstance(sql_type, sa.String) and getattr(sql_type, "length", None):
                    # not varchar(n)[]: an explicit cast cuts a longer value to n characters
                    # without a word; text is checked by the column's own (assignment) cast
                    spelled = "text"
                if spelled and "[" not in spelled and "%" not in spelled:
                    cast = f"{spelled}[]"
            self._pg_casts[name] = cast
        return self._pg_casts[name]

    def _pg_arrays(self, names: Sequence[str], rows: list[Params]) -> list[list[Any]] | None:
        """Columns as lists, when every column has a plain cast and one Python type of value."""
        if any(self._pg_cast(n) is None for n in names):
            return None
        arrays = [list(col) for col in zip(*rows, strict=True)]
        for values in arrays:
            seen = set(map(type, values))
            seen.discard(type(None))
            if len(seen) > 1 or not seen <= PG_ARRAY_VALUES:
                return None
        return arrays

    def _pg_unnest(self, names: Sequence[str]) -> str:
        return ", ".join(f"%b::{self._pg_cast(n)}" for n in names)

    def _pg_upsert(self, conn: Connection, columns: tuple[str, ...], rows: list[Params]) -> None:
        for sql, params in self.upsert_statements(columns, rows):
            conn.exec_driver_sql(sql, params)

    def upsert_statements(self, columns: Sequence[str],
                          rows: list[Params]) -> list[tuple[str, Params]]:
        """The statements (text, bound values) ``upsert`` runs on SQLite or PostgreSQL, for the
        driver's own cursor."""
        columns = tuple(columns)
        if self.kind == "sqlite":
            made: list[tuple[str, Params]] = []
            head, tail = self._sqlite_upsert(columns)
            insert_rows(lambda sql, params: made.append((sql, params)), head, tail,
                        len(self.keys) + len(columns), rows)
            return made
        names = (*self.keys, *columns)
        arrays = self._pg_arrays(names, rows)
        if arrays is not None:
            ck: tuple[Any, ...] = ("pg-upsert-unnest", columns)
            sql = self._cache.get(ck)
            if sql is None:
                sql = (f"INSERT INTO {self.table} ({self._names(columns)}) "
                       f"SELECT * FROM unnest({self._pg_unnest(names)})"
                       + self._conflict(columns, "EXCLUDED"))
                self._cache[ck] = sql
            return [(sql, tuple(arrays))]
        statements = []
        step = max(1, min(1000, PG_MAX_PARAMS // len(names)))
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            ck = ("pg-upsert-values", columns, len(chunk))
            sql = self._cache.get(ck)
            if sql is None:
                row = "(" + ", ".join(["%s"] * len(names)) + ")"
                sql = (f"INSERT INTO {self.table} ({self._names(columns)}) VALUES "
                       + ", ".join([row] * len(chunk)) + self._conflict(columns, "EXCLUDED"))
                self._cache[ck] = sql
            statements.append((sql, tuple(chain.from_iterable(chunk))))
        return statements

    # -- update --------------------------------------------------------------------------------

    def update(self, conn: Connection, columns: Sequence[str], rows: list[Params]) -> int:
        """UPDATE ``columns`` by key for rows (key values, then ``columns``); rows matched, or -1."""
        cols = tuple(columns)
        if self.kind == "sqlite":
            return conn.exec_driver_sql(self._sqlite_update(cols), rows).rowcount
        if self.kind == "mysql":
            return self._mysql_update(conn, cols, rows)
        return self._pg_update(conn, cols, rows)

    def _sqlite_update(self, columns: tuple[str, ...]) -> str:
        ck = ("sqlite-update", columns)
        sql = self._cache.get(ck)
        if sql is None:
            n = len(self.keys)
            sets = ", ".join(f"{self.q(c)} = ?{n + i + 1}" for i, c in enumerate(columns))
            where = " AND ".join(f"{self.q(k)} = ?{i + 1}" for i, k in enumerate(self.keys))
            sql = f"UPDATE {self.table} SET {sets} WHERE {where}"
            self._cache[ck] = sql
        return sql

    def _pg_update(self, conn: Connection, columns: tuple[str, ...], rows: list[Params]) -> int:
        names = (*self.keys, *columns)
        arrays = self._pg_arrays(names, rows)
        if arrays is not None:
            ck: tuple[Any, ...] = ("pg-update-unnest", columns)
            sql = self._cache.get(ck)
            if sql is None:
                sets = ", ".join(f"{self.q(c)} = l2tui_v.{self.q(c)}" for c in columns)
                where = " AND ".join(f"l2tui_t.{self.q(k)} = l2tui_v.{self.q(k)}"
                                     for k in self.keys)
                alias = ", ".join(self.q(n) for n in names)
                sql = (f"UPDATE {self.table} AS l2tui_t SET {sets} "
                       f"FROM unnest({self._pg_unnest(names)}) AS l2tui_v ({alias}) "
                       f"WHERE {where}")
                self._cache[ck] = sql
            return conn.exec_driver_sql(sql, tuple(arrays)).rowcount
        ck = ("pg-update-many", columns)
        sql = self._cache.get(ck)
        if sql is None:
            sets = ", ".join(f"{self.q(c)} = %s" for c in columns)
            where = " AND ".join(f"{self.q(k)} = %s" for k in self.keys)
            sql = f"UPDATE {self.table} SET {sets} WHERE {where}"
            self._cache[ck] = sql
        n = len(self.keys)
        return conn.exec_driver_sql(sql, [r[n:] + r[:n] for r in rows]).rowcount

    def _mysql_update(self, conn: Connection, columns: tuple[str, ...],
                      rows: list[Params]) -> int:
        """A multi-table UPDATE joined to the rows as a derived table, some hundred per statement."""
        names = (*self.keys, *columns)
        total = 0
        for start in range(0, len(rows), MYSQL_ROWS_PER_UPDATE):
            chunk = rows[start:start + MYSQL_ROWS_PER_UPDATE]
            ck = ("mysql-update", columns, len(chunk))
            sql = self._cache.get(ck)
            if sql is None:
                first = "SELECT " + ", ".join(f"%s AS {self.q(n)}" for n in names)
                rest = " UNION ALL SELECT " + ", ".join(["%s"] * len(names))
                on = " AND ".join(f"l2tui_t.{self.q(k)} = l2tui_v.{self.q(k)}" for k in self.keys)
                sets = ", ".join(f"l2tui_t.{self.q(c)} = l2tui_v.{self.q(c)}" for c in columns)
                sql = (f"UPDATE {self.table} AS l2tui_t JOIN ({first}{rest * (len(chunk) - 1)}) "
                       f"AS l2tui_v ON {on} SET {sets}")
                self._cache[ck] = sql
            count = conn.exec_driver_sql(sql, tuple(chain.from_iterable(chunk))).rowcount
            if count < 0:
                return -1
            total += count
        return total
