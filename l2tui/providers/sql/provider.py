"""SqlProvider: SQL Server, PostgreSQL, MySQL/MariaDB and SQLite behind the provider interface."""

from __future__ import annotations

import contextlib
import hashlib
import marshal
import os
import pickle
import sqlite3
import tempfile
from collections.abc import Callable, Collection, Generator, Iterator, Sequence
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine
from sqlalchemy.exc import NoSuchTableError, SQLAlchemyError

from l2tui.config.files import create_private
from l2tui.config.specs import SelectError, find_spec
from l2tui.config.specs.sql_select import SelectInfo, parse_select
from l2tui.errors import ConfigError, ConnectError, L2Error
from l2tui.providers.base import (
    CONVERSION_ERRORS,
    Capabilities,
    Change,
    Column,
    ColumnType,
    Page,
    Provider,
    ProviderContext,
    ReadStream,
    Record,
    RecordTransform,
    RowBatch,
    SeenFilter,
    Unreadable,
    VerifyResult,
    WriteOutcome,
)
from l2tui.providers.sql import busy, ddl, select, types
from l2tui.providers.sql.connstr import Target, build_target, is_microsoft_driver
from l2tui.providers.sql.errors import one_line
from l2tui.providers.sql.upsert import WriteTarget, rows_per_statement
from l2tui.providers.sql.writer import Writer

DEFAULT_BATCH = 5000
# SQLite commits are the cost of a batch (a file sync each); its statements are cheap.
SQLITE_BATCH = 10_000
MSSQL_BATCH = 1000
DEFAULT_PAGE = 1000
SHOWN_REPEATED = 5  # how many of the key values that rows share verify names
# Types whose values drivers return as plain Python values (no uuid.UUID / memoryview).
PLAIN_TYPES = frozenset({ColumnType.STRING, ColumnType.INTEGER, ColumnType.DECIMAL,
                         ColumnType.FLOAT, ColumnType.BOOLEAN, ColumnType.DATETIME,
                         ColumnType.DATE})


def _in_statement(exc: SQLAlchemyError) -> bool:
    """A SQLite error in the statement itself (SQLITE_ERROR: a syntax error, an ambiguous
    column), which SQLite raises as an OperationalError as it does a locked, read-only or
    unreadable file (codes of their own)."""
    orig = getattr(exc, "orig", None)
    return isinstance(orig, sqlite3.Error) and \
        (getattr(orig, "sqlite_errorcode", None) or 0) & 0xFF == 1  # SQLITE_ERROR


