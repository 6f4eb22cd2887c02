"""Batched, idempotent write statements: upsert, update, insert returning keys, delete by key.

PostgreSQL and SQLite use ``INSERT … ON CONFLICT``, MySQL/MariaDB ``ON DUPLICATE KEY UPDATE``,
SQL Server a ``MERGE … WITH (HOLDLOCK)`` text statement with one ``VALUES`` row per item (at most
``MSSQL_MAX_PARAMS`` bound values per statement). When the key has no unique index, an upsert is
an UPDATE followed by an INSERT … WHERE NOT EXISTS. Identifiers are quoted by the dialect and
values are always bound parameters.
"""

from __future__ import annotations

import importlib
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Dialect

from l2tui.providers.sql.dialects import quote

MSSQL_MAX_PARAMS = 2000  # SQL Server allows 2100 parameters per statement; keep a margin
Row = dict[str, Any]


@dataclass(frozen=True)
class WriteTarget:
    """A table as writes see it: its key columns and how the database treats them."""

    table: sa.Table
    keys: tuple[str, ...]
    unique: bool = True  # a primary key or unique index on exactly these columns
    generated: bool = False  # the database makes the key (identity / autoincrement)
    update_only: bool = False  # the key cannot be written (identity): updates never insert
    # the select leaves rows out (WHERE, a row limit): a row it does not show may still be there,
    # so a create is a plain INSERT, which fails on such a row instead of writing over it
    partial: bool = False
    # MySQL/MariaDB: a unique index on other columns than the key, through which an INSERT … ON
    # DUPLICATE KEY UPDATE would write over another row (one SQL alone holds, sharing a value
    # of that index with the new item): a create is a plain INSERT, which fails on it instead
    other_unique: bool = False


class MissingRows(Exception):
    """An UPDATE by key found fewer rows than it was given."""


