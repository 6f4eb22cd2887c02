"""Create a target table from the other side's columns; the DDL is returned as text to show first."""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Engine
from sqlalchemy.schema import CreateTable

from l2tui.errors import ConfigError
from l2tui.providers.base import Column
from l2tui.providers.sql.dialects import dialect_for
from l2tui.providers.sql.types import ddl_type


def table_for(columns: Sequence[Column], table: str, dialect: str,
              schema: str | None = None) -> sa.Table:
    """A SQLAlchemy Table with the columns mapped to this database's types."""
    if not columns:
        raise ConfigError(f"cannot create table {table!r} without columns")
    seen: set[str] = set()
    cols: list[sa.Column[object]] = []
    for column in columns:
        if column.name.casefold() in seen:
            raise ConfigError(f"column {column.name!r} is given twice")
        seen.add(column.name.casefold())
        cols.append(sa.Column(
            column.name, ddl_type(column, dialect), primary_key=column.key,
            nullable=column.nullable and not column.key, autoincrement=False,
        ))
    return sa.Table(table, sa.MetaData(), *cols, schema=schema)


def create_table_ddl(columns: Sequence[Column], table: str, dialect: str | Dialect,
                     schema: str | None = None) -> str:
    """``CREATE TABLE`` for the columns (keys become the primary key), as this database wants it."""
    dia = dialect_for(dialect)
    name = dia.name
    ddl = CreateTable(table_for(columns, table, name, schema)).compile(dialect=dia)
    return str(ddl).strip()


def create_table(bind: Engine | Connection, columns: Sequence[Column], table: str,
                 schema: str | None = None) -> str:
    """Create the table (refusing one that exists) and return the DDL that ran."""
    target = table_for(columns, table, bind.dialect.name, schema)
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
