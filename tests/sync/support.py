"""Helpers for the sync tests: a connection between the emulator and a SQL table, and readers."""

from __future__ import annotations

import sqlite3
import uuid
from collections.abc import Callable
from contextlib import closing
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import sqlalchemy as sa

from l2tui.config.model import (
    ColumnPair,
    ConflictResolution,
    Connection,
    Deletions,
    Direction,
    Entity,
    Mapping,
)
from l2tui.config.store import ConnectionStore
from l2tui.paths import Paths, resolve_paths
from l2tui.providers.base import ColumnType
from l2tui.providers.sql.types import sqlite_decimal
from l2tui.runner import Runner
from l2tui.sync.events import Event, RunReport
from l2tui.sync.normalize import normalize

FIELDS = ("name", "accountnumber", "revenue", "numberofemployees", "creditonhold")
KINDS = (ColumnType.STRING, ColumnType.STRING, ColumnType.DECIMAL, ColumnType.DECIMAL,
         ColumnType.BOOLEAN)
LEFT_SELECT = "$select=" + ",".join(("accountid", *FIELDS, "modifiedon"))


def canon(values: dict[str, Any]) -> tuple[Any, ...]:
    """Mapped values, normalised as the engine compares them: a float as the number its
    shortest text spells (the emulator's JSON, a SQLite REAL), every digit of a decimal."""
    return tuple(normalize(sqlite_decimal(values.get(f)), k)
                 for f, k in zip(FIELDS, KINDS, strict=True))


def sql_table(engine: sa.Engine, name: str) -> sa.Table:
    """Create the right-hand table: the mapped columns, plus a modified-on of its own."""
    meta = sa.MetaData()
    table = sa.Table(
        name, meta,
        sa.Column("accountid", sa.String(36), primary_key=True),
        sa.Column("name", sa.String(160)),
        sa.Column("accountnumber", sa.String(20)),
        sa.Column("revenue", sa.Numeric(38, 10)),
        sa.Column("numberofemployees", sa.BigInteger),
        sa.Column("creditonhold", sa.Boolean),
        sa.Column("changed_at", sa.DateTime),
    )
    meta.drop_all(engine, [table])
    meta.create_all(engine, [table])
    return table


@dataclass
class Pair:
    """The emulator (left) and a SQL table (right), a connection between them, and a runner."""

    emu: Any
    engine: sa.Engine
    table: sa.Table
    conn: Connection
    paths: Paths
    events: list[Event] = field(default_factory=list)

    def run(self, **kwargs: Any) -> RunReport:
        """One run through the real runner and providers."""
        return Runner(self.paths).run(self.conn, sink=self.events.append, **kwargs)

    def save(self) -> str:
        """Save the connection file; the name the command line knows it by."""
        ConnectionStore(self.paths.connections).save(self.conn)
        return self.conn.slug

    def synced_then_emptied(self, run: Callable[..., Any]) -> str:
        """Saved (deletion guard at 20 %), run once by ``run`` (the command line), then every
        source row deleted; the connection's name."""
        self.conn.max_delete_ratio = 0.2
        name = self.save()
        assert run("run", name).returncode == 0
        for key in list(self.left()):
            self.left_delete(key)
        return name

    # -- the left (Dataverse) ------------------------------------------------------------

    def left(self) -> dict[str, tuple[Any, ...]]:
        """Left items by id."""
        return {r["accountid"]: canon(r) for r in self.emu.store.rows("accounts")}

    def left_active(self) -> dict[str, tuple[Any, ...]]:
        """Left items by id, of the active accounts (``statecode eq 0``) alone."""
        return {r["accountid"]: canon(r) for r in self.emu.store.rows("accounts")
                if r["statecode"] == 0}

    def left_insert(self, values: dict[str, Any]) -> str:
        """Create an account as another Dynamics user would."""
        return str(self.emu.store.insert("accounts", values))

    def left_update(self, key: str, values: dict[str, Any]) -> None:
        """Edit an account."""
        self.emu.store.update("accounts", key, values)

    def left_delete(self, key: str) -> None:
        """Delete an account."""
        self.emu.store.delete("accounts", key)

    # -- the right (SQL) -----------------------------------------------------------------

    def right(self) -> dict[str, tuple[Any, ...]]:
        """Right rows by accountid."""
        numbers = [c for c in self.table.c if isinstance(c.type, sa.Numeric)] \
            if self.engine.dialect.name == "sqlite" else []
        # SQLite's numbers as stored, not as SQLAlchemy renders them at the column's scale
        raw = sa.select(*(sa.type_coerce(c, sa.types.NullType()).label(c.name) if c in numbers
                          else c for c in self.table.c))
        with self.engine.connect() as c:
            rows = c.execute(raw).mappings().all()
        return {r["accountid"]: canon(dict(r)) for r in rows}

    def right_count(self) -> int:
        """Rows in the right table."""
        with self.engine.connect() as c:
            return int(c.execute(sa.select(sa.func.count()).select_from(self.table)).scalar_one())

    def right_insert(self, values: dict[str, Any], key: str | None = None) -> str:
        """Insert a row as a SQL user would."""
        key = key or str(uuid.uuid4())
        with self.engine.begin() as c:
            c.execute(self.table.insert().values(accountid=key, **values))
        return key

    def right_update(self, key: str, values: dict[str, Any]) -> None:
        """Edit a row."""
        with self.engine.begin() as c:
            c.execute(self.table.update().where(self.table.c.accountid == key).values(**values))

    def right_delete(self, key: str) -> None:
        """Delete a row."""
        with self.engine.begin() as c:
            c.execute(self.table.delete().where(self.table.c.accountid == key))


