"""From a parsed select statement to the table to reflect, its columns and the read statement."""

from __future__ import annotations

import warnings
from collections.abc import Collection, Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect, Inspector

from l2tui.config.names import names_hint
from l2tui.config.specs.sql_select import Name, SelectInfo
from l2tui.errors import ConfigError
from l2tui.providers.base import MICROSECONDS, Column, ColumnType
from l2tui.providers.sql import types

# SQLAlchemy 2.1 reflects a PostgreSQL CHECK added NOT VALID with a ``dialect_options`` it then
# cannot take, and warns so on stderr in the middle of a run (reflect_table; the constraint is no
# use to a sync). Once, here: ``catch_warnings`` around it is not safe beside the other side's
# describe in its thread.
warnings.filterwarnings("ignore", "Can't validate argument 'dialect_options'", sa.exc.SAWarning)


def normalize(name: Name, dialect: Dialect) -> str:
    """An identifier as the catalog stores it: PostgreSQL folds unquoted names to lower case."""
    if not name.quoted and dialect.name == "postgresql":
        return name.text.lower()
    return name.text


def user_text(text: str) -> sa.TextClause:
    """The user's statement as a TextClause whose ``:words`` are text, not bind parameters."""
    return sa.text(text.replace(":", "\\:"))


def reflect_table(inspector: Inspector, info: SelectInfo, default_schema: str | None = None
                  ) -> sa.Table:
    """Reflect the statement's table, finding unquoted names case-insensitively.

    Through the caller's inspector, whose answers ``unique_key_sets`` then reuses, and without
    the tables its foreign keys name (each reflected in full, a dozen catalog queries a table on
    a server, for nothing a run writes)."""
    dialect = inspector.dialect
    name = normalize(info.table[-1], dialect)
    schema = normalize(info.table[-2], dialect) if len(info.table) >= 2 else default_schema
    if not inspector.has_table(name, schema=schema):
        folded = name.casefold()
        known = [*inspector.get_table_names(schema=schema), *inspector.get_view_names(schema=schema)]
        match = next((t for t in known if t.casefold() == folded), None)
        if match is None or info.table[-1].quoted:
            where = f" in schema {schema!r}" if schema else ""
            raise ConfigError(f"table {info.table_name!r} not found{where}"
                              f"{_hint(info.table[-1].text, known, 'tables there')}", key="select")
        name = match
    table = sa.Table(name, sa.MetaData(), schema=schema)
    inspector.reflect_table(table, None, resolve_fks=False)
    for column in table.c:
        if isinstance(column.type, sa.JSON):
            # a null (the sync's value for a JSON null too) is SQL NULL, not the document 'null'
            column.type.none_as_null = True
    return table


def is_generated(column: sa.Column[Any], dialect: Dialect) -> bool:
    """The database makes this column's value on insert (identity, serial, auto-increment)."""
    if column.identity is not None:
        return True
    default = column.server_default
    if default is not None and "nextval(" in str(getattr(default, "arg", "")):
        return True
    if dialect.name in ("mysql", "mariadb"):
        return column.autoincrement is True
    if dialect.name == "sqlite":
        table = column.table
        return (isinstance(column.type, sa.Integer) and column.primary_key
                and len(table.primary_key.columns) == 1)
    return False


def is_read_only(column: sa.Column[Any]) -> bool:
    """Identity, computed and rowversion columns: the database sets them."""
    return (column.identity is not None or column.computed is not None
            or types.is_rowversion(column.type))


def _hint(typed: str, names: Sequence[str], listing: str = "its columns") -> str:
    """`` (did you mean 'orders'?)`` where one of ``names`` is near what was typed, else the
    first of them (``names_hint``)."""
    return f" ({names_hint(typed, names, listing)})"


def pick_columns(table: sa.Table, info: SelectInfo) -> list[sa.Column[Any]]:
    """The table's columns the select keeps, in its order (all for ``*``)."""
    if info.columns is None:
        return list(table.c)
    out: list[sa.Column[Any]] = []
    by_fold = {c.name.casefold(): c for c in table.c}
    for name in info.columns:
        col = table.c.get(name.text)
        if col is None and not name.quoted:
            col = by_fold.get(name.text.casefold())
        if col is None:
            raise ConfigError(f"column {name.text!r} not found in table {table.name!r}"
                              f"{_hint(name.text, table.c.keys())}", key="select")
        out.append(col)
    return out