def rows_per_statement(dialect: Dialect, columns: int) -> int:
    """How many rows one statement may carry: SQL Server's parameter limit, else no limit."""
    if dialect.name == "mssql":
        return max(1, MSSQL_MAX_PARAMS // max(1, columns))
    return 1_000_000


def upsert_statement(target: WriteTarget, columns: Sequence[str], dialect: Dialect,
                     rows: int = 1) -> sa.Executable:
    """The upsert for rows holding the key and ``columns`` (non-key columns to set)."""
    table, keys = target.table, list(target.keys)
    name = dialect.name
    if name == "mssql":
        return merge_statement(target, columns, dialect, rows)
    # a dialect's module is loaded when its statement is first made, not by every run
    if name in ("postgresql", "sqlite"):
        dialects = importlib.import_module(f"sqlalchemy.dialects.{name}")
        stmt = dialects.insert(table)
        if not columns:
            return stmt.on_conflict_do_nothing(index_elements=keys)
        return stmt.on_conflict_do_update(
            index_elements=keys, set_={c: stmt.excluded[c] for c in columns})
    if name in ("mysql", "mariadb"):
        from sqlalchemy.dialects import mysql

        my = mysql.insert(table)
        chosen = list(columns) or keys[:1]
        return my.on_duplicate_key_update({c: my.inserted[c] for c in chosen})
    raise NotImplementedError(f"no upsert for {name}")


def merge_statement(target: WriteTarget, columns: Sequence[str], dialect: Dialect,
                    rows: int) -> sa.TextClause:
    """SQL Server ``MERGE … WITH (HOLDLOCK)`` for ``rows`` rows; binds are ``r<row>c<col>``."""
    table = target.table
    all_cols = [*target.keys, *columns]
    q = [quote(dialect, c) for c in all_cols]
    values = ", ".join(
        "(" + ", ".join(f":r{r}c{c}" for c in range(len(all_cols))) + ")" for r in range(rows)
    )
    on = " AND ".join(f"tgt.{quote(dialect, k)} = src.{quote(dialect, k)}" for k in target.keys)
    sql = (
        f"MERGE INTO {_table_name(dialect, table)} WITH (HOLDLOCK) AS tgt "
        f"USING (VALUES {values}) AS src ({', '.join(q)}) ON {on}"
    )
    if columns:
        sets = ", ".join(f"{quote(dialect, c)} = src.{quote(dialect, c)}" for c in columns)
        sql += f" WHEN MATCHED THEN UPDATE SET {sets}"
    sql += (
        f" WHEN NOT MATCHED THEN INSERT ({', '.join(q)}) "
        f"VALUES ({', '.join('src.' + c for c in q)});"
    )
    binds = [
        sa.bindparam(f"r{r}c{c}", type_=table.c[name].type)
        for r in range(rows) for c, name in enumerate(all_cols)
    ]
    return sa.text(sql).bindparams(*binds)


def merge_params(target: WriteTarget, columns: Sequence[str], rows: Sequence[Row]) -> Row:
    """Bind values for ``merge_statement``."""
    all_cols = [*target.keys, *columns]
    return {f"r{r}c{c}": row.get(name) for r, row in enumerate(rows)
            for c, name in enumerate(all_cols)}


def _table_name(dialect: Dialect, table: sa.Table) -> str:
    return dialect.identifier_preparer.format_table(table)


def key_where(target: WriteTarget) -> sa.ColumnElement[bool]:
    """``k1 = :_k0 AND k2 = :_k1`` for executemany by key."""
    table = target.table
    return sa.and_(*(
        table.c[k] == sa.bindparam(f"_k{i}", type_=table.c[k].type)
        for i, k in enumerate(target.keys)
    ))


def key_params(target: WriteTarget, row: Row) -> Row:
    """The ``_k<i>`` binds of a row's key."""
    return {f"_k{i}": row[k] for i, k in enumerate(target.keys)}


def update_statement(target: WriteTarget, columns: Sequence[str]) -> sa.Update:
    """``UPDATE t SET c = :_v0 … WHERE key``: bind names never clash with column names."""
    table = target.table
    values = {c: sa.bindparam(f"_v{i}", type_=table.c[c].type) for i, c in enumerate(columns)}
    return sa.update(table).where(key_where(target)).values(values)


def holder_statement(target: WriteTarget, column: str) -> sa.Select[Any]:
    """``SELECT key FROM t WHERE column = :_v LIMIT 1``: a row holding a value."""
    table = target.table
    return sa.select(*(table.c[k] for k in target.keys)).where(
        table.c[column] == sa.bindparam("_v", type_=table.c[column].type)).limit(1)


def update_params(target: WriteTarget, columns: Sequence[str], row: Row) -> Row:
    """Binds for ``update_statement``."""
    params = key_params(target, row)
    params.update({f"_v{i}": row.get(c) for i, c in enumerate(columns)})
    return params


def delete_statement(target: WriteTarget) -> sa.Delete:
    """Delete by key: ``IN (…)`` for a one-column key, else ``k1 = … AND k2 = …`` per row."""
    table = target.table
    if len(target.keys) == 1:
        col = table.c[target.keys[0]]
        return sa.delete(table).where(col.in_(sa.bindparam("_keys", expanding=True)))
    return sa.delete(table).where(key_where(target))


def upsert(conn: Connection, target: WriteTarget, columns: Sequence[str],
           rows: Sequence[Row]) -> None:
    """Insert or update rows (key + ``columns``) in as few round trips as the database allows."""
    dialect = conn.dialect
    if not rows:
        return
    if target.update_only:
        update(conn, target, columns, rows)
        return
    if not target.unique and dialect.name != "mssql":
        _upsert_without_index(conn, target, columns, rows)
        return
    if dialect.name == "mssql":
        step = rows_per_statement(dialect, len(target.keys) + len(columns))
        for start in range(0, len(rows), step):
            chunk = rows[start:start + step]
            conn.execute(merge_statement(target, columns, dialect, len(chunk)),
                         merge_params(target, columns, chunk))
        return
    conn.execute(upsert_statement(target, columns, dialect), list(rows))


def update(conn: Connection, target: WriteTarget, columns: Sequence[str],
           rows: Sequence[Row]) -> None:
    """UPDATE by key; rows that are not there are inserted (MissingRows when the key is an identity).

    Used for SQL Server and keys without a unique index; ``fast`` serves the other databases.

    An update carries only changed columns, so it never goes through INSERT … ON CONFLICT (whose
    proposed row would break NOT NULL columns it does not carry).
    """
    if not columns or not rows:
        return
    stmt = update_statement(target, columns)
    result = conn.execute(stmt, [update_params(target, columns, r) for r in rows])
    if result.rowcount < 0 or result.rowcount >= len(rows):
        return
    if target.update_only:  # the writer retries each item alone to name the missing ones
        raise MissingRows(f"{len(rows) - result.rowcount} of {len(rows)} rows not found")
    upsert(conn, target, columns, rows)  # inserts the missing rows, sets the others again


def _upsert_without_index(conn: Connection, target: WriteTarget, columns: Sequence[str],
                          rows: Sequence[Row]) -> None:
    """UPDATE existing rows, then INSERT … WHERE NOT EXISTS the rest (no unique index needed)."""
    table = target.table
    if columns:
        conn.execute(update_statement(target, columns),
                     [update_params(target, columns, r) for r in rows])
    names = [*target.keys, *columns]
    values = [sa.bindparam(f"_v{i}", type_=table.c[c].type) for i, c in enumerate(names)]
    exists = sa.exists().where(key_where(target))
    stmt = sa.insert(table).from_select(names, sa.select(*values).where(~exists))
    params = []
    for row in rows:
        p = key_params(target, row)
        p.update({f"_v{i}": row.get(c) for i, c in enumerate(names)})
        params.append(p)
    conn.execute(stmt, params)


def insert(conn: Connection, target: WriteTarget, columns: Sequence[str],
           rows: Sequence[Row]) -> None:
    """INSERT rows with their key: a key already in the table fails the statement."""
    names = [*target.keys, *columns]
    conn.execute(sa.insert(target.table), [{c: r.get(c) for c in names} for r in rows])


def insert_returning_keys(conn: Connection, target: WriteTarget, columns: Sequence[str],
                          rows: Sequence[Row]) -> list[Row]:
    """INSERT rows without their key and return the keys the database made, in order."""
    table = target.table
    dialect = conn.dialect
    keys = [table.c[k] for k in target.keys]
    if not columns:
        stmt = sa.insert(table)
        return [_key_of(target, conn.execute(stmt).inserted_primary_key) for _ in rows]
    if dialect.insert_executemany_returning_sort_by_parameter_order and len(rows) > 1:
        stmt = sa.insert(table).returning(*keys, sort_by_parameter_order=True)
        result = conn.execute(stmt, [{c: r.get(c) for c in columns} for r in rows])
        return [dict(zip(target.keys, row, strict=True)) for row in result]
    out: list[Row] = []
    for row in rows:
        if dialect.insert_returning:
            stmt = sa.insert(table).returning(*keys)
            got = conn.execute(stmt, {c: row.get(c) for c in columns}).one()
            out.append(dict(zip(target.keys, got, strict=True)))
        else:
            result = conn.execute(sa.insert(table), {c: row.get(c) for c in columns})
            out.append(_key_of(target, result.inserted_primary_key))
    return out


def _key_of(target: WriteTarget, inserted: Any) -> Row:
    pk = dict(inserted._mapping) if inserted is not None else {}
    return {k: pk.get(k) for k in target.keys}


def delete(conn: Connection, target: WriteTarget, keys: Sequence[Row]) -> None:
    """Delete rows by key (missing rows are fine: deletes are idempotent)."""
    if not keys:
        return
    stmt = delete_statement(target)
    if len(target.keys) == 1:
        name = target.keys[0]
        step = rows_per_statement(conn.dialect, 1)
        values = [k[name] for k in keys]
        for start in range(0, len(values), step):
            conn.execute(stmt, {"_keys": values[start:start + step]})
        return
    conn.execute(stmt, [key_params(target, k) for k in keys])
