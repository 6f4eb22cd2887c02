"""Upsert throughput of SqlProvider.write against the driver's fastest plain insert.

SQLite always; PostgreSQL when L2TUI_TEST_PG_URL is set (a database is created and dropped).
The floor is the same rows inserted into an empty table with the fastest plain method:
``executemany`` INSERT for SQLite, ``COPY`` for PostgreSQL. Run:
``python bench/bench_sql_upsert.py [rows]``.
"""

from __future__ import annotations

import os
import sys
import tempfile
import time
import uuid
from decimal import Decimal
from pathlib import Path

import sqlalchemy as sa

from l2tui.config.model import Entity
from l2tui.providers.base import Change, ChangeOp, ProviderContext
from l2tui.providers.sql import SqlProvider

DDL = ("CREATE TABLE {name} (id INTEGER PRIMARY KEY, name VARCHAR(100) NOT NULL, "
       "city VARCHAR(100), revenue NUMERIC(18, 2))")


def rows(n: int) -> list[tuple[int, str, str, Decimal]]:
    """Deterministic rows."""
    return [(i, f"name {i}", f"city {i % 97}", Decimal(i) / 100) for i in range(n)]


def changes(data: list[tuple[int, str, str, Decimal]]) -> list[Change]:
    """Creates carrying whole rows."""
    return [Change(ChangeOp.CREATE, {"id": r[0]}, {"name": r[1], "city": r[2], "revenue": r[3]})
            for r in data]


def timed(label: str, n: int, fn: object) -> float:
    """Run fn, print rows/s, return seconds."""
    start = time.perf_counter()
    fn()  # type: ignore[operator]
    seconds = time.perf_counter() - start
    print(f"  {label:<38} {n / seconds:>10,.0f} rows/s  ({seconds:.2f} s)")
    return seconds


def bench(provider_name: str, connection_string: str, engine: sa.Engine, floor: object,
          n: int) -> None:
    """Floor vs first upsert (all inserts) vs second upsert (all conflicts → updates)."""
    data = rows(n)
    with engine.begin() as conn:
        conn.exec_driver_sql(DDL.format(name="floor_t"))
        conn.exec_driver_sql(DDL.format(name="upsert_t"))
    base = timed("floor (plain insert, empty table)", n, lambda: floor(engine, data))  # type: ignore[operator]
    provider = SqlProvider(Entity(provider=provider_name, connection_string=connection_string,
                                  select="upsert_t"), ProviderContext())
    provider.describe()
    work = changes(data)

    def write() -> None:
        outcomes = provider.write(work)
        assert all(o.ok for o in outcomes), next(o.error for o in outcomes if not o.ok)

    first = timed("upsert into empty table", n, write)
    second = timed("upsert again (every row conflicts)", n, write)
    provider.close()
    print(f"  ratio upsert/floor: {first / base:.2f}x (insert), {second / base:.2f}x (update)")


def sqlite_floor(engine: sa.Engine, data: list[tuple[int, str, str, Decimal]]) -> None:
    """executemany INSERT through the sqlite3 module."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        cur.executemany("INSERT INTO floor_t VALUES (?, ?, ?, ?)",
                        [(i, a, b, str(c)) for i, a, b, c in data])
        raw.commit()
    finally:
        raw.close()


def pg_floor(engine: sa.Engine, data: list[tuple[int, str, str, Decimal]]) -> None:
    """COPY through psycopg."""
    raw = engine.raw_connection()
    try:
        cur = raw.cursor()
        with cur.copy("COPY floor_t (id, name, city, revenue) FROM STDIN") as copy:  # type: ignore[attr-defined]
            for row in data:
                copy.write_row(row)
        raw.commit()
    finally:
        raw.close()


def main() -> None:
    """Run the SQLite and (if configured) PostgreSQL benchmarks."""
    n = int(sys.argv[1]) if len(sys.argv) > 1 else 50_000
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "bench.db"
        engine = sa.create_engine(f"sqlite:///{path}")
        print(f"SQLite ({n:,} rows)")
        bench("sqlite", f"Data Source={path}", engine, sqlite_floor, n)
        engine.dispose()
    url = os.environ.get("L2TUI_TEST_PG_URL")
    if not url:
        print("PostgreSQL: skipped (set L2TUI_TEST_PG_URL)")
        return
    name = f"l2tui_bench_{uuid.uuid4().hex[:8]}"
    admin = sa.create_engine(url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    try:
        db_url = sa.make_url(url).set(database=name)
        engine = sa.create_engine(db_url)
        print(f"PostgreSQL ({n:,} rows)")
        bench("postgresql", db_url.render_as_string(hide_password=False), engine, pg_floor, n)
        engine.dispose()
    finally:
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


if __name__ == "__main__":
    main()