def resolve_keys(table: sa.Table, primary_key: Sequence[str]) -> list[str]:
    """The match-key column names as the table spells them (default: its primary key)."""
    if not primary_key:
        return [c.name for c in table.primary_key.columns]
    by_fold = {c.name.casefold(): c.name for c in table.c}
    out = []
    for key in primary_key:
        name = key if key in table.c else by_fold.get(key.casefold())
        if name is None:
            raise ConfigError(f"column {key!r} not found in table {table.name!r}"
                              f"{_hint(key, table.c.keys())}", key="primary_key")
        out.append(name)
    return out


def table_columns(table: sa.Table, chosen: Sequence[sa.Column[Any]], keys: Sequence[str], *,
                  sqlite: bool = False, strict: bool = False,
                  case_blind: Collection[str] = ()) -> list[Column]:
    """Describe reflected columns; ``sqlite``: the database is SQLite, which keeps decimals as
    doubles, datetimes as the text it is given, and any text in an INTEGER column unless the
    table is ``strict`` (or it is the table's rowid); ``case_blind``: the columns whose
    collation ignores case (``case_blind_columns``)."""
    rowid = rowid_alias(table) if sqlite else None
    out = []
    for col in chosen:
        kind = types.column_type(col.type)
        precision, scale = types.digits(col.type, kind)
        out.append(Column(
            name=col.name,
            type=kind,
            nullable=bool(col.nullable),
            read_only=is_read_only(col),
            key=col.name in keys,
            native_type=_native(col.type),
            max_length=getattr(col.type, "length", None) if isinstance(col.type, sa.String)
            else None,
            stored_as_double=sqlite and kind == ColumnType.DECIMAL,
            fraction_digits=types.fraction_digits(col.type, sqlite),
            precision=precision,
            scale=scale,
            single_float=not sqlite and types.is_single_float(col.type),
            blank_padded=not sqlite and isinstance(col.type, sa.CHAR | sa.NCHAR),
            keeps_text=sqlite and not strict and kind == ColumnType.INTEGER and col.name != rowid,
            ignores_case=kind == ColumnType.STRING and col.name in case_blind,
        ))
    return out


def case_blind_columns(conn: Connection, table: sa.Table) -> frozenset[str]:
    """The columns of a table whose collation compares texts in any case, as the catalog
    names them: MySQL/MariaDB's `_ci` collations (their defaults: `utf8mb4_general_ci`,
    `utf8mb4_0900_ai_ci`), SQL Server's `_CI_` ones (its usual `SQL_Latin1_General_CP1_CI_AS`).
    None on other databases (PostgreSQL and SQLite compare case unless told otherwise), nor
    where the catalog cannot be asked."""
    dialect = conn.dialect.name
    if dialect in ("mysql", "mariadb"):
        statement = sa.text(
            "SELECT COLUMN_NAME, COLLATION_NAME FROM information_schema.COLUMNS WHERE "
            "TABLE_SCHEMA = COALESCE(:schema, DATABASE()) AND TABLE_NAME = :name")
        params: dict[str, Any] = {"schema": table.schema, "name": table.name}
    elif dialect == "mssql":  # (untested: no SQL Server here)
        quote = conn.dialect.identifier_preparer.quote
        statement = sa.text("SELECT name, collation_name FROM sys.columns "
                            "WHERE object_id = OBJECT_ID(:name)")
        params = {"name": ".".join(quote(p) for p in (table.schema, table.name) if p)}
    else:
        return frozenset()
    try:
        rows = conn.execute(statement, params).all()
    except sa.exc.DBAPIError:
        rows = []
    conn.rollback()
    return frozenset(str(name) for name, collation in rows
                     if collation and "ci" in str(collation).lower().split("_"))


def rowid_alias(table: sa.Table) -> str | None:
    """A SQLite table's INTEGER PRIMARY KEY column (its rowid), the one column of a table not
    STRICT that refuses a value of another type; else None."""
    keys = list(table.primary_key.columns)
    if len(keys) == 1 and str(keys[0].type).upper() == "INTEGER":
        return str(keys[0].name)
    return None


