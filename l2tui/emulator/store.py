"""The emulator's data: rows per table, a global version counter and tombstones."""

from __future__ import annotations

import bisect
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

from .errors import DUPLICATE_RECORD, DUPLICATE_RECORD_ENTITY_KEY, ODataError, not_found
from .schema import CURRENCY_ID, TABLES, Table
from .values import Key, fmt_datetime, new_guid, normalize

Row = dict[str, Any]


@dataclass
class _TableData:
    table: Table
    rows: dict[str, Row] = field(default_factory=dict)
    tombstones: list[tuple[int, str]] = field(default_factory=list)  # (version, id), ascending
    # every (version, id) a row was given, ascending: a delta reads its tail, not every row (an
    # entry whose row has moved on since, or was deleted, is passed over)
    versions: list[tuple[int, str]] = field(default_factory=list)
    sorted_ids: list[str] | None = None
    # per alternate key (its columns): the id of the row holding each set of values, folded
    keyed: dict[tuple[str, ...], dict[tuple[Any, ...], str]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.keyed = {key: {} for key in self.table.alternate_keys}

    def index(self, row: Row, add: bool) -> None:
        """Enter a row's alternate-key values in the index (add), or take them out."""
        guid = row[self.table.primary_id]
        for key, holders in self.keyed.items():
            values = _key_values(row, key)
            if values is None:
                continue
            if add:
                holders[values] = guid
            elif holders.get(values) == guid:
                del holders[values]

    def holder(self, key: tuple[str, ...], row: Row) -> str | None:
        """The id of the row whose values of the alternate key ``key`` are ``row``'s."""
        values = _key_values(row, key)
        return None if values is None else self.keyed[key].get(values)


class Store:
    """Thread-safe rows of every table; rows are replaced, never mutated (copy on write)."""

    def __init__(self, tables: tuple[Table, ...] = TABLES, clock: Callable[[], float] = time.time):
        self.lock = threading.RLock()
        self.clock = clock
        self.version = 1000
        self.tables = {t.entity_set: t for t in tables}
        self._data = {t.entity_set: _TableData(t) for t in tables}
        self._undo: list[Callable[[], None]] | None = None

    # -- helpers -----------------------------------------------------------------------

    def table(self, entity_set: str) -> Table:
        """The table behind an entity set (KeyError if unknown)."""
        return self._data[entity_set].table

    def _next_version(self) -> int:
        self.version += 1
        return self.version

    def _now(self) -> str:
        return fmt_datetime(self.clock())

    def resolve(self, entity_set: str, key: Key) -> str | None:
        """The id of the row a key (GUID or alternate key dict) names, or None."""
        with self.lock:
            data = self._data.get(entity_set)
            if data is None:
                return None
            if isinstance(key, str):
                return key if key in data.rows else None
            row = self.find_by_key(entity_set, key)
            return row[data.table.primary_id] if row else None

    def find(self, entity_set: str, guid: str) -> Row | None:
        """The stored row (shared, do not mutate) or None."""
        return self._data[entity_set].rows.get(guid.lower())

    def find_by_key(self, entity_set: str, key: dict[str, Any]) -> Row | None:
        """The row whose columns equal an alternate key (strings case-insensitive)."""
        data = self._data[entity_set]
        wanted = {k: _fold(v) for k, v in key.items()}
        with self.lock:
            names = next((k for k in data.keyed if sorted(k) == sorted(key)), None)
            if names is not None:
                guid = data.holder(names, key)
                return data.rows.get(guid) if guid is not None else None
            for row in data.rows.values():
                if all(_fold(row.get(k)) == v for k, v in wanted.items()):
                    return row
        return None

    def sorted_ids(self, entity_set: str) -> list[str]:
        """Ids of live rows in ascending order (cached until the next insert or delete)."""
        data = self._data[entity_set]
        with self.lock:
            if data.sorted_ids is None:
                data.sorted_ids = sorted(data.rows)
            return data.sorted_ids

    def live_rows(self, entity_set: str) -> dict[str, Row]:
        """The live rows by id (shared, do not mutate; hold the lock while iterating)."""
        return self._data[entity_set].rows

    def changes(self, entity_set: str, since: int, upto: int) -> tuple[list[Row], list[tuple[int, str]]]:
        """Rows changed and tombstones recorded with since < version <= upto, by version."""
        data = self._data[entity_set]
        with self.lock:
            changed = []
            rows = data.rows
            for version, guid in data.versions[bisect.bisect_right(data.versions,
                                                                   (since, "\uffff")):]:
                if version > upto:
                    break
                row = rows.get(guid)
                if row is not None and row["versionnumber"] == version:
                    changed.append(row)
            start = bisect.bisect_right(data.tombstones, (since, "\uffff"))
            deleted = [
                t for t in data.tombstones[start:] if t[0] <= upto and t[1] not in data.rows
            ]
        return changed, deleted

    # -- transactions ----------------------------------------------------------------

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """All writes inside are undone if the block raises (used by $batch change sets)."""
        with self.lock:
            outer = self._undo
            undo: list[Callable[[], None]] = []
            self._undo = undo
            try:
                yield
            except BaseException:
                for step in reversed(undo):
                    step()  # the version counter stays: version numbers are never reused
                raise
            finally:
                self._undo = outer
            if outer is not None:
                outer.extend(undo)

    def _record(self, step: Callable[[], None]) -> None:
        if self._undo is not None:
            self._undo.append(step)

    def _put(self, data: _TableData, guid: str, row: Row | None) -> None:
        old = data.rows.get(guid)
        if old is not None:
            data.index(old, add=False)
        if row is None:
            del data.rows[guid]
        else:
            data.rows[guid] = row
            data.index(row, add=True)
            data.versions.append((row["versionnumber"], guid))
        if (old is None) != (row is None):
            data.sorted_ids = None
        self._record(lambda: self._restore(data, guid, old))

    def _restore(self, data: _TableData, guid: str, old: Row | None) -> None:
        now = data.rows.pop(guid, None)
        if now is not None:
            data.index(now, add=False)
        if old is not None:
            data.rows[guid] = old
            data.index(old, add=True)
        data.sorted_ids = None

    @staticmethod
    def _check_unique(data: _TableData, row: Row) -> None:
        """412 DuplicateRecordEntityKey when another row holds the row's alternate-key values
        (a key with an empty column is not checked, as Dataverse's filtered index does not)."""
        guid = row[data.table.primary_id]
        for key in data.keyed:
            holder = data.holder(key, row)
            if holder is not None and holder != guid:
                values = ", ".join(str(row[name]) for name in key)
                raise ODataError(
                    412, DUPLICATE_RECORD_ENTITY_KEY,
                    f"A record that has the attribute values {values} already exists. The "
                    f"entity key {_key_name(data.table, key)} requires that this set of "
                    "attributes contains unique values. Select unique values and try again.")

    # -- writes with normalized values ----------------------------------------------

    def create_row(self, entity_set: str, values: dict[str, Any], guid: str | None = None) -> Row:
        """Create a row from normalized values; 412 DuplicateRecord if the id exists."""
        data = self._data[entity_set]
        table = data.table
        with self.lock:
            guid = (guid or values.get(table.primary_id) or new_guid()).lower()
            if guid in data.rows:
                raise ODataError(412, DUPLICATE_RECORD,
                                 "A record with matching key values already exists.")
            now = self._now()
            row: Row = {prop: None for prop in table.props}
            if "statecode" in row:
                row["statecode"], row["statuscode"] = 0, 1
            if "_transactioncurrencyid_value" in row:
                row["_transactioncurrencyid_value"] = CURRENCY_ID
            row.update(values)
            row[table.primary_id] = guid
            row["createdon"] = values.get("createdon") or now
            row["modifiedon"] = values.get("modifiedon") or now
            _compute(table, row)
            self._check_unique(data, row)
            row["versionnumber"] = self._next_version()
            self._put(data, guid, row)
            return row

    def update_row(self, entity_set: str, guid: str, values: dict[str, Any]) -> Row:
        """Update a row with normalized values; 404 if missing."""
        data = self._data[entity_set]
        table = data.table
        with self.lock:
            old = data.rows.get(guid.lower())
            if old is None:
                raise _missing(table, guid)
            row = dict(old)
            row.update(values)
            row[table.primary_id] = old[table.primary_id]
            row["createdon"] = old["createdon"]
            row["modifiedon"] = self._now()
            _compute(table, row)
            self._check_unique(data, row)
            row["versionnumber"] = self._next_version()
            self._put(data, row[table.primary_id], row)
            return row

    def delete_row(self, entity_set: str, guid: str) -> None:
        """Delete a row and record a tombstone; 404 if missing."""
        data = self._data[entity_set]
        with self.lock:
            guid = guid.lower()
            if guid not in data.rows:
                raise _missing(data.table, guid)
            self._put(data, guid, None)
            tombstone = (self._next_version(), guid)
            data.tombstones.append(tombstone)
            self._record(lambda: data.tombstones.remove(tombstone))

    def load(self, entity_set: str, rows: list[Row]) -> None:
        """Bulk-load seed rows (complete rows, versions assigned in order)."""
        data = self._data[entity_set]
        with self.lock:
            for row in rows:
                row["versionnumber"] = self._next_version()
                _compute(data.table, row)
                data.rows[row[data.table.primary_id]] = row
                data.index(row, add=True)
                data.versions.append((row["versionnumber"], row[data.table.primary_id]))
            data.sorted_ids = None

    # -- out-of-band API (another Dynamics user) ------------------------------------

    def insert(self, entity_set: str, values: dict[str, Any]) -> str:
        """Create a row as another user would; returns its id."""
        table = self.table(entity_set)
        with self.lock:
            norm = normalize(table, values, creating=True, resolve=self.resolve, lenient=True)
            return str(self.create_row(entity_set, norm)[table.primary_id])

    def update(self, entity_set: str, guid: str, values: dict[str, Any]) -> None:
        """Change a row as another user would."""
        table = self.table(entity_set)
        with self.lock:
            norm = normalize(table, values, creating=False, resolve=self.resolve, lenient=True)
            norm.pop(table.primary_id, None)
            self.update_row(entity_set, guid, norm)

    def delete(self, entity_set: str, guid: str) -> None:
        """Delete a row as another user would."""
        self.delete_row(entity_set, guid)

    def get(self, entity_set: str, guid: str) -> Row | None:
        """A copy of one row, or None."""
        with self.lock:
            row = self.find(entity_set, guid)
            return dict(row) if row is not None else None

    def rows(self, entity_set: str) -> list[Row]:
        """Copies of all live rows, in id order."""
        with self.lock:
            data = self._data[entity_set]
            return [dict(data.rows[g]) for g in self.sorted_ids(entity_set)]

    def count(self, entity_set: str) -> int:
        """The number of live rows."""
        with self.lock:
            return len(self._data[entity_set].rows)


def _fold(value: Any) -> Any:
    """A key value as Dataverse's SQL Server compares it: in any case, trailing blanks ignored
    (``'AC-1 '`` is ``'ac-1'``)."""
    return value.casefold().rstrip(" ") if isinstance(value, str) else value


def _key_values(row: Row, key: tuple[str, ...]) -> tuple[Any, ...] | None:
    """A row's values of an alternate key, folded; None when one of them is empty."""
    values = tuple(_fold(row.get(name)) for name in key)
    return None if any(v is None or v == "" for v in values) else values


def _key_name(table: Table, key: tuple[str, ...]) -> str:
    """The display name Dataverse gives an alternate key: its columns', then "Key"."""
    names = [next((c.display for c in table.columns if c.prop == name), name) for name in key]
    return " ".join(names) + " Key"


def _compute(table: Table, row: Row) -> None:
    if table.logical == "contact":
        parts = [row.get("firstname"), row.get("lastname")]
        row["fullname"] = " ".join(p for p in parts if p) or None


def _missing(table: Table, guid: str) -> ODataError:
    return not_found(f"{table.logical} With Id = {guid} Does Not Exist", code="")
