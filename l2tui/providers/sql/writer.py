"""Apply a list of Changes in batches: one transaction per batch, per-item retry when one fails.

Changes are grouped by their form (operation, key names, value names): a form's column names are
checked and resolved once, and each change becomes one positional row (key values, then the
non-key columns) converted for the driver. Groups of one shape run as one batched statement
(``fast.FastStatements`` on SQLite, PostgreSQL and MySQL/MariaDB; SQLAlchemy Core statements from
``upsert`` on SQL Server and for the rarer forms). A key seen again in a batch starts new groups,
so changes to one item apply in the order given.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field
from operator import itemgetter
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection, Dialect, NestedTransaction
from sqlalchemy.exc import DBAPIError, IntegrityError, SQLAlchemyError

from l2tui.errors import ConnectError
from l2tui.providers.base import Change, ChangeOp, Column, RowBatch, WriteOutcome
from l2tui.providers.sql import select, types, upsert
from l2tui.providers.sql.errors import one_line, unique_violation
from l2tui.providers.sql.fast import FastStatements, kind_of
from l2tui.providers.sql.upsert import MissingRows, WriteTarget

if TYPE_CHECKING:
    from l2tui.providers.sql.provider import SqlProvider

Row = dict[str, Any]
Params = tuple[Any, ...]
Convert = tuple[tuple[int, Callable[[Any], Any]], ...]
RETRY_PARTS = 10  # a failed batch is retried in this many parts, recursively, down to one item
UNTANGLE_ROUNDS = 3  # tries at items kept out by another row's value of a unique index
# the most such items of one batch tried again (more are most likely values other rows keep,
# not swaps, and each would cost a batch with many failing rows three more statements)
UNTANGLE_MOST = 100


_SEP = object()  # between key names and value names in a change's form


def row_maker(key_names: Sequence[str], value_names: Sequence[str],
              convert: dict[int, Callable[[Any], Any]]) -> Callable[[Row, Row], Params]:
    """A function building one row from a change's key and values dicts, converting as it goes.

    It is compiled once per form so that a row costs one call and one tuple; the source text holds
    only generated parameter names, never a column name or a value (those are default arguments).
    """
    sources = [("k", n) for n in key_names] + [("v", n) for n in value_names]
    made: Callable[[Row, Row], Params] = _compile_row("k, v", sources, convert)
    return made


def position_maker(positions: Sequence[int],
                   convert: dict[int, Callable[[Any], Any]]) -> Callable[[Params], Params]:
    """``row_maker`` for a positional row: the statement's row takes ``r[positions[i]]``."""
    made: Callable[[Params], Params] = _compile_row("r", [("r", p) for p in positions], convert)
    return made


def _compile_row(params: str, sources: Sequence[tuple[str, Any]],
                 convert: dict[int, Callable[[Any], Any]]) -> Callable[..., Params]:
    env: dict[str, Any] = {}
    parts: list[str] = []
    for position, (source, index) in enumerate(sources):
        env[f"n{position}"] = index
        expr = f"{source}[n{position}]"
        if position in convert:
            env[f"f{position}"] = convert[position]
            expr = f"f{position}({expr})"
        parts.append(expr)
    defaults = "".join(f", {name}={name}" for name in env)
    text = f"def make({params}{defaults}):\n    return ({', '.join(parts)},)\n"
    scope: dict[str, Any] = {}
    exec(text, dict(env), scope)  # noqa: S102  (generated from indices only, see above)
    made: Callable[..., Params] = scope["make"]
    return made


CONVERT_ERRORS = (ValueError, TypeError, ArithmeticError)
"""What a driver conversion raises for a value its column cannot take."""


def converted(shape: Shape, row: Params, table: Any, dialect: Dialect) -> Params:
    """A row converted for its statement; Refused names the column of a value it cannot take
    (and its type as the database spells it: ``INTEGER[]``, not SQLAlchemy's ``ARRAY``)."""
    values = list(row)
    for position, convert in shape.convert:
        try:
            values[position] = convert(values[position])
        except CONVERT_ERRORS:
            name = shape.names[position]
            raise Refused(f"{name}: {values[position]!r} cannot be stored as "
                          f"{types.type_text(table.c[name].type, dialect)}") from None
    return tuple(values)


# SQLite's primary result codes that fail any write to the file, not one row's: busy and locked
# (another writer's transaction outlasted the timeout), read-only, I/O error, full, cannot open
_SQLITE_UNWRITABLE = {5: " (another program holds a write lock on it)", 6: "", 8: "", 10: "",
                      13: "", 14: ""}


def unwritable(exc: SQLAlchemyError) -> str | None:
    """Why no write to the target can succeed now (a hint, maybe empty), or None when the
    failure may be the batch's own: the connection was lost, or SQLite cannot write the file."""
    if getattr(exc, "connection_invalidated", False):
        return ""
    code = getattr(getattr(exc, "orig", None), "sqlite_errorcode", None)
    if isinstance(code, int):
        return _SQLITE_UNWRITABLE.get(code & 0xFF)
    return None