def is_strict(conn: Connection, table: sa.Table) -> bool:
    """Whether a SQLite table is STRICT (each column refuses a value of another type); False
    where SQLite is older than STRICT tables (3.37) and cannot say."""
    quote = conn.dialect.identifier_preparer.quote
    schema = f"{quote(table.schema)}." if table.schema else ""
    try:
        rows = conn.exec_driver_sql(f"PRAGMA {schema}table_list({quote(table.name)})").fetchall()
    except sa.exc.DBAPIError:
        rows = []
    conn.rollback()
    return any(row[1] == table.name and row[5] for row in rows)


def _native(sql_type: Any) -> str:
    try:
        return str(sql_type)
    except Exception:  # noqa: BLE001  (some reflected types cannot render without a dialect)
        return type(sql_type).__name__


def unique_key_sets(inspector: Inspector, table: sa.Table) -> list[set[str]]:
    """Column sets with a primary key, unique constraint or unique index."""
    sets = [{c.name for c in table.primary_key.columns}]
    for uc in inspector.get_unique_constraints(table.name, schema=table.schema):
        sets.append(set(uc["column_names"]))
    for ix in inspector.get_indexes(table.name, schema=table.schema):
        if ix.get("unique"):
            sets.append({c for c in ix["column_names"] if c})
    return [s for s in sets if s]


def probe_statement(info: SelectInfo, dialect: Dialect) -> sa.TextClause:
    """A statement reading at most one row of a query, to learn its columns."""
    if info.kind == "procedure" or (dialect.name == "mssql" and info.text[:4].lower() == "with"):
        return user_text(info.text)
    if dialect.name == "mssql":
        return user_text(f"SELECT TOP 1 * FROM ({info.text}) AS l2tui_probe")
    return user_text(f"SELECT * FROM ({info.text}) AS l2tui_probe LIMIT 1")


_PG_TYPES = {
    "uuid": ColumnType.GUID, "int2": ColumnType.INTEGER, "int4": ColumnType.INTEGER,
    "int8": ColumnType.INTEGER, "numeric": ColumnType.DECIMAL, "float4": ColumnType.FLOAT,
    "float8": ColumnType.FLOAT, "bool": ColumnType.BOOLEAN, "text": ColumnType.STRING,
    "varchar": ColumnType.STRING, "bpchar": ColumnType.STRING, "name": ColumnType.STRING,
    "timestamp": ColumnType.DATETIME, "timestamptz": ColumnType.DATETIME,
    "date": ColumnType.DATE, "bytea": ColumnType.BINARY,
}


def described_type(type_code: Any, sample: Any) -> tuple[ColumnType, str]:
    """A column's logical type from a cursor description (or, failing that, a sample value)."""
    if isinstance(type_code, type):
        return types.python_type_of(type_code), type_code.__name__
    if isinstance(type_code, int):
        try:
            import psycopg

            info = psycopg.adapters.types.get(type_code)
            if info is not None:
                return _PG_TYPES.get(info.name, ColumnType.OTHER), info.name
        except ImportError:
            pass
    if sample is not None:
        return types.python_type_of(type(sample)), type(sample).__name__
    return ColumnType.OTHER, ""


def query_columns(description: Sequence[Any], first: Sequence[Any] | None,
                  keys: Sequence[str], dialect: Dialect) -> list[Column]:
    """Describe a read-only query's result from its cursor description."""
    out = []
    for i, desc in enumerate(description):
        sample = first[i] if first is not None else None
        code = desc[1] if dialect.name != "mysql" else None
        kind, native = described_type(code, sample)
        name = desc[0]
        fraction = described_fraction(code, desc) if kind == ColumnType.DATETIME else 0
        out.append(Column(name=name, type=kind, nullable=True, read_only=True,
                          key=name in keys, native_type=native, fraction_digits=fraction))
    return out


def described_fraction(type_code: Any, description: Sequence[Any]) -> int:
    """The digits of a second a query's datetime column holds, where its driver says them:
    psycopg (whose type code is PostgreSQL's OID) gives a timestamp's precision (None unsaid:
    6); the other drivers' descriptions do not tell, and it is whole seconds."""
    if not isinstance(type_code, int):
        return 0
    precision = description[4]
    return MICROSECONDS if precision is None else min(precision, MICROSECONDS)