def sqlite_url(path: Any) -> str:
    """A SQLAlchemy URL of a SQLite file."""
    return f"sqlite:///{path}"


def make_pair(emu: Any, url: str, table: str, *, direction: Direction = Direction.LEFT_TO_RIGHT,
              resolution: ConflictResolution = ConflictResolution.LEFT_WINS,
              deletions: Deletions = Deletions.PROPAGATE, max_delete_ratio: float = 1.0,
              left_select: str = LEFT_SELECT, title: str = "Test accounts") -> Pair:
    """A connection from the emulator's accounts to a fresh SQL table."""
    engine = sa.create_engine(url)
    tab = sql_table(engine, table)
    if url.startswith("sqlite"):
        provider, connection_string = "sqlite", f"Data Source={engine.url.database};"
    elif url.startswith("mysql"):
        provider, connection_string = "mysql", url
    else:
        provider, connection_string = "postgresql", url
    conn = Connection(
        title=title,
        entity1=Entity(title="Dynamics accounts", provider="odata",
                       connection_string=emu.connection_string("accounts"), select=left_select),
        entity2=Entity(title="SQL accounts", provider=provider,
                       connection_string=connection_string, select=table,
                       primary_key=["accountid"], modified_column="changed_at"),
        direction=direction, conflict_resolution=resolution, deletions=deletions,
        max_delete_ratio=max_delete_ratio,
        mapping=Mapping(auto=True, columns=[], match_key=None),
    )
    return Pair(emu, engine, tab, conn, resolve_paths())


def manual_mapping(pair: Pair, pairs: list[tuple[str, str]]) -> None:
    """Switch a connection to manual pairs."""
    pair.conn.mapping = Mapping(auto=False, columns=[ColumnPair(a, b) for a, b in pairs])


@dataclass
class IntoDataverse:
    """SQL rows with a key of their own (id) carried into Dataverse, matched by account number:
    accountid is not mapped, so each create's GUID is made by the OData writer."""

    emu: Any
    engine: sa.Engine
    conn: Connection
    paths: Paths

    def pairs(self) -> int:
        """The pairs the state holds (0 before the state exists)."""
        path = self.paths.state_db(self.conn.slug)
        if not path.exists():
            return 0
        with closing(sqlite3.connect(path)) as db:
            return int(db.execute("SELECT COUNT(*) FROM items").fetchone()[0])

    def left(self) -> list[tuple[str, str, Decimal]]:
        """Dataverse accounts as (account number, name, revenue)."""
        return sorted((r["accountnumber"], r["name"], Decimal(str(r["revenue"])))
                      for r in self.emu.store.rows("accounts"))

    def right(self) -> list[tuple[str, str, Decimal]]:
        """SQL rows as (account number, name, revenue)."""
        with self.engine.connect() as c:
            rows = c.execute(sa.text("SELECT acctno, name, revenue FROM accts")).all()
        return sorted((a, n, Decimal(str(r))) for a, n, r in rows)


def make_into_dataverse(emu: Any, path: Any, rows: int) -> IntoDataverse:
    """A SQLite table ``accts`` (id, acctno, name, revenue) of ``rows`` rows and a saved
    right-to-left connection into the emulator's accounts, matched by account number."""
    engine = sa.create_engine(sqlite_url(path))
    with engine.begin() as c:
        c.execute(sa.text("CREATE TABLE accts (id INTEGER PRIMARY KEY AUTOINCREMENT, "
                          "acctno VARCHAR(20) NOT NULL, name VARCHAR(160), revenue NUMERIC)"))
        c.execute(sa.text("INSERT INTO accts (acctno, name, revenue) VALUES (:a, :n, :r)"),
                  [{"a": f"AC-{i:06}", "n": f"SQL account {i}", "r": i} for i in range(rows)])
    conn = Connection(
        title="Crash creates",
        entity1=Entity(title="Dynamics accounts", provider="odata",
                       connection_string=emu.connection_string("accounts"),
                       select="$select=accountid,accountnumber,name,revenue"),
        entity2=Entity(title="SQL accounts", provider="sqlite",
                       connection_string=f"Data Source={path};", select="accts",
                       primary_key=["id"]),
        direction=Direction.RIGHT_TO_LEFT,
        mapping=Mapping(auto=False, columns=[ColumnPair("name", "name"),
                                             ColumnPair("revenue", "revenue")],
                        match_key=ColumnPair("accountnumber", "acctno")),
    )
    paths = resolve_paths()
    ConnectionStore(paths.connections).save(conn)
    return IntoDataverse(emu, engine, conn, paths)
