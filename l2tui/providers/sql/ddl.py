"""Create a target table from the other side's columns; the DDL is returned as text to show first."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.schema import CreateTable

from l2tui.errors import ConfigError
from l2tui.providers.base import Column
from l2tui.providers.sql.dialects import dialect_for
from l2tui.providers.sql.types import ddl_type

MYSQL_CHARSET = "utf8mb4"  # every Unicode character (MySQL's "utf8" and latin1 are not)


def table_for(columns: Sequence[Column], table: str, dialect: str | Dialect,
              schema: str | None = None) -> sa.Table:
    """A SQLAlchemy Table with the columns mapped to this database's types; on MySQL/MariaDB in
    utf8mb4 whatever the database's default, its text keys in a binary collation."""
    if not columns:
        raise ConfigError(f"cannot create table {table!r} without columns")
    dia = dialect_for(dialect)
    name = "mysql" if dia.name == "mariadb" else dia.name
    seen: set[str] = set()
    cols: list[sa.Column[object]] = []
    for column in columns:
        if column.name.casefold() in seen:
            raise ConfigError(f"column {column.name!r} is given twice")
        seen.add(column.name.casefold())
        sql_type = ddl_type(column, name)
        if column.key and name == "mysql" and isinstance(sql_type, sa.String):
            sql_type = sa.String(sql_type.length, collation=key_collation(dia))
        cols.append(sa.Column(
            column.name, sql_type, primary_key=column.key,
            nullable=column.nullable and not column.key, autoincrement=False,
        ))
    options: dict[str, Any] = {"mysql_charset": MYSQL_CHARSET,
                               "mariadb_charset": MYSQL_CHARSET} if name == "mysql" else {}
    return sa.Table(table, sa.MetaData(), *cols, schema=schema, **options)


def key_collation(dialect: Dialect) -> str:
    """The utf8mb4 collation of a text key on MySQL/MariaDB: binary and without padding, so that
    keys differing by case or trailing blanks are other rows (utf8mb4_bin pads: 'x' = 'x ');
    utf8mb4_bin where the server has no such collation (MySQL before 8.0.17, or not known)."""
    if getattr(dialect, "is_mariadb", False):
        return "utf8mb4_nopad_bin"
    if (dialect.server_version_info or ()) >= (8, 0, 17):
        return "utf8mb4_0900_bin"
    return "utf8mb4_bin"


def create_table_ddl(columns: Sequence[Column], table: str, dialect: str | Dialect,
                     schema: str | None = None) -> str:
    """``CREATE TABLE`` for the columns (keys become the primary key), as this database wants it."""
    dia = dialect_for(dialect)
    ddl = CreateTable(table_for(columns, table, dia, schema)).compile(dialect=dia)
    return str(ddl).strip()


def create_table(bind: Engine | Connection, columns: Sequence[Column], table: str,
                 schema: str | None = None) -> str:
    """Create the table (refusing one that exists) and return the DDL that ran."""
    target = table_for(columns, table, bind.dialect, schema)
    ddl = str(CreateTable(target).compile(dialect=bind.dialect)).strip()
    if isinstance(bind, Engine):
        with bind.begin() as conn:
            _create(conn, target)
    else:
        _create(bind, target)
    return ddl


def _create(conn: Connection, target: sa.Table) -> None:
    if sa.inspect(conn).has_table(target.name, schema=target.schema):
        raise ConfigError(f"table {target.name!r} already exists; not creating it")
    conn.execute(CreateTable(target))