class SqlProvider(Provider):
    """A table or query in a SQL database, reached through SQLAlchemy Core."""

    name = "sql"

    def __init__(self, entity: Any, context: ProviderContext) -> None:
        super().__init__(entity, context)
        self._target: Target | None = None
        self._secret: str | None = None
        self._engine: Engine | None = None
        self._info: SelectInfo | None = None
        self._table: sa.Table | None = None
        self._columns: list[Column] | None = None
        self._write: WriteTarget | None = None
        self._unique: list[set[str]] = []  # the table's column sets a unique index keeps unique
        self._writer: Writer | None = None  # statement texts and column checks, made once

    # -- configuration -------------------------------------------------------------------

    @property
    def info(self) -> SelectInfo:
        """The parsed select statement (ConfigError when it is not one we run)."""
        if self._info is None:
            try:
                self._info = parse_select(self.entity.select)
            except SelectError as exc:
                raise ConfigError(str(exc), key="select") from None
        return self._info

    @property
    def target(self) -> Target:
        """Where and how to connect, built from the connection string and the secret."""
        if self._target is None:
            # a SQLite file takes no password: do not ask the keyring (loading its backends
            # costs ~0.2 s) or prompt for one
            needs_secret = _backend(self.entity.provider) != "sqlite"
            self._secret = self.context.secret() if needs_secret else None
            self._target = build_target(self.entity.provider, self.entity.connection_string,
                                        self._secret)
        return self._target

    def engine(self, create: bool = False) -> Engine:
        """The SQLAlchemy engine (made once); a missing SQLite file is an error unless creating."""
        target = self.target
        if target.provider == "sqlite" and target.server != ":memory:" and not create \
                and not os.path.exists(target.server):
            raise ConnectError(f"no SQLite database file at {target.server}")
        if self._engine is None:
            kwargs: dict[str, Any] = {"connect_args": self._connect_args()}
            if target.provider == "sqlserver" and is_microsoft_driver(target.driver):
                kwargs["fast_executemany"] = True
            try:
                self._engine = sa.create_engine(target.url, **kwargs)
            except (SQLAlchemyError, ImportError) as exc:
                raise ConnectError(f"cannot use {target.title} driver {target.driver}: "
                                   f"{one_line(exc, self._secret)}") from None
            if target.provider == "mysql":
                sa.event.listen(self._engine, "connect", utc_session)
                sa.event.listen(self._engine, "connect", strict_session)
            elif target.provider == "postgresql":
                sa.event.listen(self._engine, "connect", utc_postgresql_session)
                sa.event.listen(self._engine, "connect", infinite_moments)
                sa.event.listen(self._engine, "connect", interval_text)
            elif target.provider == "sqlite":
                types.keep_nan(self._engine.dialect)
        return self._engine

    def _connect_args(self) -> dict[str, Any]:
        """The driver's connect arguments; a SQLite file's, in a run that can be stopped, make
        a connection whose waits on another program's lock end with the stop (``busy``)."""
        args = dict(self.target.connect_args)
        stop, timeout = self.context.stop, args.get("timeout")
        if self.target.provider == "sqlite" and stop is not None and \
                isinstance(timeout, int | float) and timeout > busy.SLICE:
            args.update(factory=busy.stoppable(stop, timeout), timeout=busy.SLICE)
        return args

    @contextlib.contextmanager
    def connect(self, create: bool = False) -> Iterator[Connection]:
        """A connection; connection failures become a one-line ConnectError. A SQLite file it
        creates is its owner's alone (mode 0600: it holds the synced rows)."""
        engine = self.engine(create)
        try:
            if create and self._no_file():
                create_private(Path(self.target.server))
            conn = engine.connect()
        except (SQLAlchemyError, OSError, ImportError) as exc:
            raise ConnectError(self._cannot_connect(exc)) from None
        try:
            with conn:
                yield conn
        except NoSuchTableError:
            raise ConfigError(f"table {self.info.table_name!r} not found", key="select") from None
        except SQLAlchemyError as exc:
            raise self._failed(exc) from None

    def _cannot_connect(self, exc: BaseException) -> str:
        t = self.target
        db = f", database {t.database}" if t.database else ""
        # a password the file says comes from a variable that cron's environment lacks, or
        # none found at all where the server asks for one: the driver's own words ("no
        # password supplied", "using password: NO") do not say where it was looked for
        asked = "password" in str(exc).casefold()
        missing = (f"; no password was found: {self.context.secret_hint()}"
                   if self._secret is None and (self.entity.password_env or asked) else "")
        source = self.context.secret_source() if self._secret is not None else ""
        if source and _refused_sign_in(str(exc)):
            missing = f"; {source} was refused: check it"
        return (f"cannot connect to {t.title} at {t.server}{db} (driver {t.driver}): "
                f"{one_line(exc, self._secret)}{missing}")

    def _failed(self, exc: SQLAlchemyError) -> L2Error:
        if isinstance(exc, sa.exc.ProgrammingError | sa.exc.NoSuchColumnError) or _in_statement(exc):
            return ConfigError(f"the statement failed: {one_line(exc, self._secret)}",
                               key="select")
        if getattr(exc, "connection_invalidated", False) or isinstance(
                exc, sa.exc.OperationalError | sa.exc.InterfaceError):
            return ConnectError(f"{self.target.title} at {self.target.server}: "
                                f"{one_line(exc, self._secret)}")
        return ConfigError(f"the statement failed: {one_line(exc, self._secret)}", key="select")

    # -- describe ---------------------------------------------------------------------------

    def asks_nobody(self) -> bool:
        """A SQLite file takes no password; another database once its secret is known."""
        return self._target is not None or _backend(self.entity.provider) == "sqlite"

    def describe(self) -> list[Column]:
        """Columns of what the select returns; reflected for a table or plain SELECT."""
        if self._columns is None:
            with self.connect() as conn:
                self._load(conn)
        assert self._columns is not None
        return list(self._columns)

    def _load(self, conn: Connection) -> None:
        info = self.info
        if info.kind in ("table", "select"):
            inspector = sa.inspect(conn)
            table = select.reflect_table(inspector, info, self.target.schema)
            keys = select.resolve_keys(table, self.entity.primary_key)
            chosen = select.pick_columns(table, info)
            self._table = table
            sqlite = conn.dialect.name == "sqlite"
            self._columns = select.table_columns(
                table, chosen, keys, sqlite=sqlite,
                strict=sqlite and select.is_strict(conn, table),
                case_blind=select.case_blind_columns(conn, table))
            self._unique = select.unique_key_sets(inspector, table)
            if keys:
                unique = set(keys) in self._unique
                generated = len(keys) == 1 and select.is_generated(table.c[keys[0]], conn.dialect)
                update_only = any(select.is_read_only(table.c[k]) for k in keys)
                other_unique = conn.dialect.name in ("mysql", "mariadb") \
                    and any(not set(keys) <= columns for columns in self._unique)
                self._write = WriteTarget(table, tuple(keys), unique, generated, update_only,
                                          partial=info.where or info.limited,
                                          other_unique=other_unique)
            return
        result = conn.execute(select.probe_statement(info, conn.dialect))
        try:
            description = result.cursor.description if result.cursor else None
            first = result.fetchone() if description else None
        finally:
            result.close()
        conn.rollback()
        self._unique = []
        if not description:
            raise ConfigError("the statement returns no rows to read", key="select")
        self._columns = select.query_columns(description, first, self.entity.primary_key,
                                             conn.dialect)

    # -- capabilities ----------------------------------------------------------------------

    def capabilities(self) -> Capabilities:
        """Writable for a table or plain SELECT with a key; batch size fits the database."""
        info = self.info
        if not info.writable:
            return Capabilities(False, False, self._batch_size(),
                                read_only_reason=f"read-only because {info.reason}")
        columns = self.describe()
        if self._write is None:
            return Capabilities(False, False, self._batch_size(len(columns)),
                                read_only_reason="the table has no primary key; set primary_key")
        return Capabilities(True, False, self._batch_size(len(columns)), complete=not info.limited)

    def _batch_size(self, columns: int = 1) -> int:
        chosen = self.context.options.get("batch_size") or self.target.batch_size
        if chosen:
            return max(1, int(chosen))
        if self.target.provider == "sqlserver":
            return max(1, min(MSSQL_BATCH, rows_per_statement(self.engine().dialect, columns)))
        if self.target.provider == "sqlite":
            return SQLITE_BATCH
        return DEFAULT_BATCH

    # -- read ----------------------------------------------------------------------------------

    def read(self, cursor: str | None = None, *, seen: SeenFilter | None = None,
             transform: RecordTransform | None = None) -> ReadStream:
        """Every row, streamed in pages; no delta support, so a cursor still reads everything.
        (``transform`` is left to the caller: the rows come from a local driver.)

        With ``seen``, each row gets a version, a digest of its values as the database returned
        them (a table has no row version every database shares), and the rows ``seen`` names are
        left out before they become records."""
        self.describe()
        page = int(self.context.options.get("page_size", DEFAULT_PAGE))
        return SqlReadStream(self, page, seen)

    def read_statement(self, *, raw: bool = False) -> sa.Select[Any] | sa.TextClause:
        """The statement a full read runs: the table's selected columns, or the user's query.
        ``raw``: every column as the driver gives it (see ``result_processors``). A PostgreSQL
        ``money`` column is read as ``numeric``: the driver gives money as the server's
        locale writes it ('$49,251,193.02'), a text no other side takes for a number."""
        info = self.info
        if info.kind == "table" and self._table is not None:
            untyped = {c.name for c in self._table.c} if raw else self.raw_decimals()
            money = self.target.provider == "postgresql"
            return sa.select(*(sa.type_coerce(c, sa.types.NullType()).label(c.name)
                               if c.name in untyped else
                               sa.cast(c, sa.Numeric()).label(c.name)
                               if money and types.is_money(c.type) else c
                               for c in self._table.c))
        return select.user_text(info.text)

    def result_processors(self, dialect: sa.Dialect) -> list[Callable[[Any], Any] | None]:
        """Per column of ``read_statement(raw=True)``, what a read makes of the driver's value
        (None: nothing): SQLAlchemy's result processor, or on SQLite ``types.sqlite_reader``
        (each may raise one of ``CONVERSION_ERRORS``); a raw decimal column stays raw, as in
        ``read_statement()``."""
        if self.info.kind != "table" or self._table is None:
            return []
        raw = self.raw_decimals()
        if dialect.name == "sqlite":
            return [None if c.name in raw else types.sqlite_reader(c.type, dialect)
                    for c in self._table.c]
        return [None if c.name in raw else
                c.type.dialect_impl(dialect).result_processor(dialect, None)
                for c in self._table.c]

    def unreadable_text(self, name: str, value: Any) -> str:
        """The line that says a column's value read could not be converted to its type."""
        table = self._table
        sql_type = table.c[name].type if table is not None and name in table.c \
            else sa.types.NullType()
        return types.unreadable_text(name, value, sql_type)

    def raw_decimals(self) -> frozenset[str]:
        """The decimal columns a full read takes raw, to make exact (``types.sqlite_decimal``):
        a SQLite table's, which SQLAlchemy would render at the column's fixed scale."""
        if self.target.provider != "sqlite" or self.info.kind != "table":
            return frozenset()
        return frozenset(c.name for c in self.describe() if c.type == ColumnType.DECIMAL)

    def shares_file(self) -> bool:
        """Whether this is a SQLite file that the connection's other entity (a table or select
        of its own) uses too: the run then writes to the file this side reads."""
        peer = self.context.peer
        if peer is None or self.target.provider != "sqlite" or _backend(peer.provider) != "sqlite":
            return False
        try:
            theirs = build_target(peer.provider, peer.connection_string, None).server
        except (L2Error, ValueError):
            return False
        try:
            return os.path.samefile(self.target.server, theirs)
        except OSError:  # (":memory:", a file not made yet: none shared)
            return False

    def repeated_keys(self, columns: Sequence[str], folded: Collection[str] = ()
                      ) -> list[tuple[list[Record], int]]:
        """The values of ``columns`` that more than one row of the select holds (none null), as
        the database compares them, and how many rows hold each: one query over the select, not
        run where a primary key or unique index keeps them unique, nor over a procedure's rows
        (none can be a subquery). Each comes with every value its rows hold: under a collation
        that ignores case or trailing blanks, 'abc' and 'ABC ' are one value held twice. The
        ``folded`` columns (texts the sync takes as GUIDs, or that the other side's keys take in
        any case) are compared in lower case without trailing blanks, as the sync or that side
        compares them: where a unique index keeps them unique, first a look for a value with an
        upper-case letter or a trailing blank (a scan, no sort), none being the usual case.

        A ConfigError when the database refuses the query (a SQLite key column whose collation
        another program defined: SQLite calls it "operational", as it does any error), short of
        a lost connection: the run goes on without it."""
        self.describe()
        folded = [name for name in columns if name in folded]
        indexed = any(unique <= set(columns) for unique in self._unique)
        if (indexed and not folded) or self.info.kind == "procedure":
            return []
        with self.connect() as conn:
            try:
                if indexed and not self._upper_case(conn, folded):
                    return []
                return self._repeated(conn, columns, folded)
            except sa.exc.DBAPIError as exc:
                if exc.connection_invalidated:
                    raise
                raise ConfigError(f"the statement failed: {one_line(exc, self._secret)}",
                                  key="select") from None

    def has_rows(self) -> bool | None:
        """Whether the table a select reads and writes holds any row (its WHERE not applied):
        ``SELECT 1`` from it, one row at most; for another query, whether the query returns a
        row. None for a procedure, or a SQL Server query with a WITH (neither can be a
        subquery)."""
        self.describe()
        info = self.info
        if info.kind == "procedure" or (self.target.provider == "sqlserver"
                                        and info.text[:4].lower() == "with"):
            return None
        with self.connect() as conn:
            # the table's own rows straight from it: a WHERE that leaves out the rows a run
            # writes must not make the table look emptied
            rows: sa.FromClause = self._table if info.kind in ("table", "select") and \
                self._table is not None else self._rows(conn, [])
            query: sa.Select[Any] = sa.select(sa.literal_column("1")).select_from(rows).limit(1)
            found = conn.execute(query).first()
            conn.rollback()
        return found is not None

    def _upper_case(self, conn: Connection, columns: Sequence[str]) -> bool:
        """Whether a row of the select holds a value of ``columns`` with an upper-case letter or
        a trailing blank."""
        rows = self._rows(conn, columns)
        found = conn.execute(sa.select(sa.literal(1)).where(sa.or_(*(
            sa.or_(rows.c[name] != sa.func.lower(rows.c[name]), rows.c[name].like("% "))
            for name in columns))).limit(1)).first()
        conn.rollback()
        return found is not None

    def _rows(self, conn: Connection, columns: Sequence[str]) -> sa.Subquery:
        """The read's statement as a subquery holding ``columns``."""
        statement = self.read_statement(raw=conn.dialect.name == "sqlite")
        return (statement.columns(*map(sa.column, columns))
                if isinstance(statement, sa.TextClause) else statement).subquery("l2tui_rows")

    def _repeated(self, conn: Connection, columns: Sequence[str], folded: Collection[str] = ()
                  ) -> list[tuple[list[Record], int]]:
        """``repeated_keys``, asked over ``conn``; each value as a read's record holds it. The
        rows of a value the database counts more than once, each with its count and the rank of
        its value (rows the database takes for one value share it): a GROUP BY would give one of
        their values alone, whichever it met."""
        raw = conn.dialect.name == "sqlite"  # (as a read: a value that does not convert stays)
        rows = self._rows(conn, columns)
        keys = [rows.c[name] for name in columns]
        compared = [sa.func.rtrim(sa.func.lower(rows.c[name])) if name in folded else rows.c[name]
                    for name in columns]
        ranked = sa.select(*keys,
                           sa.func.count().over(partition_by=compared).label("l2tui_count"),
                           sa.func.dense_rank().over(order_by=compared).label("l2tui_value")) \
            .where(*(k.is_not(None) for k in keys)).subquery("l2tui_keys")
        n = len(columns)
        found: dict[Any, tuple[int, dict[Any, tuple[Any, ...]]]] = {}  # count, values by rank
        for row in conn.execute(sa.select(ranked).where(ranked.c.l2tui_count > 1)):
            count, held = found.setdefault(row[n + 1], (row[n], {}))
            held.setdefault(_hashable(row[:n]), tuple(row[:n]))
        conn.rollback()
        readers = self._key_readers(columns, conn.dialect, raw)
        return [([{name: read(value) for name, read, value in zip(columns, readers, held_row,
                                                                   strict=True)}
                  for held_row in held.values()], count)
                for count, held in found.values()]

    def _key_readers(self, columns: Sequence[str], dialect: sa.Dialect,
                     raw: bool) -> list[Callable[[Any], Any]]:
        """What a read makes of each of ``columns``' values from ``read_statement(raw=raw)``
        (see ``SqlReadStream``); a value that does not convert stays as the database gave it."""
        kinds = {c.name: c.type for c in self.describe()}
        processors: dict[str, Callable[[Any], Any] | None] = {}
        if raw and self.info.kind == "table" and self._table is not None:
            processors = dict(zip((c.name for c in self._table.c),
                                  self.result_processors(dialect), strict=True))
        decimals = self.raw_decimals()
        readers = []
        for name in columns:
            last = types.guid_text if kinds.get(name) == ColumnType.GUID else \
                types.sqlite_decimal if name in decimals else types.to_python
            process = processors.get(name)
            readers.append(_or_raw(last if process is None else _then(process, last)))
        return readers

    # -- write ---------------------------------------------------------------------------------

    def write(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """Upsert and delete in batches, one transaction each; a failed batch is retried per item."""
        if not changes:
            return []
        return self._table_writer().write(changes)

    def create_rows(self, batch: RowBatch) -> dict[int, WriteOutcome]:
        """Upsert rows of one form as positional rows (no Change per row unless one fails)."""
        if not batch.rows:
            return {}
        return self._table_writer().create_rows(batch)

    def convert(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """Each change's row converted for its statement as ``write`` converts it, not written:
        the refusals ``write`` would report before the database sees the row."""
        if not changes:
            return []
        return self._table_writer().convert(changes)

    def _table_writer(self) -> Writer:
        caps = self.capabilities()
        if not caps.can_write:
            raise ConfigError(f"cannot write: {caps.read_only_reason}", key="select")
        assert self._write is not None and self._columns is not None
        writer = self._writer
        if writer is None or writer.target is not self._write \
                or writer.batch_size != caps.batch_size:
            writer = self._writer = Writer(self, self._write, self._columns, caps.batch_size)
        return writer

    # -- tables --------------------------------------------------------------------------------

    def _table_name(self) -> tuple[str, str | None]:
        info = self.info
        if info.kind not in ("table", "select"):
            raise ConfigError("a table can be created only for a table name or a plain SELECT",
                              key="select")
        dialect = self.engine(create=True).dialect
        schema = select.normalize(info.table[-2], dialect) if len(info.table) >= 2 \
            else self.target.schema
        return select.normalize(info.table[-1], dialect), schema

    def table_exists(self) -> bool:
        """Whether this entity's table is there (a SQLite file not made yet holds none); a
        database that cannot be reached is a ConnectError, not a missing table."""
        name, schema = self._table_name()
        if self._no_file():
            return False
        with self.connect() as conn:
            return bool(sa.inspect(conn).has_table(name, schema=schema))

    def table_place(self) -> tuple[str, str | None]:
        """Where Create Table makes this entity's table: its full name (``schema.table``, the
        database's default schema where the select names none) and, for SQLite, the absolute
        path of the database file (None for another database, or one in memory)."""
        name, schema = self._table_name()
        target = self.target
        if target.provider == "sqlite":
            return f"{schema or 'main'}.{name}", \
                None if target.server == ":memory:" else target.server
        if schema is None:
            with self.connect() as conn:
                schema = sa.inspect(conn).default_schema_name
        return (f"{schema}.{name}" if schema else name), None

    def create_table_ddl(self, columns: Sequence[Column]) -> str:
        """The CREATE TABLE this entity's table would get from the other side's columns."""
        name, schema = self._table_name()
        dialect = self.engine(create=True).dialect
        if self.target.provider == "mysql" and dialect.server_version_info is None:
            with self.connect():  # MariaDB or MySQL, and which version: a key's collation
                pass
        return ddl.create_table_ddl(columns, name, dialect, schema)

    def create_table(self, columns: Sequence[Column]) -> str:
        """Create this entity's table from the other side's columns; return the DDL that ran."""
        name, schema = self._table_name()
        with self.connect(create=True) as conn:
            text = ddl.create_table(conn, columns, name, schema)
            conn.commit()
        self._columns = None
        self._table = None
        self._write = None
        return text

    # -- verify --------------------------------------------------------------------------------

    def verify(self) -> VerifyResult:
        """Connect, name server, version and database, describe, and say whether it is writable."""
        try:
            with self.connect() as conn:
                version = server_version(conn)
                database = current_database(conn, self.target)
                self._load(conn)
                if self.info.kind == "select" and conn.dialect.name != "mssql":
                    # described from its table, not run: run it too (for one row), so that a
                    # statement the database refuses is not "ok" (SQLite runs it as it is,
                    # row by row, so its error is about the statement as written; SQL Server
                    # would refuse a subquery's ORDER BY that the statement alone may have)
                    conn.execute(select.user_text(self.info.text)
                                 if conn.dialect.name == "sqlite" else
                                 select.probe_statement(self.info, conn.dialect)).close()
                    conn.rollback()
                warnings = self._key_warnings(conn)
            caps = self.capabilities()
        except ConfigError as exc:
            return VerifyResult(False, str(exc), in_settings=True, setting=exc.key or "",
                                table_missing=self._table_missing())
        except L2Error as exc:  # (a server not reached is not asked twice)
            return VerifyResult(False, str(exc),
                                table_missing=self._no_file() and self._table_missing())
        t = self.target
        label = self.info.table_name or "query"
        n = len(self._columns or [])
        mode = "writable" if caps.can_write else caps.read_only_reason
        where = "" if t.provider == "sqlite" else f" on {t.server}"
        db = f", database {database}" if database and t.provider != "sqlite" else ""
        file = f" ({t.server})" if t.provider == "sqlite" else ""
        message = f"Connected to {version}{where}{file}{db} — {label}: {n} columns, {mode}"
        return VerifyResult(True, message, warnings=tuple(warnings))

    def _table_missing(self) -> bool:
        """After a failed verify: whether it failed because the table is not there."""
        try:
            return not self.table_exists()
        except L2Error:
            return False

    def _no_file(self) -> bool:
        """Whether this is a SQLite file not made yet."""
        try:
            target = self.target
        except L2Error:
            return False
        return target.provider == "sqlite" and target.server != ":memory:" \
            and not os.path.exists(target.server)

    def _key_warnings(self, conn: Connection) -> list[str]:
        if self._table is None:
            return []
        if self._write is None:
            return ["the table has no primary key: set primary_key to write"]
        if not self._write.unique:
            keys = ", ".join(self._write.keys)
            return [f"the match key ({keys}) has no unique index: writes are slower, and rows "
                    "that share a key are not synced from it; add a unique index",
                    *self._repeated_warnings(conn, self._write.keys)]
        return []

    def _repeated_warnings(self, conn: Connection, keys: Sequence[str]) -> list[str]:
        """The warning naming the values of ``keys`` that rows share, if any (or why they could
        not be looked for)."""
        names = ", ".join(keys)
        try:
            repeated = self._repeated(conn, keys)
        except SQLAlchemyError as exc:
            return [f"could not look for values of {names} that rows share: "
                    f"{one_line(exc, self._secret)}"]
        return _repeated_text(names, repeated)

    def repeated_warnings(self, columns: Sequence[str], folded: Collection[str] = ()
                          ) -> list[str]:
        """Verify's warning naming the values of ``columns`` that rows share (``repeated_keys``),
        if any, or why they could not be looked for."""
        try:
            repeated = self.repeated_keys(columns, folded)
        except ConfigError as exc:
            return [f"could not look for values of {', '.join(columns)} that rows share: "
                    f"{exc.detail}"]
        return _repeated_text(", ".join(columns), repeated)

    def close(self) -> None:
        """Release the engine's pooled connections."""
        if self._engine is not None:
            self._engine.dispose()
            self._engine = None
        self._writer = None


def utc_session(dbapi_connection: Any, _record: Any) -> None:
    """Put a new MySQL/MariaDB connection in UTC: a TIMESTAMP is read and written in the
    session's time zone, the server's by default, and a naive datetime here means UTC."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET time_zone = '+00:00'")
    finally:
        cursor.close()


def strict_session(dbapi_connection: Any, _record: Any) -> None:
    """Make a new MySQL/MariaDB connection strict, whatever the server's ``sql_mode``: without
    it a text too long for its column is cut short, an emoji in a latin1 column becomes ``?``
    and a number out of range is clipped, each with a warning nobody reads; the row then fails
    with the database's error instead (a run that wrote it cut short did so again at every full
    run, and a bidirectional run carried the cut value back to the other side)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET SESSION sql_mode = CONCAT_WS(',', NULLIF(@@session.sql_mode, ''),"
                       " 'STRICT_ALL_TABLES')")
    finally:
        cursor.close()


def utc_postgresql_session(dbapi_connection: Any, _record: Any) -> None:
    """Put a new PostgreSQL connection in UTC, whatever the server's, database's or role's
    time zone: a datetime with a zone written into a ``timestamp`` column is stored as the
    session's wall time, and a naive one written into a ``timestamptz`` is taken as the
    session's, where a naive datetime here means UTC (a session in Tokyo stored Dataverse's
    00:48Z as 09:48, read back as 09:48Z, and every full run wrote it again). Its intervals
    are written in the 'postgres' style, whatever the server's ``IntervalStyle``: the text
    ``interval_text`` reads, compared with another PostgreSQL's (psycopg's own loader read no
    other style: an 'iso_8601' server failed every read of an interval)."""
    cursor = dbapi_connection.cursor()
    try:
        cursor.execute("SET TIME ZONE 'UTC'")
        cursor.execute("SET IntervalStyle = 'postgres'")
    finally:
        cursor.close()
    dbapi_connection.commit()  # (a SET in a transaction rolled back is undone)


_INFINITE = frozenset({"infinity", "-infinity"})
_MIDNIGHT = "24:00:00"  # a PostgreSQL time (or timetz, then a zone) at the end of its day
_MOMENT_TYPES = ("date", "timestamp", "timestamptz", "time", "timetz")
_moment_loaders: dict[type, type] = {}


def infinite_moments(dbapi_connection: Any, _record: Any) -> None:
    """Let a new PostgreSQL connection read a date or timestamp of ``'infinity'`` or
    ``'-infinity'``, or a time of ``'24:00:00'``, as that text, which no Python date or time
    holds (psycopg fails the whole read on it, and the run with it): the text compares as
    itself, a PostgreSQL column takes it back, and a column that cannot fails that row alone."""
    connection = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    adapters = getattr(connection, "adapters", None)
    if adapters is None:
        return
    from psycopg.pq import Format

    for name in _MOMENT_TYPES:
        info = adapters.types.get(name)
        if info is None:
            continue
        base = adapters.get_loader(info.oid, Format.TEXT)
        if base is None:
            continue
        loader = _moment_loaders.get(base)
        if loader is None:
            loader = _moment_loaders[base] = _infinite_loader(base)
        adapters.register_loader(name, loader)


def interval_text(dbapi_connection: Any, _record: Any) -> None:
    """Let a new PostgreSQL connection read an ``interval`` as PostgreSQL's text of it
    (``1 mon 2 days -03:00:00``), which an interval column takes back exactly: psycopg's
    ``timedelta`` holds no months (it read '1 mon 2 days' as 32 days, and a run wrote that)."""
    connection = getattr(dbapi_connection, "driver_connection", dbapi_connection)
    adapters = getattr(connection, "adapters", None)
    if adapters is None or adapters.types.get("interval") is None:
        return
    from psycopg.types.string import TextLoader

    adapters.register_loader("interval", TextLoader)


def _infinite_loader(base: type) -> type:
    """A psycopg text loader that loads as ``base`` does, and a value no Python date or time
    holds (``infinite_moments``) as its text."""
    import psycopg
    from psycopg.adapt import Loader

    class InfiniteMoment(Loader):
        def __init__(self, oid: int, context: Any = None) -> None:
            super().__init__(oid, context)
            self._load = base(oid, context).load

        def load(self, data: Any) -> Any:
            try:
                return self._load(data)
            except psycopg.DataError:
                text = bytes(data).decode("ascii", "replace")
                if text in _INFINITE or text.startswith(_MIDNIGHT):
                    return text
                raise

    return InfiniteMoment


def server_version(conn: Connection) -> str:
    """Product and version, e.g. "PostgreSQL 15.18" or "MariaDB 10.11.6"."""
    dialect = conn.dialect
    info = dialect.server_version_info or ()
    version = ".".join(str(p) for p in info[:3] if isinstance(p, int))
    if dialect.name == "sqlite":
        import sqlite3

        return f"SQLite {sqlite3.sqlite_version}"
    product = {"postgresql": "PostgreSQL", "mssql": "SQL Server", "mysql": "MySQL",
               "mariadb": "MariaDB"}.get(dialect.name, dialect.name)
    if getattr(dialect, "is_mariadb", False):
        product = "MariaDB"
    return f"{product} {version}".strip()


def current_database(conn: Connection, target: Target) -> str | None:
    """The database the connection uses."""
    query = {"postgresql": "SELECT current_database()", "mssql": "SELECT DB_NAME()",
             "mysql": "SELECT DATABASE()", "mariadb": "SELECT DATABASE()"}.get(conn.dialect.name)
    if query is None:
        return target.database
    value = conn.execute(sa.text(query)).scalar()
    conn.rollback()
    return str(value) if value is not None else None


class SqlReadStream(ReadStream):
    """Pages from a server-side cursor; the cursor never advances past one page in memory."""

    def __init__(self, provider: SqlProvider, page_size: int,
                 seen: SeenFilter | None = None) -> None:
        self.provider = provider
        self.page_size = max(1, page_size)
        self.seen = seen
        self.cursor = None
        self.is_delta = False
        self.tolerant = False  # reading on past a SQLite text that is not UTF-8 (``_parts``)

    def __iter__(self) -> Iterator[Page]:
        provider = self.provider
        columns = provider.describe()
        guids = {c.name for c in columns if c.type == ColumnType.GUID}
        plain = {c.name for c in columns if c.type in PLAIN_TYPES and not c.read_only}
        decimals = provider.raw_decimals()
        with provider.connect() as conn:
            streaming = conn.execution_options(stream_results=True,
                                               max_row_buffer=self.page_size)
            # a SQLite read takes its rows raw (str, int, float, bytes, None) and converts them
            # itself: a value that does not convert (text in a DATE column: SQLite keeps what it
            # is given) fails its row, named in ``Page.unreadable``, not the read; asked about
            # versions, it gives them by ``marshal``, twice as fast as by ``repr``, with no
            # datetime parsed for a row seen, and converts only the rows it keeps
            raw = conn.dialect.name == "sqlite"
            # the other entity's table in this file, in a rollback journal: the rows are all
            # read first, to a temporary file (``_spooled``), ending the read's lock on the file
            # before the run writes to it (it waited on the read, the read on it, until locked)
            spool = raw and provider.shares_file() and not _in_wal(streaming)
            source = self._parts(streaming, provider.read_statement(raw=raw), raw)
            names = next(source)
            parts = _spooled(source) if spool else source
            convert: dict[int, Callable[[Any], Any]] = {
                i: types.guid_text if n in guids else types.sqlite_decimal if n in decimals
                else types.to_python for i, n in enumerate(names)
                if n not in plain or n in decimals}
            processors = provider.result_processors(conn.dialect) if raw else []
            for i, process in enumerate(processors):
                if process is not None:
                    convert[i] = _then(process, convert.get(i))
            fix = [(i, names[i], change) for i, change in sorted(convert.items())]
            keys = [names.index(k) for k in provider.key_columns() if k in names]
            key_of = _key_getter(keys, [processors[i] for i in keys] if processors else [])
            version = marshal_version if raw else row_version
            try:
                for part in parts:
                    page = Page()
                    if self.seen is not None and keys:
                        part, page.versions, page.skipped = self._unseen(part, key_of, version)
                    records = [dict(zip(names, row, strict=True)) for row in part]
                    if fix:
                        try:
                            for i, name, change in fix:  # (a column at a time: no inner loop)
                                for record, value in zip(records, map(change, map(
                                        itemgetter(i), part)), strict=True):
                                    record[name] = value
                        except CONVERSION_ERRORS:
                            page.unreadable = self._convert_each(records, part, fix)
                    if self.tolerant:  # (such a text is named as that, not as its type)
                        bad = _not_utf8(part, names)
                        named = {(value.index, value.column) for value in bad}
                        page.unreadable = bad + [value for value in page.unreadable if (
                            value.index, value.column) not in named]
                    page.records = records
                    yield page
            finally:
                parts.close()
                source.close()

    def _parts(self, conn: Connection, statement: Any, sqlite: bool
               ) -> Generator[Any, None, None]:
        """The column names of ``statement``'s result, then its rows a page at a time.

        A SQLite text that is not UTF-8 stops the driver's read of its row (sqlite3 decodes each
        text as it fetches it); it is to fail its row alone. Only then, the read starts over in
        the same read transaction (begun with the read: the same rows, in the same order) with
        a ``text_factory`` that reads it as a ``types.NotUtf8`` (``tolerant``), and goes on past
        the rows already given. Until then, nothing is read otherwise (a Python
        ``text_factory`` on every read costs ~1.3 s a million rows)."""
        driver = conn.connection.driver_connection if sqlite else None
        began = driver is not None and not driver.in_transaction
        if began:
            conn.exec_driver_sql("BEGIN")  # (deferred: holds the snapshot the read starts)
        result: sa.CursorResult[Any] | None = None
        given = -1  # (the names not given yet)
        try:
            try:
                result = conn.execute(statement)  # (which may fetch the first row)
                yield list(result.keys())
                given = 0
                for part in self._fetched(conn, result, began):
                    given += len(part)
                    yield part
                return
            except sa.exc.OperationalError as exc:
                if driver is None or not _not_utf8_error(exc):
                    raise
            if result is not None:
                result.close()
            factory = driver.text_factory
            driver.text_factory = types.tolerant_text
            self.tolerant = True
            try:
                result = conn.execute(statement)
                if given < 0:
                    yield list(result.keys())
                while given > 0 and (skipped := result.fetchmany(min(given, self.page_size))):
                    given -= len(skipped)
                yield from self._fetched(conn, result, began)
            finally:
                driver.text_factory = factory
        finally:
            if result is not None:
                result.close()

    def _fetched(self, conn: Connection, result: sa.CursorResult[Any], began: bool
                 ) -> Iterator[Sequence[Any]]:
        """``result``'s rows a page at a time; once they are all fetched, before the last page
        is given, the read transaction ``_parts`` ``began`` ends: held while the run handles
        that page, it would keep a write to the same SQLite file (the other entity's table, in
        a rollback journal) waiting until it failed as locked, as the read alone never did."""
        part = result.fetchmany(self.page_size)
        while part:
            following = result.fetchone()  # (None: all fetched)
            if following is None:
                result.close()
                if began:
                    conn.rollback()  # (a read: nothing to keep)
            yield part
            part = [] if following is None else \
                [following, *result.fetchmany(self.page_size - 1)]

    def _convert_each(self, records: list[Record], rows: Sequence[Any],
                      fix: list[tuple[int, str, Callable[[Any], Any]]]) -> list[Unreadable]:
        """``fix`` applied to a page's records value by value: a value that does not convert
        stays as the database gave it, and is named."""
        unreadable: list[Unreadable] = []
        for index, (record, row) in enumerate(zip(records, rows, strict=True)):
            for i, name, change in fix:
                value = row[i]
                try:
                    record[name] = change(value)
                except CONVERSION_ERRORS:
                    record[name] = value
                    unreadable.append(Unreadable(index, name,
                                                 self.provider.unreadable_text(name, value)))
        return unreadable

    def _unseen(self, rows: Sequence[Any], key_of: Callable[[Sequence[Any]], tuple[Any, ...]],
                version: Callable[[Sequence[Any]], str]) -> tuple[list[Any], list[str | None],
                                                                  int]:
        """The rows ``seen`` does not name, their versions, and how many it named."""
        assert self.seen is not None
        versions: list[str | None] = [version(row) for row in rows]
        drop = self.seen(list(map(key_of, rows)), versions)
        if not drop:
            return list(rows), versions, 0
        kept = [i for i in range(len(rows)) if i not in drop]
        return [rows[i] for i in kept], [versions[i] for i in kept], len(rows) - len(kept)


def _in_wal(conn: Connection) -> bool:
    """Whether ``conn``'s SQLite file is in WAL mode, where a reader never blocks a writer."""
    mode = conn.exec_driver_sql("PRAGMA journal_mode").scalar()
    return str(mode).lower() == "wal"


def _spooled(parts: Generator[Any, None, None]) -> Generator[Any, None, None]:
    """``parts`` (pages of rows) read to their end into a temporary file (its owner's alone,
    removed as it is closed), then given from it a page at a time: memory holds one page."""
    with tempfile.TemporaryFile() as spool:
        pages = 0
        for part in parts:
            pickle.dump([tuple(row) for row in part], spool, pickle.HIGHEST_PROTOCOL)
            pages += 1
        parts.close()  # (the read, all fetched, ended its transaction: see ``_fetched``)
        spool.seek(0)
        for _ in range(pages):
            yield pickle.load(spool)  # noqa: S301  (this generator's own file)


def _not_utf8_error(exc: sa.exc.OperationalError) -> bool:
    """sqlite3's error for a text it cannot decode as UTF-8 (it has no code of its own)."""
    return isinstance(exc.orig, sqlite3.OperationalError) and \
        str(exc.orig).startswith("Could not decode to UTF-8")


def _not_utf8(rows: Sequence[Any], names: list[str]) -> list[Unreadable]:
    """The texts of ``rows`` (read by ``types.tolerant_text``) that are not UTF-8."""
    return [Unreadable(index, names[i], types.not_utf8_text(names[i], value))
            for index, row in enumerate(rows) for i, value in enumerate(row)
            if type(value) is types.NotUtf8]


def _key_getter(keys: list[int], fixes: list[Callable[[Any], Any] | None]
                ) -> Callable[[Sequence[Any]], tuple[Any, ...]]:
    """A row's key (at ``keys``) as ``seen`` takes it: as SQLAlchemy would give it, each value
    through its ``fixes`` (from a raw row); a one-column key without a generator a row."""
    if any(fixes):
        kept = [None if f is None else _or_raw(f) for f in fixes]
        return lambda row: tuple(v if f is None else f(v)
                                 for f, v in zip(kept, (row[i] for i in keys), strict=True))
    if len(keys) == 1:
        one = keys[0]
        return lambda row: (row[one],)
    return lambda row: tuple(row[i] for i in keys)


def _repeated_text(names: str, repeated: list[tuple[list[Record], int]]) -> list[str]:
    """The warning naming the values of the columns ``names`` that rows share, if any."""
    if not repeated:
        return []
    listed = _in_order([(_in_order(records), count) for records, count in repeated])
    shown = "; ".join(f"{' / '.join(map(_key_text, records))}: {count} times"
                      for records, count in listed[:SHOWN_REPEATED])
    more = "; …" if len(listed) > SHOWN_REPEATED else ""
    return [f"{len(repeated)} value(s) of {names} appear more than once ({shown}{more}): "
            "their rows are not synced from it"]


def _in_order(items: list[Any]) -> list[Any]:
    """Records (or (records, count) pairs) sorted by their values, else by their text (values
    of types that do not compare)."""
    try:
        return sorted(items, key=_values)
    except TypeError:
        return sorted(items, key=repr)


def _values(item: Any) -> Any:
    """``_in_order``'s sort key: numbers by value, before other values by type, then value."""
    if isinstance(item, tuple):
        return [_values(one) for one in item[0]], item[1]
    return [(False, "", v) if isinstance(v, int | float | Decimal) else (True, type(v).__name__, v)
            for v in item.values()]


def _key_text(record: Record) -> str:
    """A key's values as verify names them: ``2``, ``'abc'``, or ``(2, 'abc')``."""
    text = ", ".join(map(repr, record.values()))
    return text if len(record) == 1 else f"({text})"


def _hashable(values: Sequence[Any]) -> Any:
    """``values`` as a dict key, each with its type (1, 1.0 and True are other values held):
    the tuple, or its ``repr`` where a value is no key (a memoryview, a JSON document)."""
    key = tuple((type(v), v) for v in values)
    try:
        hash(key)
    except TypeError:
        return repr(key)
    return key


def _or_raw(convert: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """``convert``, or the value as it is where it does not convert."""
    def kept(value: Any) -> Any:
        try:
            return convert(value)
        except CONVERSION_ERRORS:
            return value

    return kept


def _then(first: Callable[[Any], Any],
          second: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """``first``, then ``second`` if there is one."""
    if second is None:
        return first
    return lambda value: second(first(value))


def row_version(row: Sequence[Any]) -> str:
    """A row's version: a digest of its values as the database returned them (their ``repr``,
    which differs whenever a value does)."""
    return hashlib.blake2b(repr(tuple(row)).encode("utf-8", "backslashreplace"),
                           digest_size=12).hexdigest()


def marshal_version(row: Sequence[Any]) -> str:
    """``row_version`` of a row of SQLite's own values (str, int, float, bytes, None), which
    ``marshal`` writes without loss, so that rows that differ get other versions; and twice as
    fast as ``repr``. (``marshal`` also records which values are one object, or interned: for
    the driver's values that follows from the values, so a row read again gets its version
    again; were it not so, the row would only be compared by hash.) Another value (a converter
    the user registered with sqlite3) goes by ``repr``."""
    try:
        data = marshal.dumps(tuple(row))
    except ValueError:
        return row_version(row)
    return hashlib.blake2b(data, digest_size=12).hexdigest()


def _backend(provider: str) -> str | None:
    """The canonical SQL provider name ("sqlite", "sqlserver", …) of an entity's provider."""
    spec = find_spec(provider)
    return spec.name if spec is not None else None


# the drivers' words for a password the server refused (PostgreSQL, MySQL/MariaDB, SQL Server)
_REFUSED_SIGN_IN = ("password authentication failed", "access denied for user",
                    "login failed for user")


def _refused_sign_in(message: str) -> bool:
    """Whether a driver's error says the server refused the user's password."""
    folded = message.casefold()
    return any(words in folded for words in _REFUSED_SIGN_IN)