def ok_outcome(change: Change, key: Row | None) -> WriteOutcome:
    """A successful outcome (WriteOutcome is slotted: cheap to make 100,000 of)."""
    return WriteOutcome(change, True, "", key)


class Refused(Exception):
    """A change that cannot be written at all (unknown column, missing key)."""


class LostTransaction(Exception):
    """A savepoint could not be rolled back to or released: the database ended the transaction
    (MySQL does on a deadlock), so a failed batch's parts are retried in transactions of their
    own."""


# dialects whose savepoints are tested to roll back one part of a failed batch (tests/providers)
SAVEPOINT_DIALECTS = frozenset({"sqlite", "postgresql", "mysql", "mariadb"})
# where a part that is one upsert of the raw path is retried in a savepoint of the driver's own
RAW_SAVEPOINT_DIALECTS = frozenset({"sqlite", "postgresql"})


@dataclass
class Tally:
    """The items of a failed batch whose outcome its retries have found, and how many of them
    failed: how big a part of it to try next."""

    items: int = 0
    failed: int = 0

    def known(self, items: int, failed: int) -> None:
        """Items whose outcome is found (a part written, or an item alone), ``failed`` of them."""
        self.items += items
        self.failed += failed

    def part(self, most: int) -> int:
        """The size of the next part, at most ``most``: one that succeeds about half the time
        at the share of failing items seen so far (once 20 items are known)."""
        if self.items < 20 or not self.failed:
            return most
        share = self.failed / self.items
        if share >= 0.5:
            return 1
        return max(1, min(most, int(math.log(0.5) / math.log1p(-share))))


@dataclass(eq=False)
class Shape:
    """One statement's form: the operation and the non-key columns it sets (hashed by identity)."""

    op: str  # upsert | update | insert (key made by the database) | insert_key | delete
    columns: tuple[str, ...]
    names: tuple[str, ...]  # the row's columns: keys (except for insert), then ``columns``
    fast: bool  # raw DBAPI statements (FastStatements) instead of SQLAlchemy Core
    convert: Convert  # row positions to convert: for the driver (fast) or pre_converter only (Core)
    key_pre: Convert  # pre_converter for key positions, for the key an outcome reports


@dataclass(eq=False)
class Entry:
    """How changes of one form (op, key names, value names) become rows; made once per form."""

    error: str = ""
    shape: Shape | None = None  # None: each change of this form goes through ``prepare``
    key_get: Callable[[Row], Params] | None = None  # the raw key values, in key order
    make: Callable[[Row, Row], Params] | None = None  # (key dict, values dict) → converted row
    reuse_key: bool = False  # the change's own key dict is the outcome key
    sources: tuple[str, ...] = ()  # the change's names the row takes, in ``shape.names`` order
    make_positional: Callable[[Params], Params] | None = None  # the same row from a RowBatch row


@dataclass(eq=False)
class Group:
    """Rows of one shape to write together."""

    shape: Shape
    indices: list[int] = field(default_factory=list)
    rows: list[Params] = field(default_factory=list)
    keys: list[Row | None] = field(default_factory=list)  # outcome keys (None for inserts)


Segment = dict[Shape, Group]
Refusals = list[WriteOutcome | None] | dict[int, WriteOutcome]  # by change index


