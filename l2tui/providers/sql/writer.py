"""Apply a list of Changes in batches: one transaction per batch, per-item retry when one fails."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from sqlalchemy.engine import Connection
from sqlalchemy.exc import SQLAlchemyError

from l2tui.errors import ConnectError
from l2tui.providers.base import Change, ChangeOp, Column, WriteOutcome
from l2tui.providers.sql import types, upsert
from l2tui.providers.sql.errors import one_line
from l2tui.providers.sql.upsert import MissingRows, WriteTarget

if TYPE_CHECKING:
    from l2tui.providers.sql.provider import SqlProvider

Row = dict[str, Any]


class Refused(Exception):
    """A change that cannot be written at all (unknown column, missing key)."""


@dataclass
class Item:
    """One change ready to write: table-spelled key and values, bound-ready."""

    index: int
    change: Change
    op: str  # upsert | update | insert | delete
    key: Row
    values: Row = field(default_factory=dict)

    def row(self) -> Row:
        """Key and values together."""
        return {**self.key, **self.values}


class Writer:
    """Writes changes to one table for a SqlProvider."""

    def __init__(self, provider: SqlProvider, target: WriteTarget, columns: Sequence[Column],
                 batch_size: int) -> None:
        self.provider = provider
        self.target = target
        self.batch_size = max(1, batch_size)
        self.columns = {c.name: c for c in columns}
        self.by_fold = {c.name.casefold(): c.name for c in columns}
        table = target.table
        self.table_fold = {c.name.casefold(): c.name for c in table.c}

    def write(self, changes: Sequence[Change]) -> list[WriteOutcome]:
        """One outcome per change, in order."""
        outcomes: list[WriteOutcome | None] = [None] * len(changes)
        items: list[Item] = []
        for i, change in enumerate(changes):
            try:
                items.append(self.prepare(i, change))
            except Refused as exc:
                outcomes[i] = WriteOutcome(change, False, str(exc))
        for start in range(0, len(items), self.batch_size):
            batch = items[start:start + self.batch_size]
            try:
                made = self.run(batch)
            except (SQLAlchemyError, MissingRows):
                for item in batch:
                    outcomes[item.index] = self.retry(item)
                continue
            for item in batch:
                outcomes[item.index] = WriteOutcome(item.change, True,
                                                    key=made.get(item.index, dict(item.key)))
        return [o for o in outcomes if o is not None]

    def retry(self, item: Item) -> WriteOutcome:
        """Write one item alone, reporting its own error."""
        try:
            made = self.run([item])
        except MissingRows:
            shown = ", ".join(f"{k}={v!r}" for k, v in item.key.items())
            return WriteOutcome(item.change, False, f"no row with {shown} to update")
        except SQLAlchemyError as exc:
            return WriteOutcome(item.change, False, one_line(exc, self.provider._secret))
        return WriteOutcome(item.change, True, key=made.get(item.index, dict(item.key)))

    def prepare(self, index: int, change: Change) -> Item:
        """Check a change against the table and convert its values for binding."""
        table = self.target.table
        key: Row = {}
        for name, value in change.key.items():
            column = self.table_fold.get(name.casefold())
            if column is None or column not in self.target.keys:
                raise Refused(f"{name!r} is not a key column ({', '.join(self.target.keys)})")
            key[column] = types.to_db(value, table.c[column].type)
        missing = [k for k in self.target.keys if key.get(k) is None]
        if change.op == ChangeOp.DELETE:
            if missing:
                raise Refused(f"delete without a value for key column {missing[0]!r}")
            return Item(index, change, "delete", key)
        values: Row = {}
        for name, value in change.values.items():
            column = self.by_fold.get(name.casefold())
            if column is None:
                raise Refused(f"unknown column {name!r}")
            if column in self.target.keys:
                if key.get(column) is None and value is not None:
                    key[column] = types.to_db(value, table.c[column].type)
                continue
            if self.columns[column].read_only:
                continue  # set by the database (identity, computed, rowversion)
            values[column] = types.to_db(value, table.c[column].type)
        missing = [k for k in self.target.keys if key.get(k) is None]
        if missing:
            if change.op == ChangeOp.CREATE and self.target.generated and not any(
                    v is not None for v in key.values()):
                return Item(index, change, "insert", {}, values)
            raise Refused(f"{change.op.value} without a value for key column {missing[0]!r}")
        return Item(index, change, "upsert" if change.op == ChangeOp.CREATE else "update", key,
                    values)

    def run(self, items: Sequence[Item]) -> dict[int, Row]:
        """Apply items in one transaction; return generated keys by change index."""
        engine = self.provider.engine()
        try:
            conn = engine.connect()
        except SQLAlchemyError as exc:
            raise ConnectError(self.provider._cannot_connect(exc)) from None
        made: dict[int, Row] = {}
        with conn, conn.begin():
            for group in plan(items):
                made.update(self.apply(conn, group))
        return made

    def apply(self, conn: Connection, group: list[Item]) -> dict[int, Row]:
        """One statement group: same operation and columns, no key twice."""
        first = group[0]
        columns = sorted(first.values)
        if first.op == "delete":
            upsert.delete(conn, self.target, [i.key for i in group])
        elif first.op == "insert":
            keys = upsert.insert_returning_keys(conn, self.target, columns,
                                                [i.values for i in group])
            return {item.index: key for item, key in zip(group, keys, strict=True)}
        elif first.op == "update":
            upsert.update(conn, self.target, columns, [i.row() for i in group])
        else:
            upsert.upsert(conn, self.target, columns, [i.row() for i in group])
        return {}


def plan(items: Sequence[Item]) -> list[list[Item]]:
    """Group items by (operation, columns); a key seen again starts new groups, keeping order."""
    out: list[list[Item]] = []
    groups: dict[tuple[str, tuple[str, ...]], list[Item]] = {}
    pending: set[tuple[Any, ...]] = set()
    for item in items:
        marker = tuple(item.key.values()) if item.key else ("#", item.index)
        if marker in pending:
            out.extend(groups.values())
            groups, pending = {}, set()
        groups.setdefault((item.op, tuple(sorted(item.values))), []).append(item)
        pending.add(marker)
    out.extend(groups.values())
    return out
