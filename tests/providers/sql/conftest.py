"""Throwaway databases for the SQL provider tests: SQLite files, PostgreSQL, MariaDB if given."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
import sqlalchemy as sa

from l2tui.config.model import Entity
from l2tui.providers.base import ProviderContext
from l2tui.providers.sql import SqlProvider


@dataclass
class Database:
    """A fresh, empty database: its provider name, a connection string and an engine for setup."""

    provider: str
    connection_string: str
    engine: sa.Engine

    def open(self, select: str, primary_key: list[str] | None = None,
             **options: object) -> SqlProvider:
        """A provider for a table or statement in this database."""
        entity = Entity(provider=self.provider, connection_string=self.connection_string,
                        select=select, primary_key=primary_key or [])
        return SqlProvider(entity, ProviderContext(options=dict(options)))

    def run(self, *statements: str) -> None:
        """Run setup SQL."""
        with self.engine.begin() as conn:
            for statement in statements:
                conn.exec_driver_sql(statement)

    def rows(self, sql: str) -> list[tuple[object, ...]]:
        """Rows of a query, as tuples."""
        with self.engine.connect() as conn:
            return [tuple(r) for r in conn.exec_driver_sql(sql)]

    def q(self, name: str) -> str:
        """An identifier quoted for this database."""
        return self.engine.dialect.identifier_preparer.quote_identifier(name)


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Iterator[Database]:
    """An empty SQLite file."""
    path = tmp_path / "test.db"
    engine = sa.create_engine(f"sqlite:///{path}")
    with engine.begin() as conn:
        conn.exec_driver_sql("CREATE TABLE l2tui_touch (x INTEGER)")
        conn.exec_driver_sql("DROP TABLE l2tui_touch")
    yield Database("sqlite", f"Data Source={path}", engine)
    engine.dispose()


@pytest.fixture
def pg_db(pg_url: str) -> Iterator[Database]:
    """A fresh PostgreSQL database, dropped after the test."""
    name = f"l2tui_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f'CREATE DATABASE "{name}"')
    url = sa.make_url(pg_url).set(database=name)
    engine = sa.create_engine(url)
    try:
        yield Database("postgresql", url.render_as_string(hide_password=False), engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        admin.dispose()


@pytest.fixture
def mysql_db() -> Iterator[Database]:
    """A fresh MySQL/MariaDB database when L2TUI_TEST_MYSQL_URL is set."""
    base = os.environ.get("L2TUI_TEST_MYSQL_URL")
    if not base:
        pytest.skip("no MySQL/MariaDB: set L2TUI_TEST_MYSQL_URL")
    name = f"l2tui_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(base, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.exec_driver_sql(f"CREATE DATABASE `{name}` CHARACTER SET utf8mb4")
    url = sa.make_url(base).set(database=name)
    engine = sa.create_engine(url)
    try:
        yield Database("mysql", url.render_as_string(hide_password=False), engine)
    finally:
        engine.dispose()
        with admin.connect() as conn:
            conn.exec_driver_sql(f"DROP DATABASE IF EXISTS `{name}`")
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql", "mysql"])
def db(request: pytest.FixtureRequest) -> Database:
    """Each database in turn (PostgreSQL and MySQL skip when not available)."""
    fixture = {"sqlite": "sqlite_db", "postgresql": "pg_db", "mysql": "mysql_db"}[request.param]
    return request.getfixturevalue(fixture)


@pytest.fixture
def make_accounts(db: Database) -> Callable[..., sa.Table]:
    """Create an ``accounts`` table (id key, name NOT NULL, city, revenue) in ``db``."""

    def make(name: str = "accounts", rows: int = 0) -> sa.Table:
        meta = sa.MetaData()
        table = sa.Table(
            name, meta,
            sa.Column("id", sa.Integer, primary_key=True, autoincrement=False),
            sa.Column("name", sa.String(200), nullable=False),
            sa.Column("city", sa.String(100)),
            sa.Column("revenue", sa.Numeric(18, 2)),
        )
        meta.create_all(db.engine)
        if rows:
            with db.engine.begin() as conn:
                conn.execute(table.insert(), [
                    {"id": i, "name": f"n{i}", "city": f"c{i}", "revenue": i} for i in range(rows)
                ])
        return table

    return make