class Writer:
    """Writes changes to one table for a SqlProvider (reusable across write calls)."""

    def __init__(self, provider: SqlProvider, target: WriteTarget, columns: Sequence[Column],
                 batch_size: int) -> None:
        self.provider = provider
        self.target = target
        self.batch_size = max(1, batch_size)
        self.columns = {c.name: c for c in columns}
        self.by_fold = {c.name.casefold(): c.name for c in columns}
        self.table_fold = {c.name.casefold(): c.name for c in target.table.c}
        self.dialect = provider.engine().dialect
        kind = kind_of(self.dialect)
        self.statements = FastStatements(target, self.dialect, kind) if kind else None
        self.entries: dict[tuple[Any, ...], Entry] = {}
        self.shapes: dict[tuple[str, tuple[str, ...]], Shape] = {}

    # -- the batch loop --------------------------------------------------------------------------

    def write(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """One outcome per change, in order."""
        outcomes: list[WriteOutcome | None] = [None] * len(changes)
        for start in range(0, len(changes), self.batch_size):
            indices = range(start, min(len(changes), start + self.batch_size))
            segments = self.plan(changes, indices, outcomes)
            try:
                made = self.execute(segments)
            except (SQLAlchemyError, MissingRows):
                planned = sorted(i for seg in segments for g in seg.values() for i in g.indices)
                self.settle(changes, planned, outcomes)
                continue
            self.succeed(changes, segments, made, outcomes)
        if len(changes) > self.batch_size:
            self.untangle_batches(changes, outcomes)
        return outcomes  # type: ignore[return-value]  # every slot is filled above

    def untangle_batches(self, changes: Sequence[Change],
                         outcomes: list[WriteOutcome | None]) -> None:
        """Items another row's value of a unique index kept out, written in several batches:
        tried again together once every batch was (a later batch may have freed the value, or
        held the other half of a swap)."""
        collided = [i for i, o in enumerate(outcomes) if o is not None and o.collided]
        if 0 < len(collided) <= UNTANGLE_MOST:
            self.settle(changes, collided, outcomes)

    def create_rows(self, batch: RowBatch) -> dict[int, WriteOutcome]:
        """Upsert positional rows of one form, a batch per transaction, without a Change per row.

        Rows whose form needs the general path (a name to resolve per change, a key converted
        for the outcome), with a missing or repeated key, or in a batch that fails, go through
        ``write`` and report every outcome; the others report nothing (written under their key).
        """
        sig = (ChangeOp.CREATE, *batch.keys, _SEP, *batch.columns)
        entry = self.entries.get(sig) or self.entry(sig)
        shape = entry.shape
        if shape is None or not entry.reuse_key or shape.op != "upsert":
            return self.general_rows(batch, range(len(batch.rows)))
        names = (*batch.keys, *batch.columns)
        make = entry.make_positional
        if make is None:
            at = {name: i for i, name in enumerate(names)}
            make = entry.make_positional = position_maker([at[n] for n in entry.sources],
                                                          dict(shape.convert))
        n_keys = len(self.target.keys)
        failed: dict[int, WriteOutcome] = {}
        for start in range(0, len(batch.rows), self.batch_size):
            indices = range(start, min(len(batch.rows), start + self.batch_size))
            try:
                rows = [make(batch.rows[i]) for i in indices]
            except CONVERT_ERRORS:  # a value the column cannot take: each row's own outcome
                failed.update(self.general_rows(batch, indices))
                continue
            keys = [r[0] for r in rows] if n_keys == 1 else [r[:n_keys] for r in rows]
            if len(set(keys)) < len(keys) or (None in keys if n_keys == 1 else
                                               any(None in k for k in keys)):
                failed.update(self.general_rows(batch, indices))
                continue
            group = Group(shape, list(indices), rows)
            try:
                self.execute([{shape: group}])
            except (SQLAlchemyError, MissingRows):
                failed.update(self.general_rows(batch, indices))
        return failed

    def convert(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """``plan`` of every change, nothing executed: its refusals (a name not in the table, a
        missing key, a value its column's conversion cannot take), the others a success."""
        outcomes: list[WriteOutcome | None] = [None] * len(changes)
        self.plan(changes, range(len(changes)), outcomes)
        return [outcome or WriteOutcome(change, True)
                for change, outcome in zip(changes, outcomes, strict=True)]

    def general_rows(self, batch: RowBatch, indices: Sequence[int]) -> dict[int, WriteOutcome]:
        """Rows written as Changes through ``write``: every outcome, by row index."""
        outcomes = self.write([batch.change(i) for i in indices])
        return dict(zip(indices, outcomes, strict=True))

    def succeed(self, changes: Sequence[Change], segments: Sequence[Segment],
                made: dict[int, list[Row]], outcomes: Refusals) -> None:
        """Outcomes of a batch that committed."""
        for segment in segments:
            for group in segment.values():
                keys = made.get(id(group), group.keys)
                for index, key in zip(group.indices, keys, strict=True):
                    outcomes[index] = ok_outcome(changes[index], key)

    def settle(self, changes: Sequence[Change], indices: Sequence[int],
               outcomes: list[WriteOutcome | None]) -> None:
        """After a failed batch: retry in smaller parts, down to each item alone, for outcomes.

        Where savepoints are known to roll back (SQLite, PostgreSQL, MySQL/MariaDB) the parts run
        in one transaction, each in its own savepoint, committed once at the end: a part that
        fails rolls back to its savepoint only, and the parts that succeeded are ok only once
        that commit succeeded. Elsewhere, when the database lost the transaction under a
        savepoint, or when that commit fails (a constraint checked at commit, such as a deferred
        foreign key), each part is its own transaction, down to each item alone, as it was."""
        if self.dialect.name not in SAVEPOINT_DIALECTS:
            self.settle_parts(changes, indices, outcomes, outcomes)
            return
        done: dict[int, WriteOutcome] = {}
        collided: list[int] = []
        conn = self.connect()
        with conn:
            outer = conn.begin()
            try:
                self.begin_explicitly(conn)
                self.settle_parts(changes, indices, outcomes, done, conn, collided)
                if 0 < len(collided) <= UNTANGLE_MOST:
                    self.untangle(changes, collided, outcomes, done, conn)
            except LostTransaction:
                with contextlib.suppress(SQLAlchemyError):
                    outer.rollback()
                conn.close()
                self.settle_parts(changes, indices, outcomes, outcomes)
                return
            except BaseException:
                with contextlib.suppress(SQLAlchemyError):
                    outer.rollback()  # (a lost connection cannot roll back: the error stands)
                raise
            try:
                outer.commit()
            except SQLAlchemyError as exc:
                self.raise_unwritable(exc)
                commit_failed = True  # (a constraint checked at commit): each part alone
            else:
                commit_failed = False
        if commit_failed:
            self.settle_parts(changes, indices, outcomes, outcomes)
            return
        for index, outcome in done.items():
            outcomes[index] = outcome

    def begin_explicitly(self, conn: Connection) -> None:
        """On SQLite, open the transaction now: pysqlite begins one only before a data change,
        so a first SAVEPOINT would open (and its RELEASE commit) a transaction of its own."""
        if self.dialect.name == "sqlite":
            dbapi = conn.connection.dbapi_connection
            if dbapi is not None and not dbapi.in_transaction:
                conn.exec_driver_sql("BEGIN")

    def settle_parts(self, changes: Sequence[Change], indices: Sequence[int],
                     outcomes: list[WriteOutcome | None], done: Refusals,
                     conn: Connection | None = None, collided: list[int] | None = None,
                     tally: Tally | None = None) -> None:
        """``settle``'s recursion, down to each item alone: each part in a savepoint of ``conn``'s
        transaction, or without ``conn`` in a transaction of its own. Successes go to ``done``
        (``outcomes`` itself where each part commits; else held until ``conn`` commits),
        failures to ``outcomes``; items that failed alone on a unique index to ``collided``.
        A part is a tenth of ``indices``, or smaller where ``tally`` finds many items failing
        (a part likely to fail is one attempt more); an item alone is tried once, by ``retry``."""
        tally = tally or Tally()
        top = max(1, -(-len(indices) // RETRY_PARTS))
        start = 0
        while start < len(indices):
            part = indices[start:start + tally.part(top)]
            start += len(part)
            if len(part) == 1:
                outcome = self.retry(changes, part[0], conn, collided)
                (done if outcome.ok else outcomes)[part[0]] = outcome
                tally.known(1, 0 if outcome.ok else 1)
                continue
            segments = self.plan(changes, part, outcomes)
            texts = None if conn is None else self.raw_texts(segments)
            if texts is not None:
                assert conn is not None  # (raw_texts is asked with a connection only)
                if self.raw_savepoint(conn, texts) is not None:
                    self.settle_parts(changes, part, outcomes, done, conn, collided, tally)
                    continue
                made: dict[int, list[Row]] = {}
            else:
                try:
                    made = self.execute(segments) if conn is None else \
                        self.in_savepoint(conn, segments)
                except (SQLAlchemyError, MissingRows):
                    self.settle_parts(changes, part, outcomes, done, conn, collided, tally)
                    continue
            self.succeed(changes, segments, made, done)
            tally.known(len(part), 0)

    def raw_texts(self, segments: Sequence[Segment]) -> list[tuple[str, Params]] | None:
        """The statements of segments that are one upsert of the raw path on SQLite or
        PostgreSQL, for ``raw_savepoint``; else None."""
        if self.statements is None or self.dialect.name not in RAW_SAVEPOINT_DIALECTS \
                or len(segments) != 1 or len(segments[0]) != 1:
            return None
        group = next(iter(segments[0].values()))
        if not group.shape.fast or group.shape.op != "upsert":
            return None
        return self.statements.upsert_statements(group.shape.columns, group.rows)

    def raw_savepoint(self, conn: Connection,
                      texts: Sequence[tuple[str, Params]]) -> SQLAlchemyError | None:
        """Run statements in a savepoint of ``conn``'s transaction, spelt on the driver's own
        cursor, rolled back to if they fail: their error (as SQLAlchemy wraps a driver's), or
        None. SQLAlchemy's savepoint compiles and runs each of its statements as one of the
        run's; a batch with many failing rows, retried mostly item by item, spent most of its
        time there. ConnectError when the target cannot be written at all; LostTransaction when
        the savepoint cannot be rolled back to."""
        dbapi: Any = conn.connection.driver_connection
        base = self.dialect.loaded_dbapi.Error
        with contextlib.closing(dbapi.cursor()) as cursor:
            try:
                cursor.execute("SAVEPOINT l2tui_one")
                for sql, params in texts:
                    cursor.execute(sql, params)
                cursor.execute("RELEASE SAVEPOINT l2tui_one")
                return None
            except base as exc:
                error = DBAPIError.instance(
                    texts[-1][0] if texts else None, None, exc, base, dialect=self.dialect,
                    connection_invalidated=self.dialect.is_disconnect(exc, dbapi, cursor))
            self.raise_unwritable(error)
            try:
                cursor.execute("ROLLBACK TO SAVEPOINT l2tui_one")
                cursor.execute("RELEASE SAVEPOINT l2tui_one")
            except base as lost:
                raise LostTransaction from lost
        return error

    def untangle(self, changes: Sequence[Change], collided: list[int],
                 outcomes: list[WriteOutcome | None], done: dict[int, WriteOutcome],
                 conn: Connection) -> None:
        """Items another row's value of a unique index kept out, once the rest of their batch is
        written (in ``conn``'s transaction): each again alone while one gets through (A takes the
        value B gave up), then those left together through NULL (A and B swap values): their
        unique columns emptied and each item written, all in one savepoint, rolled back whole
        when one fails, so no row keeps the NULL. Items left failing keep their error; one that
        sets a NOT NULL unique column says why a swap there cannot be written."""
        left = list(collided)
        for _ in range(UNTANGLE_ROUNDS):
            through = []
            for index in left:
                outcome = self.retry(changes, index, conn)
                if outcome.ok:
                    done[index] = outcome
                    through.append(index)
            left = [i for i in left if i not in through]
            if not through or not left:
                break
        if not left:
            return
        held = self.unique_columns()
        frees: dict[int, tuple[Row, list[str]]] = {}
        fixed_ones: dict[int, list[str]] = {}
        partners: list[Row] = []  # the keys of the rows these items write
        for index in left:
            segments = self.plan(changes, [index], {})
            group = next(iter(segments[0].values()), None)
            if group is None or group.shape.op == "insert" or group.keys[0] is None:
                continue
            partners.append(group.keys[0])
            columns = [c for c in group.shape.columns if c in held]
            fixed = [c for c in columns if not self.target.table.c[c].nullable]
            if fixed:
                fixed_ones[index] = fixed
            elif columns:
                frees[index] = (group.keys[0], columns)
        for index, fixed in fixed_ones.items():
            holder = self.holder(conn, changes[index], fixed)
            swapped = holder is None or any(_same_key(holder, key) for key in partners)
            outcomes[index] = WriteOutcome(changes[index], False, self.held_text(fixed)
                                           if swapped else self.kept_text(fixed, holder or {}))
        cycle = list(frees)
        for _ in range(UNTANGLE_ROUNDS):
            if len(cycle) < 2:
                return
            failed = self.swap(changes, cycle, frees, done, conn)
            if not failed:
                return
            cycle = [i for i in cycle if i not in failed]

    def unique_columns(self) -> set[str]:
        """Columns of the target's unique indexes (and constraints) through which two rows can
        collide: of the ones that do not hold the whole key."""
        keys = set(self.target.keys)
        return {c for columns in self.provider._unique if not keys <= columns for c in columns}

    @staticmethod
    def held_text(columns: Sequence[str]) -> str:
        """The error of an item kept out by another row's value of a NOT NULL unique column."""
        shown = ", ".join(columns)
        return (f"{shown}: another row holds this value (a unique index); values swapped "
                f"between rows are written only where the column allows NULL ({shown} is NOT "
                "NULL)")

    @staticmethod
    def kept_text(columns: Sequence[str], holder: Row) -> str:
        """The error of an item kept out by a NOT NULL unique column's value that a row no item
        of the batch writes holds (not a swap: such as the row an item whose key was edited
        left, which still holds its match key)."""
        row = " and ".join(f"{name} = {value!r}" for name, value in holder.items())
        return f"{', '.join(columns)}: the row {row} holds this value (a unique index)"

    def holder(self, conn: Connection, change: Change, columns: Sequence[str]) -> Row | None:
        """The key of a row that holds the value ``change`` writes into one of ``columns``
        (each under a unique index); None where none is found (or the query fails)."""
        values = {name.casefold(): value for name, value in change.values.items()}
        savepoint = self.begin_savepoint(conn)
        found = None
        try:
            for column in columns:
                if column.casefold() in values:
                    found = conn.execute(upsert.holder_statement(self.target, column),
                                         {"_v": values[column.casefold()]}).first()
                if found is not None:
                    break
        except SQLAlchemyError as exc:
            self.raise_unwritable(exc)
            self.end_savepoint(savepoint, keep=False)
            return None
        self.end_savepoint(savepoint, keep=True)
        return None if found is None else dict(zip(self.target.keys, found, strict=True))

    def swap(self, changes: Sequence[Change], cycle: Sequence[int],
             frees: dict[int, tuple[Row, list[str]]], done: dict[int, WriteOutcome],
             conn: Connection) -> list[int]:
        """``untangle``'s step: in one savepoint, the cycle's unique columns set to NULL, then
        each item written; kept (ok outcomes to ``done``) when every item got through, else
        rolled back whole: the items that failed."""
        savepoint = self.begin_savepoint(conn)
        try:
            for index in cycle:
                key, columns = frees[index]
                conn.execute(upsert.update_statement(self.target, columns),
                             upsert.update_params(self.target, columns, key))
            results = {index: self.retry(changes, index, conn) for index in cycle}
        except SQLAlchemyError as exc:
            self.raise_unwritable(exc)
            results = {}
        failed = [i for i in cycle if i not in results or not results[i].ok]
        self.end_savepoint(savepoint, keep=not failed)
        if not failed:
            done.update(results)
        return failed

    def in_savepoint(self, conn: Connection, segments: Sequence[Segment]) -> dict[int, list[Row]]:
        """Apply segments in a savepoint of ``conn``'s transaction, rolled back to if they fail;
        LostTransaction when the savepoint cannot be rolled back to or released (the database
        ended the transaction), ConnectError when the target cannot be written at all."""
        savepoint = self.begin_savepoint(conn)
        try:
            made = self.apply_all(conn, segments)
        except (SQLAlchemyError, MissingRows) as exc:
            if isinstance(exc, SQLAlchemyError):
                self.raise_unwritable(exc)
            self.end_savepoint(savepoint, keep=False)
            raise
        self.end_savepoint(savepoint, keep=True)
        return made

    def begin_savepoint(self, conn: Connection) -> NestedTransaction:
        """A savepoint of ``conn``'s transaction; LostTransaction when none can be made (the
        database ended the transaction), ConnectError when the target cannot be written."""
        try:
            return conn.begin_nested()
        except SQLAlchemyError as exc:
            self.raise_unwritable(exc)
            raise LostTransaction from exc

    def end_savepoint(self, savepoint: NestedTransaction, *, keep: bool) -> None:
        """Release the savepoint (``keep``) or roll back to it; LostTransaction when the
        database ended the transaction meanwhile."""
        try:
            if keep:
                savepoint.commit()
            else:
                savepoint.rollback()
        except SQLAlchemyError as exc:
            self.raise_unwritable(exc)
            raise LostTransaction from exc

    def run(self, changes: Sequence[Change]) -> dict[int, list[Row]]:
        """Plan and apply changes as one batch in one transaction; raise when it fails."""
        refused: dict[int, WriteOutcome] = {}
        segments = self.plan(changes, range(len(changes)), refused)
        if refused:
            raise Refused(next(iter(refused.values())).error)
        return self.execute(segments)

    def retry(self, changes: Sequence[Change], index: int, conn: Connection | None = None,
              collided: list[int] | None = None) -> WriteOutcome:
        """Write one item alone, reporting its own error: in its own transaction, or in a
        savepoint of ``conn``'s (then an ok outcome holds once that transaction commits). An
        item kept out by another row's value of a unique index goes to ``collided``."""
        change = changes[index]
        refused: dict[int, WriteOutcome] = {}
        segments = self.plan(changes, [index], refused)
        if refused:
            return refused[index]
        one = next(iter(segments[0].values()))
        texts = None if conn is None else self.raw_texts(segments)
        if texts is not None:
            assert conn is not None  # (raw_texts is asked with a connection only)
            error = self.raw_savepoint(conn, texts)
            return self.failure(change, index, one, error, collided) if error is not None \
                else ok_outcome(change, one.keys[0])
        try:
            made = self.execute(segments) if conn is None else self.in_savepoint(conn, segments)
        except (MissingRows, SQLAlchemyError) as exc:
            return self.failure(change, index, one, exc, collided)
        return WriteOutcome(change, True, key=made.get(id(one), one.keys)[0])

    def failure(self, change: Change, index: int, one: Group, exc: Exception,
                collided: list[int] | None) -> WriteOutcome:
        """The outcome of one item (``one``, its group) whose write alone failed with ``exc``."""
        if isinstance(exc, MissingRows):
            shown = ", ".join(f"{k}={v!r}" for k, v in (one.keys[0] or {}).items())
            return WriteOutcome(change, False, f"no row with {shown} to update", gone=True)
        if isinstance(exc, IntegrityError):
            if one.shape.op == "insert_key" and not self.target.other_unique:
                shown = ", ".join(f"{k}={v!r}" for k, v in (one.keys[0] or {}).items())
                return WriteOutcome(change, False, f"a row with {shown} is in the table but not "
                                    "in the select (its WHERE or row limit leaves it out); it "
                                    "is not written over")
            if unique_violation(exc):
                if collided is not None:
                    collided.append(index)
                return WriteOutcome(change, False, one_line(exc, self.provider._secret),
                                    collided=True)
            rowid = self.rowid_alias()
            if rowid is not None and "datatype mismatch" in str(exc.orig):
                value = (one.keys[0] or {}).get(rowid)
                shown = "" if value is None else f" {value!r} cannot be stored:"
                return WriteOutcome(change, False, f"{rowid}:{shown} SQLite's INTEGER PRIMARY "
                                    "KEY holds whole numbers only (datatype mismatch)")
        return WriteOutcome(change, False, one_line(exc, self.provider._secret))

    def rowid_alias(self) -> str | None:
        """On SQLite, the table's INTEGER PRIMARY KEY column (its rowid), the one column that
        refuses a value of another type; else None."""
        if self.dialect.name != "sqlite":
            return None
        return select.rowid_alias(self.target.table)

    def plan(self, changes: Sequence[Change], indices: Iterable[int],
             outcomes: Refusals) -> list[Segment]:
        """Rows grouped by shape; a key seen again starts new groups. Refusals go to outcomes."""
        entries = self.entries
        one_key = len(self.target.keys) == 1
        n_keys = len(self.target.keys)
        segments: list[Segment] = []
        groups: Segment = {}
        seen: set[Any] = set()
        last: Group | None = None
        for i in indices:
            change = changes[i]
            key_dict, values = change.key, change.values
            sig = (change.op, *key_dict, _SEP, *values)
            entry = entries.get(sig)
            if entry is None:
                entry = self.entry(sig)
            shape = entry.shape
            okey: Row | None = None
            row: Params | None = None
            if shape is not None:
                try:
                    row = entry.make(key_dict, values)  # type: ignore[misc]  # set with the shape
                except CONVERT_ERRORS:
                    row = None  # the general path below names the value and its column
                if row is None:
                    shape = None
                elif one_key:
                    key = row[0]
                    if key is None:
                        shape = None
                else:
                    key = row[:n_keys]
                    if None in key:
                        shape = None
                if shape is not None:
                    okey = key_dict if entry.reuse_key else \
                        self.outcome_key(shape, entry.key_get(key_dict))  # type: ignore[misc]
            if shape is None:
                if entry.error:
                    outcomes[i] = WriteOutcome(change, False, entry.error)
                    continue
                try:
                    shape, raw_key, row = self.prepare(change)
                except Refused as exc:
                    outcomes[i] = WriteOutcome(change, False, str(exc))
                    continue
                if shape.convert:
                    try:
                        row = converted(shape, row, self.target.table, self.dialect)
                    except Refused as exc:
                        outcomes[i] = WriteOutcome(change, False, str(exc))
                        continue
                if shape.op != "insert":
                    okey = self.outcome_key(shape, raw_key)
                    key = row[0] if one_key else row[:n_keys]
            if shape.op != "insert":
                if key in seen:
                    segments.append(groups)
                    groups, seen, last = {}, set(), None
                seen.add(key)
            if last is None or last.shape is not shape:
                last = groups.get(shape)
                if last is None:
                    last = groups[shape] = Group(shape)
            assert row is not None  # made above, by the entry or the general path
            last.indices.append(i)
            last.rows.append(row)
            last.keys.append(okey)
        segments.append(groups)
        return segments

    # -- forms and shapes ------------------------------------------------------------------------

    def entry(self, sig: tuple[Any, ...]) -> Entry:
        """Check a form's names once: an error, a fast row recipe, or the general path."""
        split = sig.index(_SEP)
        op, key_names, value_names = sig[0], sig[1:split], sig[split + 1:]
        keys = self.target.keys
        entry = Entry()
        self.entries[sig] = entry
        key_source: dict[str, str] = {}
        for name in key_names:
            column = self.table_fold.get(name.casefold())
            if column is None or column not in keys:
                entry.error = f"{name!r} is not a key column ({', '.join(keys)})"
                return entry
            key_source.setdefault(column, name)
        complete = len(key_source) == len(key_names) and set(key_source) == set(keys)
        columns: list[str] = []
        sources: list[str] = []
        if op != ChangeOp.DELETE:
            for name in value_names:
                column = self.by_fold.get(name.casefold())
                if column is None:
                    entry.error = f"unknown column {name!r}"
                    return entry
                if column in keys or self.columns[column].read_only:
                    continue  # keys come from the key; read-only columns are the database's
                if column in columns:
                    complete = False  # one column spelled twice: let prepare pick as before
                    continue
                columns.append(column)
                sources.append(name)
        if not complete:
            return entry  # a missing key (maybe generated, or in the values): general path
        op_name = {ChangeOp.CREATE: "upsert", ChangeOp.UPDATE: "update",
                   ChangeOp.DELETE: "delete"}[op]
        shape = self.shape(op_name, tuple(columns))
        entry.shape = shape
        getter = itemgetter(*(key_source[k] for k in keys))
        entry.key_get = (lambda d: (getter(d),)) if len(keys) == 1 else getter
        entry.make = row_maker([key_source[k] for k in keys], sources, dict(shape.convert))
        entry.sources = (*(key_source[k] for k in keys), *sources)
        entry.reuse_key = not shape.key_pre and all(key_source[k] == k for k in keys)
        return entry

    def shape(self, op: str, columns: tuple[str, ...]) -> Shape:
        """The (cached) shape of an operation on these non-key columns."""
        target = self.target
        if op == "upsert" and target.update_only:
            op = "update"  # the key cannot be written: an upsert only updates
        elif op == "upsert" and (target.partial or target.other_unique):
            op = "insert_key"  # never over a row the select does not show, or another row
        found = self.shapes.get((op, columns))
        if found is not None:
            return found
        fast = self.statements is not None and (
            (op == "upsert" and target.unique)
            or (op == "update" and (target.unique or target.update_only)))
        names = columns if op == "insert" else (*target.keys, *columns)
        table = target.table
        convert: list[tuple[int, Callable[[Any], Any]]] = []
        for position, name in enumerate(names):
            sql_type = table.c[name].type
            func = types.bind_converter(sql_type, self.dialect) if fast \
                else types.pre_converter(sql_type)
            if func is not None:
                convert.append((position, func))
        key_pre: list[tuple[int, Callable[[Any], Any]]] = []
        if op != "insert":
            for position, name in enumerate(target.keys):
                func = types.pre_converter(table.c[name].type)
                if func is not None:
                    key_pre.append((position, func))
        made = Shape(op, columns, names, fast, tuple(convert), tuple(key_pre))
        self.shapes[(op, columns)] = made
        return made

    def outcome_key(self, shape: Shape, key: Params) -> Row:
        """The key an outcome reports: table-spelled, values as bound (pre_converter)."""
        if shape.key_pre:
            values = list(key)
            for position, convert in shape.key_pre:
                values[position] = convert(values[position])
            return dict(zip(self.target.keys, values, strict=True))
        return dict(zip(self.target.keys, key, strict=True))

    def prepare(self, change: Change) -> tuple[Shape, Params, Params]:
        """The general path for one change: its shape, raw key values and raw row."""
        table_keys = self.target.keys
        key: Row = {}
        for name, value in change.key.items():
            column = self.table_fold.get(name.casefold())
            if column is None or column not in table_keys:
                raise Refused(f"{name!r} is not a key column ({', '.join(table_keys)})")
            key[column] = value
        missing = [k for k in table_keys if key.get(k) is None]
        if change.op == ChangeOp.DELETE:
            if missing:
                raise Refused(f"delete without a value for key column {missing[0]!r}")
            return self.shape("delete", ()), tuple(key[k] for k in table_keys), \
                tuple(key[k] for k in table_keys)
        values: Row = {}
        for name, value in change.values.items():
            column = self.by_fold.get(name.casefold())
            if column is None:
                raise Refused(f"unknown column {name!r}")
            if column in table_keys:
                if key.get(column) is None and value is not None:
                    key[column] = value
                continue
            if self.columns[column].read_only:
                continue  # set by the database (identity, computed, rowversion)
            values[column] = value
        missing = [k for k in table_keys if key.get(k) is None]
        columns = tuple(values)
        if missing:
            if change.op == ChangeOp.CREATE and self.target.generated and not any(
                    v is not None for v in key.values()):
                return self.shape("insert", columns), (), tuple(values.values())
            raise Refused(f"{change.op.value} without a value for key column {missing[0]!r}")
        op = "upsert" if change.op == ChangeOp.CREATE else "update"
        key_values = tuple(key[k] for k in table_keys)
        return self.shape(op, columns), key_values, key_values + tuple(values.values())

    # -- statements ------------------------------------------------------------------------------

    def execute(self, segments: Sequence[Segment]) -> dict[int, list[Row]]:
        """Apply segments in one transaction; generated keys by ``id(group)`` (inserts only)."""
        conn = self.connect()
        try:
            with conn, conn.begin():
                made = self.apply_all(conn, segments)
        except SQLAlchemyError as exc:
            self.raise_unwritable(exc)
            raise  # this batch's own failure: retried in parts, down to each item
        return made

    def connect(self) -> Connection:
        """A connection to the target (ConnectError when it cannot be made)."""
        engine = self.provider.engine()
        try:
            return engine.connect()
        except SQLAlchemyError as exc:
            raise ConnectError(self.provider._cannot_connect(exc)) from None

    def apply_all(self, conn: Connection, segments: Sequence[Segment]) -> dict[int, list[Row]]:
        """Apply segments on ``conn``; generated keys by ``id(group)`` (inserts only)."""
        made: dict[int, list[Row]] = {}
        for segment in segments:
            for group in segment.values():
                keys = self.apply(conn, group)
                if keys is not None:
                    made[id(group)] = keys
        return made

    def raise_unwritable(self, exc: SQLAlchemyError) -> None:
        """ConnectError when ``exc`` means no write to the target can succeed now."""
        reason = unwritable(exc)
        if reason is None:
            return
        target = self.provider.target
        raise ConnectError(f"cannot write to {target.title} at {target.server}: "
                           f"{one_line(exc, self.provider._secret)}{reason}") from None

    def apply(self, conn: Connection, group: Group) -> list[Row] | None:
        """One group's statement(s): same operation and columns, no key twice."""
        shape, rows, target = group.shape, group.rows, self.target
        if shape.fast:
            statements = self.statements
            assert statements is not None
            if shape.op == "upsert":
                statements.upsert(conn, shape.columns, rows)
            elif shape.columns:
                count = statements.update(conn, shape.columns, rows)
                if 0 <= count < len(rows):
                    if target.update_only:
                        raise MissingRows(f"{len(rows) - count} of {len(rows)} rows not found")
                    statements.upsert(conn, shape.columns, rows)  # rows there are set again
            return None
        names = shape.names
        dicts = [dict(zip(names, row, strict=True)) for row in rows]
        columns = list(shape.columns)
        if shape.op == "delete":
            upsert.delete(conn, target, dicts)
        elif shape.op == "insert_key":
            upsert.insert(conn, target, columns, dicts)
        elif shape.op == "insert":
            return upsert.insert_returning_keys(conn, target, columns, dicts)
        elif shape.op == "update":
            upsert.update(conn, target, columns, dicts)
        else:
            upsert.upsert(conn, target, columns, dicts)
        return None


def _same_key(a: Row, b: Row) -> bool:
    """Whether two keys name one row (their values compared as text: the database's own and a
    change's may differ in type, 2 and '2')."""
    return a.keys() == b.keys() and all(str(a[k]) == str(b[k]) for k in a)
