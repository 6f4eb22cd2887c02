"""The per-connection state store (SQLite, WAL): matched pairs, cursors, runs, conflicts."""

from __future__ import annotations

import contextlib
import errno
import itertools
import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from decimal import Decimal
from operator import itemgetter
from pathlib import Path
from typing import Any
from urllib.parse import quote

from l2tui.config.files import keep_private, make_folder, open_unfollowed
from l2tui.errors import RunError
from l2tui.sqlite_rows import insert_rows
from l2tui.sqlite_wal import checkpoint_behind, keep_wal_on_close, sync_wal
from l2tui.sync.normalize import exact_json

_first = itemgetter(0)


def _keys_json(keys: Iterable[str]) -> str:
    """Match keys as one JSON array, for ``json_each(?)``: one parameter for a whole page."""
    return json.dumps(list(keys), ensure_ascii=False)


KEEP_DAYS = 30
"""A connection keeps its runs of this many days (their history, conflicts and log files)…"""
KEEP_RUNS = 100
"""…and always its latest this many runs, however old: a run every 15 minutes from cron adds
96 a day, which would otherwise grow without end."""

MAX_INTEGER = 2**63 - 1
"""SQLite's largest integer: a run number or limit past it (typed by a person) is not asked."""

PAGE_SIZE = 8192
"""The page size of a state made new (SQLite's default is 4096)."""

STATE_VERSION = 1
"""The state's schema version (``PRAGMA user_version``), set when a state is made or upgraded: a
state of a newer version, a newer l2tui's, is refused, not written to (0: made before states had
one, upgraded as any older state)."""

SCHEMA = """
CREATE TABLE IF NOT EXISTS meta (name TEXT PRIMARY KEY, value TEXT);
CREATE TABLE IF NOT EXISTS items (
    mkey TEXT PRIMARY KEY,   -- canonical match-key value
    lkey TEXT,               -- left provider key (JSON list); NULL: gone on the left, ignored
    rkey TEXT,
    hash TEXT NOT NULL,      -- hash of the mapped values as last synced ('' = never agreed)
    lhash TEXT,              -- last seen hash per side while a conflict is open
    rhash TEXT,
    seen INTEGER,            -- run that handled the item
    lver TEXT,               -- the side's version (ETag) when it last agreed with hash
    rver TEXT
);
-- Provider keys are mostly the match key itself (a GUID key): index only those that differ,
-- so that a run inserting many random keys maintains one index, not three. Look-ups by key
-- read the primary key for the rest (see lookup_keys and unhandled).
DROP INDEX IF EXISTS items_lkey;
DROP INDEX IF EXISTS items_rkey;
CREATE INDEX IF NOT EXISTS items_lkey_other ON items(lkey) WHERE lkey != mkey;
CREATE INDEX IF NOT EXISTS items_rkey_other ON items(rkey) WHERE rkey != mkey;
-- The rare rows a run asks about before anything else (open conflicts, detached pairs): small
-- partial indexes, so that a run's start reads them instead of the whole table.
CREATE INDEX IF NOT EXISTS items_open ON items(mkey) WHERE lhash IS NOT NULL OR rhash IS NOT NULL;
CREATE INDEX IF NOT EXISTS items_lkey_null ON items(mkey) WHERE lkey IS NULL;
CREATE INDEX IF NOT EXISTS items_rkey_null ON items(mkey) WHERE rkey IS NULL;
CREATE TABLE IF NOT EXISTS runs (
    id INTEGER PRIMARY KEY,
    started REAL NOT NULL,
    finished REAL,
    outcome TEXT,
    counts TEXT,
    message TEXT
);
CREATE TABLE IF NOT EXISTS conflicts (
    id INTEGER PRIMARY KEY,
    run INTEGER NOT NULL,
    at REAL NOT NULL,
    mkey TEXT NOT NULL,
    resolution TEXT NOT NULL,
    left_values TEXT,
    right_values TEXT,
    settled INTEGER,         -- the later run that settled one recorded as not settled
    policy TEXT              -- the rule that settled it (conflict_resolution), NULL before kept
);
-- a run's conflicts (l2tui conflicts --run N), and those of the runs a finished run lets go
CREATE INDEX IF NOT EXISTS conflicts_run ON conflicts(run);
-- items the last run failed (an item error) after which it kept its new change-tracking
-- cursor: the next run reads them again by key, as if its delta named them (``retries``)
CREATE TABLE IF NOT EXISTS retry (
    mkey TEXT PRIMARY KEY,
    lkey TEXT,               -- the item's left provider key, where known (JSON list)
    rkey TEXT
);
"""

ITEM_COLUMNS = "mkey, lkey, rkey, hash, lhash, rhash"
UNSETTLED = "_failed"
"""Ends the resolution of a recorded conflict whose winning write failed ("left_wins_failed"):
not settled; a later run that makes the write settles it, not recording it again."""
STALE = "?"
"""The hash of a pair synced under other settings (``StateStore.rematch``): it was a pair, but
its values' hash means nothing under the new mapping or selects."""
SaveRow = tuple[str, str | None, str | None, str, str | None, str | None, int, str | None,
                str | None]
"""A pair to save: mkey, lkey, rkey, hash, lhash, rhash, run, left version, right version."""


@dataclass(slots=True)
class StateRow:
    """One matched pair as the state remembers it (slotted: a run reads one per item)."""

    mkey: str
    lkey: str | None
    rkey: str | None
    hash: str
    lhash: str | None = None
    rhash: str | None = None
    lver: str | None = None  # each side's version when the pair last agreed (``lookup`` alone
    rver: str | None = None  # reads them; elsewhere None: unknown)

    def key(self, side: str) -> str | None:
        """The side's provider key (JSON)."""
        return self.lkey if side == "left" else self.rkey

    def version(self, side: str) -> str | None:
        """The side's version when the pair last agreed (None: unknown or not read)."""
        return self.lver if side == "left" else self.rver

    @property
    def stale(self) -> bool:
        """Whether the pair was synced under other settings, with no conflict open since."""
        return self.hash == STALE and self.lhash is None and self.rhash is None

    def last_hash(self, side: str) -> str:
        """The side's hash as last seen: its open-conflict hash, else the base."""
        seen = self.lhash if side == "left" else self.rhash
        return seen if seen is not None else self.hash


@dataclass(frozen=True)
class RunRecord:
    """One run in the history."""

    id: int
    started: float
    finished: float | None
    outcome: str | None
    counts: dict[str, Any]
    message: str
    log: str | None = None  # its log file's name, in the connection's log folder
    dry: bool = False  # a dry run (one that failed reads "failed", as a real run's would)


class StateReader:
    """Reads one connection's run history and conflicts, never writing (a read-only connection:
    no file is made or changed, a state the user may only read is read, a run is not held up).
    """

    _run_columns = "log, dry"  # (a state older than these columns reads NULL in their place)
    _conflict_columns = "settled, policy"  # (NULL in place of those an older state lacks)
    _tables: frozenset[str]  # the tables the state holds (a file made empty holds none)

    def __init__(self, path: Path) -> None:
        self.path = path
        try:
            _readable(path)
            self.db = _read_only(path)
            _known_version(self.db, path)
            tables = {row[0] for row in self.db.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table'")}
            columns = {row[1] for row in self.db.execute("PRAGMA table_info(runs)")}
            conflict_columns = {row[1] for row in self.db.execute(
                "PRAGMA table_info(conflicts)")}
        except (sqlite3.Error, OSError, StateError) as exc:
            with contextlib.suppress(Exception):
                self.db.close()
            raise state_error(path, exc) from None
        self._tables = frozenset(tables)
        self._run_columns = ", ".join(c if c in columns else "NULL" for c in ("log", "dry"))
        self._conflict_columns = ", ".join(c if c in conflict_columns else "NULL"
                                           for c in ("settled", "policy"))

    def close(self) -> None:
        """Close the connection."""
        self.db.close()

    def conflicts(self, run: int | None = None) -> list[dict[str, Any]]:
        """Recorded conflicts (of one run, or all), each with ``settled``: whether it is (one
        recorded as not settled, skipped or its winning write failed, is settled once a later run
        settled its item), ``settled_by``: that later run, if one did, and ``policy``: the rule
        that settled it (None: recorded by an older l2tui)."""
        if "conflicts" not in self._tables:  # (a state made empty: none recorded)
            return []
        sql = ("SELECT run, at, mkey, resolution, left_values, right_values, "
               f"{self._conflict_columns} FROM conflicts")
        rows = self.db.execute(sql + (" WHERE run = ?" if run else "") + " ORDER BY id",
                               (run,) if run else ()).fetchall()
        return [{"run": r[0], "at": r[1], "key": r[2], "resolution": r[3],
                 "left": json.loads(r[4], parse_float=Decimal),
                 "right": json.loads(r[5], parse_float=Decimal),
                 "settled": r[6] is not None or not settling(r[3]), "settled_by": r[6],
                 "policy": r[7]}
                for r in rows]

    def has_run(self, run: int) -> bool:
        """Whether the history holds run ``run`` (not yet run, or deleted by retention: no)."""
        if run > MAX_INTEGER or "runs" not in self._tables:  # (SQLite cannot be asked about it)
            return False
        return self.db.execute("SELECT 1 FROM runs WHERE id = ?", (run,)).fetchone() is not None

    def runs(self, limit: int = 50, *, real: bool = False, run: int | None = None
             ) -> list[RunRecord]:
        """The latest runs, newest first (``real``: no dry run among them; ``run``: that run
        alone, if the history holds it)."""
        if "runs" not in self._tables:
            return []
        where = "WHERE dry IS NOT 1 " if real and "dry" in self._run_columns else ""
        params: tuple[int, ...] = (min(limit, MAX_INTEGER),)
        if run is not None:
            where, params = f"{where}{'AND' if where else 'WHERE'} id = ? ", (run, *params)
        rows = self.db.execute("SELECT id, started, finished, outcome, counts, message, "
                               f"{self._run_columns} FROM runs {where}ORDER BY id DESC LIMIT ?",
                               params).fetchall()
        return [RunRecord(r[0], r[1], r[2], r[3], json.loads(r[4]) if r[4] else {}, r[5] or "",
                          r[6], r[7] == 1) for r in rows]


class StateStore(StateReader):
    """Reads and writes one connection's state; ``dry`` runs roll everything back at the end."""

    _tables = frozenset({"runs", "conflicts"})  # (made by ``SCHEMA``)

    def __init__(self, path: Path, *, dry: bool = False, log: str | None = None) -> None:
        self.log = log  # the run log's file name, recorded with the run ``start_run`` begins
        try:
            self._open(path, dry)
        except (sqlite3.Error, OSError) as exc:
            with contextlib.suppress(Exception):
                self.db.close()
            raise state_error(path, exc) from None

    def _open(self, path: Path, dry: bool) -> None:
        make_folder(path.parent)
        _private(path)
        self.path = path
        self.dry = dry
        # (asked before anything is written or made: a newer l2tui's state, or a damaged one
        # with its WAL, is left as it was found)
        version = _header_version(path)
        if version is None:  # no SQLite file's header: SQLite says what it is, read-only
            check = _read_only(path)
            try:
                version = _known_version(check, path)
            finally:
                check.close()
        self.db = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False)
        if os.path.lexists(f"{path}-wal") or os.path.lexists(f"{path}-journal"):
            try:  # (the version may be in the WAL: read as is, before this connection writes)
                version = _known_version(self.db, path)
            except NewerState:
                keep_wal_on_close(self.db, path)  # (its close checkpoints no newer l2tui's WAL)
                self.db.close()
                raise
        # a new state's pages (an existing file keeps its own): a first run of 100,000 pairs
        # inserts them with 20-30 % less CPU than in 4 KiB pages (fewer splits and WAL frames),
        # while a page of 1,000 random updates writes 2 times the WAL bytes, not 4 as 16 KiB would
        self.db.execute(f"PRAGMA page_size={PAGE_SIZE}")
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute("PRAGMA busy_timeout=10000")
        # the WAL stays at close, synced; the next store checkpoints it beside its run
        self._keeps_wal = keep_wal_on_close(self.db, path)
        self._checkpoint = None if dry else checkpoint_behind(path)
        self.db.executescript(SCHEMA)
        columns = {row[1] for row in self.db.execute("PRAGMA table_info(items)")}
        for column in ("lver", "rver"):
            if column not in columns:  # a state written before versions were kept
                self.db.execute(f"ALTER TABLE items ADD COLUMN {column} TEXT")
        conflict_columns = {row[1] for row in self.db.execute("PRAGMA table_info(conflicts)")}
        if "settled" not in conflict_columns:
            self.db.execute("ALTER TABLE conflicts ADD COLUMN settled INTEGER")  # (none was)
        if "policy" not in conflict_columns:  # (before the rule was kept: NULL, not known)
            self.db.execute("ALTER TABLE conflicts ADD COLUMN policy TEXT")
        run_columns = {row[1] for row in self.db.execute("PRAGMA table_info(runs)")}
        if "log" not in run_columns:
            self.db.execute("ALTER TABLE runs ADD COLUMN log TEXT")  # (before logs were named)
        if "dry" not in run_columns:  # (before dry runs were told apart: none is)
            self.db.execute("ALTER TABLE runs ADD COLUMN dry INTEGER")
        if version < STATE_VERSION:  # made now, or by an l2tui before this one: upgraded above
            self.db.execute(f"PRAGMA user_version={STATE_VERSION}")
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS handled (mkey TEXT PRIMARY KEY)")
        # pairs a read skipped by version, as last agreed on that side (``note_synced``)
        self.db.execute("CREATE TEMP TABLE IF NOT EXISTS synced (mkey TEXT PRIMARY KEY)")
        self._handled_run: int | None = None
        self._started: float | None = None  # when the run this store started began
        self._json_each = _has_json_each(self.db)
        self.db.execute("BEGIN")

    # -- transactions ----------------------------------------------------------------

    def commit(self) -> None:
        """Make everything so far durable (a no-op for dry runs)."""
        if not self.dry:
            self.db.execute("COMMIT")
            self.db.execute("BEGIN")

    def _checkpointed(self) -> None:
        """Wait for the checkpoint of the WAL the last close left, then start a new snapshot: a
        transaction begun after it reads the database file alone, and its first write starts the
        WAL over (one begun before would append to it, and the run's commit would then reach
        SQLite's own checkpoint threshold and pay for one)."""
        if self._checkpoint is not None:
            self._checkpoint.join()
            self._checkpoint = None
            self.commit()

    def savepoint(self) -> None:
        """Begin what ``release`` keeps or ``undo`` drops, inside the open transaction."""
        self.db.execute("SAVEPOINT ahead")

    def release(self) -> None:
        """Keep what was done since ``savepoint`` (committed with the transaction)."""
        self.db.execute("RELEASE ahead")

    def undo(self) -> None:
        """Drop what was done since ``savepoint``, if one is open."""
        with contextlib.suppress(sqlite3.OperationalError):  # none open: nothing to undo
            self.db.execute("ROLLBACK TO ahead")
            self.db.execute("RELEASE ahead")

    def close(self) -> None:
        """Commit (or, dry, roll back) and close; what was committed is on disk."""
        with contextlib.suppress(sqlite3.Error):
            self.db.execute("ROLLBACK" if self.dry else "COMMIT")
        if self._checkpoint is not None:
            self._checkpoint.join()
        self.db.close()
        if self._keeps_wal and not self.dry:
            sync_wal(self.path)

    # -- meta --------------------------------------------------------------------------

    def get(self, name: str) -> str | None:
        """A meta value (signature, cursors)."""
        row = self.db.execute("SELECT value FROM meta WHERE name = ?", (name,)).fetchone()
        return row[0] if row else None

    def put(self, name: str, value: str | None) -> None:
        """Set or clear a meta value."""
        if value is None:
            self.db.execute("DELETE FROM meta WHERE name = ?", (name,))
        else:
            self.db.execute("INSERT OR REPLACE INTO meta(name, value) VALUES (?, ?)", (name, value))

    def reset(self) -> None:
        """Forget every pair, cursor, signature and item to retry (the run history stays)."""
        self.db.execute("DELETE FROM items")
        self.db.execute("DELETE FROM meta")
        self.db.execute("DELETE FROM retry")

    def retries(self) -> dict[str, tuple[str | None, str | None]]:
        """The items a run failed since its cursor moved past them: match key → (left key,
        right key), each None where unknown (``set_retries``)."""
        return {m: (lk, rk) for m, lk, rk in self.db.execute("SELECT mkey, lkey, rkey FROM retry")}

    def set_retries(self, items: dict[str, tuple[str | None, str | None]]) -> None:
        """Keep these items (and no other) for the next run to read again by key."""
        self.db.execute("DELETE FROM retry")
        self.db.executemany("INSERT INTO retry VALUES (?, ?, ?)",
                            [(m, lk, rk) for m, (lk, rk) in items.items()])

    def rematch(self) -> None:
        """Keep which pairs were synced, but not their hashes, versions and open conflicts
        (``STALE``: they mean nothing under other settings), nor cursors and signature."""
        self.db.execute("UPDATE items SET hash = ?, lhash = NULL, rhash = NULL, lver = NULL, "
                        "rver = NULL", (STALE,))
        self.db.execute("DELETE FROM meta")
        self.db.execute("DELETE FROM retry")

    # -- items -------------------------------------------------------------------------

    def count(self, side: str | None = None) -> int:
        """Matched pairs (present on ``side``, if given)."""
        where = {"left": " WHERE lkey IS NOT NULL", "right": " WHERE rkey IS NOT NULL"}
        row = self.db.execute("SELECT COUNT(*) FROM items" + where.get(side or "", "")).fetchone()
        return int(row[0])

    def counts(self) -> dict[str, int]:
        """Pairs present on each side, and on both, in one pass: {"left": …, "right": …,
        "both": …}."""
        total = self.count()
        left = self.db.execute("SELECT COUNT(*) FROM items WHERE lkey IS NULL").fetchone()[0]
        right = self.db.execute("SELECT COUNT(*) FROM items WHERE rkey IS NULL").fetchone()[0]
        return {"left": total - int(left), "right": total - int(right),
                "both": total - int(left) - int(right)}

    def kept_alone(self) -> dict[str, int]:
        """Pairs whose other item was deleted while deletions were ignored, by the side that
        still holds its item: {"left": …, "right": …} (the partial key-null indexes count them)."""
        held = {}
        for side, gone in (("left", "rkey"), ("right", "lkey")):
            present = "lkey" if side == "left" else "rkey"
            held[side] = int(self.db.execute(
                f"SELECT COUNT(*) FROM items WHERE {gone} IS NULL AND {present} IS NOT NULL"
            ).fetchone()[0])
        return held

    def handled_count(self, run: int) -> int:
        """How many match keys ``run`` marked handled or noted as synced so far (a delta run: a
        few; a key both noted and then decided counts once)."""
        if self._handled_run != run:
            return 0
        return int(self.db.execute("SELECT COUNT(*) FROM (SELECT mkey FROM temp.handled UNION "
                                   "SELECT mkey FROM temp.synced)").fetchone()[0])

    def empty(self) -> bool:
        """Whether no pair is stored (cheaper than ``count() == 0`` on a large state)."""
        return self.db.execute("SELECT 1 FROM items LIMIT 1").fetchone() is None

    def open_conflicts(self) -> int:
        """Pairs left in conflict by a previous run (skip)."""
        row = self.db.execute(
            "SELECT COUNT(*) FROM items WHERE lhash IS NOT NULL OR rhash IS NOT NULL").fetchone()
        return int(row[0])

    def set_version(self, side: str, mkey: str, version: str | None) -> None:
        """A pair's ``side`` version: read again with its values as they agreed (a change the
        mapping does not see, in Dataverse a new ETag), or None: not known any more."""
        self.db.execute(f"UPDATE items SET {_column(side, 'ver')} = ? WHERE mkey = ?",
                        (version, mkey))

    def lookup(self, mkeys: Sequence[str]) -> dict[str, StateRow]:
        """State rows by match key, with their versions.

        With ``json_each`` the keys go in as one JSON array and the rows come back as one JSON
        text: one statement step instead of one per row. Each step lets another thread take the
        interpreter (the page reader, parsing its next page), and getting it back can wait for a
        whole switch interval; per row, that convoy cost more than the look-up itself.
        """
        if self._json_each:
            return self._lookup_json(mkeys)
        out: dict[str, StateRow] = {}
        for chunk in _chunks(mkeys, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    f"SELECT {ITEM_COLUMNS}, lver, rver FROM items WHERE mkey IN ({marks})",
                    chunk):
                out[row[0]] = StateRow(*row)
        return out

    def _lookup_json(self, mkeys: Sequence[str]) -> dict[str, StateRow]:
        if not mkeys:
            return {}
        row = self.db.execute(
            "SELECT json_group_array(json_array(mkey, lkey, rkey, hash, lhash, rhash, lver, rver)) "
            "FROM items WHERE mkey IN (SELECT value FROM json_each(?))",
            (_keys_json(mkeys),)).fetchone()
        return {r[0]: StateRow(*r) for r in json.loads(row[0])}

    @property
    def can_settle_unchanged(self) -> bool:
        """Whether ``settle_unchanged`` is available (it needs ``json_each``)."""
        return self._json_each

    def skip_same_versions(self, side: str, items: Sequence[tuple[str, str]],
                           run: int) -> set[str]:
        """For a one-way run that does not read its target, one page of (match key, version).

        The pairs synced on both sides, without an open conflict, whose stored ``side`` version
        is the item's have not changed on that side since they last agreed: they are marked
        handled and their match keys returned (their values need no look). The keys must be
        distinct.
        """
        if not items:
            return set()
        self.start_handled(run)
        found = _same_versions(self.db, side, items)
        self.db.execute("INSERT OR IGNORE INTO temp.handled SELECT value FROM json_each(?)",
                        (found,))
        same: list[str] = json.loads(found)
        return set(same)

    def version_reader(self) -> VersionReader:
        """A second, read-only connection for ``skip_same_versions``'s question alone, for the
        thread that reads a side (this store's connection belongs to the run's thread). It sees
        what is committed: the pairs of earlier runs, which is what versions are compared with."""
        return VersionReader(self.path)

    def start_handled(self, run: int) -> None:
        """Begin ``run``'s marks: the match keys it handled and those it noted as synced (both
        temp tables emptied once per run; every method that marks calls this first)."""
        if self._handled_run != run:
            self.db.execute("DELETE FROM temp.handled")
            self.db.execute("DELETE FROM temp.synced")
            self._handled_run = run

    def settle_unchanged(self, items: Sequence[tuple[str, str, str | None]], run: int, *,
                         exact: bool, side: str) -> tuple[dict[str, StateRow], set[str]]:
        """For a one-way run that does not read its target, one page of (match key, hash,
        version).

        Pairs synced on both sides, without an open conflict, whose stored hash is the item's
        (all of it when ``exact``, else the part before the first '.', as ``SideInfo.same``
        compares) are unchanged: they are not returned. Every key of the page is marked handled.
        Returns the state rows of the page's other known items and the match keys the state
        does not hold. The match keys must be distinct. Most of a page is unchanged in an
        incremental run: none of it is copied into Python objects.
        """
        if not items:
            return {}, set()
        self.start_handled(run)
        db = self.db
        plain = self._unchanged_page(items, exact=exact, side=side)
        # every key of the page is handled by this run (the unchanged here, the others by the
        # caller); the LEFT JOIN keeps the page as the outer loop: one probe of items per key
        db.execute("INSERT OR IGNORE INTO temp.handled SELECT mkey FROM temp.page")
        found = db.execute(
            "SELECT json_group_array(json_array(p.mkey, i.mkey IS NOT NULL, i.lkey, i.rkey, "
            "i.hash, i.lhash, i.rhash)) FROM temp.page p LEFT JOIN items i ON i.mkey = p.mkey "
            f"WHERE i.mkey IS NULL OR NOT ({plain})").fetchone()[0]
        states: dict[str, StateRow] = {}
        absent: set[str] = set()
        for mkey, known, *rest in json.loads(found):
            if known:
                states[mkey] = StateRow(mkey, *rest)
            else:
                absent.add(mkey)
        return states, absent

    def settle_staged(self, run: int, *, src: str, exact: bool) -> int:
        """After a delta read of ``src``: settle the items staged from the other side (the
        engine's temp table ``w``) that the delta did not mention and whose hash is their
        pair's. Unchanged on both sides, each would be decided "nothing to do"; in a
        bidirectional run against a side without change tracking that is nearly all of them,
        so they are marked handled and done (``done = 2``) in two statements instead of one
        decision each. A pair deleted on ``src`` (its key in ``temp.gone``) is left to the
        engine. Returns how many were settled. (The rows a read skipped by version are not
        in ``w``: see ``note_synced``.)
        """
        self.start_handled(run)
        src_key = _column(src, "key")
        settled = self.db.execute(
            "UPDATE temp.w SET done = 2 WHERE rowid IN (SELECT w.rowid FROM temp.w w CROSS JOIN "
            f"items i ON i.mkey = w.mkey WHERE w.done = 0 AND w.gone = 0 AND {_PLAIN} AND "
            f"{_same_hash('i.hash', 'w.hash', exact)} AND "
            f"i.{src_key} NOT IN (SELECT kid FROM temp.gone))").rowcount
        self.db.execute("INSERT OR IGNORE INTO temp.handled SELECT mkey FROM temp.w WHERE done = 2")
        # the staged side's version of a settled pair, where new: the next read skips it by it
        ver = _column("right" if src == "left" else "left", "ver")  # the staged side's
        self.db.execute(f"UPDATE items SET {ver} = (SELECT w.ver FROM temp.w w WHERE w.mkey = "
                        f"items.mkey) WHERE mkey IN (SELECT w.mkey FROM temp.w w CROSS JOIN items i "
                        f"ON i.mkey = w.mkey WHERE w.done = 2 AND w.ver IS NOT NULL AND "
                        f"i.{ver} IS NOT w.ver)")
        return int(settled)

    def _unchanged_page(self, items: Sequence[tuple[str, str, str | None]], *, exact: bool,
                        side: str) -> str:
        """Load a page of (match key, hash, version) into ``temp.page``, and remember the new
        version of each unchanged item; the SQL condition (over ``i``, the item's pair, and
        ``p``, the page's row) that says an item is unchanged: its pair synced on both sides,
        without an open conflict, its stored hash the item's (all of it when ``exact``, else
        the part before the first '.', as ``SideInfo.same`` compares)."""
        db = self.db
        db.execute("CREATE TEMP TABLE IF NOT EXISTS page (mkey TEXT PRIMARY KEY, hash TEXT, "
                   "ver TEXT)")
        db.execute("DELETE FROM temp.page")
        # in key order: the page's and handled's inserts append, and the probes of items walk
        # its key index in order, touching each page once (random order: ~40% slower); bound
        # as rows (see skip_same_versions)
        insert_rows(db.execute, "INSERT OR IGNORE INTO temp.page(mkey, hash, ver)", "", 3,
                    sorted(items))
        plain = f"{_PLAIN} AND {_same_hash('i.hash', 'p.hash', exact)}"
        # the unchanged whose version is new (written by a run, or kept before versions were):
        # remember it, so that the next run skips them by version alone
        column = _column(side, "ver")
        db.execute(f"UPDATE items SET {column} = (SELECT p.ver FROM temp.page p WHERE p.mkey = "
                   f"items.mkey) WHERE mkey IN (SELECT p.mkey FROM temp.page p CROSS JOIN items i ON "
                   f"i.mkey = p.mkey WHERE p.ver IS NOT NULL AND i.{column} IS NOT p.ver AND "
                   f"{plain})")
        return plain

    def note_synced_if_same(self, side: str, items: Sequence[tuple[str, str, str | None]],
                            run: int, *, exact: bool) -> set[str]:
        """Of a staged page of ``side`` (distinct match key, hash, version), note as synced
        (``note_synced``) the items whose hash is their pair's (``settle_unchanged``'s test),
        learning their versions; returns their match keys. A side read in full is mostly
        unchanged: those need no values kept, and no decision one by one."""
        if not items:
            return set()
        self.start_handled(run)
        plain = self._unchanged_page(items, exact=exact, side=side)
        joined = f"FROM temp.page p CROSS JOIN items i ON i.mkey = p.mkey WHERE {plain}"
        same: list[str] = json.loads(
            self.db.execute(f"SELECT json_group_array(p.mkey) {joined}").fetchone()[0])
        if same:
            self.db.execute(f"INSERT OR IGNORE INTO temp.synced SELECT p.mkey {joined}")
        return set(same)

    def noted(self, mkeys: Sequence[str]) -> set[str]:
        """Which of these match keys are noted as synced (``note_synced``)."""
        if not mkeys:
            return set()
        found: list[str] = json.loads(self.db.execute(
            "SELECT json_group_array(mkey) FROM temp.synced WHERE mkey IN (SELECT value FROM "
            "json_each(?))", (_keys_json(mkeys),)).fetchone()[0])
        return set(found)

    def note_synced(self, mkeys: Sequence[str], run: int) -> None:
        """Note the pairs whose side a read of ``run`` skipped by version: as last agreed there.

        Only their match keys (``temp.synced``): most are never asked about again. The engine
        stages in ``w`` those the other side's read mentions (``stage_synced``); the rest count
        as handled (``unhandled`` leaves them out). Staging every one of them took most of a
        bidirectional run's time beside a side without change tracking.
        """
        self.start_handled(run)
        self._insert_keys("synced", mkeys)

    def stage_synced(self, side: str, mkeys: Sequence[str] | None = None, *,
                     gone_on: str | None = None) -> None:
        """Stage in the engine's temp table ``w``, as synced (that side's key, the pair's hash
        and version, no values), the noted pairs (``note_synced``) among ``mkeys``; with
        ``gone_on``, those whose key on that side a delta read said is deleted (``temp.gone``);
        with neither, all of them. A pair already in ``w`` keeps its row."""
        if not self._json_each:  # (then nothing is noted: see can_settle_unchanged)
            return
        key, ver = _column(side, "key"), _column(side, "ver")
        head = (f"INSERT OR IGNORE INTO temp.w(mkey, kid, vals, hash, ver) SELECT i.mkey, i.{key}, "
                f"NULL, i.hash, i.{ver} FROM")
        if mkeys is not None:
            if mkeys:
                self.db.execute(f"{head} temp.synced s CROSS JOIN items i ON i.mkey = s.mkey "
                                "WHERE s.mkey IN (SELECT value FROM json_each(?))",
                                (_keys_json(mkeys),))
        elif gone_on is not None:
            if self.db.execute("SELECT 1 FROM temp.gone LIMIT 1").fetchone() is None:
                return
            # by each deleted key: the pair whose key it is, by the partial index for keys other
            # than the match key, else by the match key itself (see ``lookup_keys``)
            column = _column(gone_on, "key")
            synced = "i.mkey IN (SELECT mkey FROM temp.synced)"
            self.db.execute(f"{head} temp.gone g CROSS JOIN items i ON i.{column} = g.kid WHERE "
                            f"i.{column} != i.mkey AND {synced} UNION ALL SELECT i.mkey, i.{key}, "
                            f"NULL, i.hash, i.{ver} FROM temp.gone g CROSS JOIN items i ON "
                            f"i.mkey = g.kid WHERE i.{column} = i.mkey AND {synced}")
        else:
            self.db.execute(f"{head} temp.synced s CROSS JOIN items i ON i.mkey = s.mkey")

    def unstaged_synced(self) -> int:
        """How many noted pairs (``note_synced``) are not staged in ``w``: handled as they are."""
        return int(self.db.execute("SELECT COUNT(*) FROM temp.synced WHERE mkey NOT IN "
                                   "(SELECT mkey FROM temp.w)").fetchone()[0])

    def lookup_keys(self, side: str, keys: Sequence[str]) -> dict[str, StateRow]:
        """State rows by a side's provider key (JSON)."""
        column = _column(side, "key")
        out: dict[str, StateRow] = {}
        for chunk in _chunks(keys, 500):
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(
                    f"SELECT {ITEM_COLUMNS} FROM items WHERE {column} IN ({marks}) AND "
                    f"{column} != mkey UNION ALL SELECT {ITEM_COLUMNS} FROM items WHERE mkey IN "
                    f"({marks}) AND {column} = mkey", chunk + chunk):
                out[row[0]] = StateRow(*row)
        return out

    def undecided(self, run: int, mkeys: Sequence[str]) -> set[str]:
        """Those of ``mkeys`` whose pair ``run`` has not decided (``mark``, ``save``) yet; one
        a read only noted as synced on one side (``note_synced``) is not decided."""
        where = "(seen IS NULL OR seen != ?)"
        if self._handled_run == run:
            where += " AND mkey NOT IN (SELECT mkey FROM temp.handled)"
        out: set[str] = set()
        for chunk in _chunks(mkeys, 500):
            marks = ",".join("?" * len(chunk))
            out.update(r[0] for r in self.db.execute(
                f"SELECT mkey FROM items WHERE mkey IN ({marks}) AND {where}", [*chunk, run]))
        return out

    def held_by_another(self, side: str, kid: str, mkey: str) -> bool:
        """Whether a pair other than ``mkey``'s holds the ``side`` key ``kid``."""
        return any(m != mkey for m in self.lookup_keys(side, [kid]))

    def forget_shadowed(self, mkeys: Iterable[str]) -> None:
        """Drop the pairs of these match keys whose every key is another pair's (or none): a
        pair an item left by a change of its match key, its partner now the new pair's."""
        held = ("({c} IS NULL OR EXISTS (SELECT 1 FROM items o WHERE o.{c} = items.{c} AND "
                "o.mkey != items.mkey))")
        self.db.executemany(f"DELETE FROM items WHERE mkey = ? AND {held.format(c='lkey')} AND "
                            f"{held.format(c='rkey')}", ((m,) for m in mkeys))

    def mark(self, mkeys: Iterable[str], run: int) -> None:
        """Record that this run handled these pairs.

        Kept in a temp table rather than by updating ``items.seen``: an update rewrites (and
        logs) every page of the state once per run, while a run that reads everything marks
        every pair. ``unhandled`` reads both the temp table and ``seen`` (set by ``save``).
        """
        self.start_handled(run)
        self._insert_keys("handled", mkeys)

    def _insert_keys(self, table: str, mkeys: Iterable[str]) -> None:
        """Add match keys to a run's temp table of keys (``handled`` or ``synced``)."""
        if self._json_each:
            keys = list(mkeys)
            if keys:
                self.db.execute(f"INSERT OR IGNORE INTO temp.{table} SELECT value FROM "
                                "json_each(?)", (_keys_json(keys),))
            return
        self.db.executemany(f"INSERT OR IGNORE INTO temp.{table} VALUES (?)",
                            ((m,) for m in mkeys))

    def unhandled(self, run: int, side_keys: dict[str, str] | None = None) -> Iterator[StateRow]:
        """Pairs this run did not handle, in batches copied aside (safe to write while iterating).

        ``side_keys`` restricts them to those whose left / right key is in a temp table.
        """
        self.db.execute("DROP TABLE IF EXISTS temp.pending")
        self.db.execute("CREATE TEMP TABLE pending (mkey TEXT PRIMARY KEY)")
        if side_keys is not None and not any(
                self.db.execute(f"SELECT 1 FROM temp.{table} LIMIT 1").fetchone()
                for table in side_keys.values()):
            return  # restricted to keys in empty tables: none (and no scan of every pair)
        where = "(seen IS NULL OR seen != ?)"
        params: list[Any] = [run]
        if self._handled_run == run:  # (noted as synced: handled, see ``note_synced``)
            where += (" AND mkey NOT IN (SELECT mkey FROM temp.handled) AND mkey NOT IN "
                      "(SELECT mkey FROM temp.synced)")
        if side_keys is not None:
            parts = []
            for side, table in side_keys.items():
                column = _column(side, "key")
                parts.append(f"({column} != mkey AND {column} IN (SELECT kid FROM temp.{table})) "
                             f"OR ({column} = mkey AND mkey IN (SELECT kid FROM temp.{table}))")
            where += " AND (" + (" OR ".join(parts) or "0") + ")"
        self.db.execute(f"INSERT INTO temp.pending SELECT mkey FROM items WHERE {where}", params)
        last = 0
        while True:
            rows = self.db.execute(
                "SELECT p.rowid, i.mkey, i.lkey, i.rkey, i.hash, i.lhash, i.rhash FROM "
                "temp.pending p JOIN items i ON i.mkey = p.mkey WHERE p.rowid > ? "
                "ORDER BY p.rowid LIMIT 1000", (last,)).fetchall()
            if not rows:
                break
            last = rows[-1][0]
            for row in rows:
                yield StateRow(*row[1:])

    def save(self, rows: Iterable[SaveRow]) -> None:
        """Insert or replace pairs: (mkey, lkey, rkey, hash, lhash, rhash, run, lver, rver).

        Many rows per statement (``sqlite_rows``): one step, with the GIL let go, per thousands
        of pairs. An upsert, not INSERT OR REPLACE: a replaced row gets a new rowid, so the
        replace rewrites its old table page, the key index and the table's last page, while an
        update in place writes one page (half the WAL of an incremental run).
        """
        # in match-key order: a batch's keys then go into the key index side by side, not at
        # random places (100,000 new pairs in batches of 5,000: 1.37 s of CPU, not 1.45-1.69 s)
        batch = sorted(rows, key=_first)  # (stable: of two rows for one pair, the later wins)
        if not batch:
            return
        names = "INSERT INTO items(mkey, lkey, rkey, hash, lhash, rhash, seen, lver, rver)"
        if sqlite3.sqlite_version_info < (3, 24):  # no upsert before SQLite 3.24
            self.db.executemany(names.replace("INSERT", "INSERT OR REPLACE", 1)
                                + " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)", batch)
            return
        insert_rows(self.db.execute, names,
                    " ON CONFLICT(mkey) DO UPDATE SET lkey = excluded.lkey, rkey = excluded.rkey, "
                    "hash = excluded.hash, lhash = excluded.lhash, rhash = excluded.rhash, "
                    "seen = excluded.seen, lver = excluded.lver, rver = excluded.rver", 9, batch)

    def forget(self, mkeys: Iterable[str]) -> None:
        """Drop pairs."""
        self.db.executemany("DELETE FROM items WHERE mkey = ?", ((m,) for m in mkeys))

    def detach(self, side: str, mkeys: Iterable[str], run: int) -> None:
        """Keep pairs whose ``side`` item is gone and whose deletion is ignored."""
        column = _column(side, "key")
        self.db.executemany(f"UPDATE items SET {column} = NULL, seen = ? WHERE mkey = ?",
                            ((run, m) for m in mkeys))

    def all_items(self) -> list[StateRow]:
        """Every pair (tests and inspection)."""
        return [StateRow(*r) for r in self.db.execute(f"SELECT {ITEM_COLUMNS} FROM items")]

    # -- runs and conflicts --------------------------------------------------------------

    def start_run(self, started: float | None = None) -> int:
        """Record a run as started (committed at once, so a crash leaves a trace); ``started``:
        when it began (default now), the time its report gives too."""
        self._checkpointed()
        self._started = time.time() if started is None else started
        cur = self.db.execute("INSERT INTO runs(started, log, dry) VALUES (?, ?, ?)",
                              (self._started, self.log, 1 if self.dry else None))
        run = int(cur.lastrowid or 0)
        if not self.dry:
            self.commit()
        return run

    def last_run_crashed(self, current: int) -> bool:
        """Whether the previous run never finished (killed): the next one re-matches. Dry runs
        do not count (they change nothing a killed run left to mend; a killed one leaves no
        record)."""
        row = self.db.execute(
            "SELECT outcome FROM runs WHERE id < ? AND dry IS NULL ORDER BY id DESC LIMIT 1",
            (current,)).fetchone()
        return row is not None and row[0] is None

    def finish_run(self, run: int, outcome: str, counts: dict[str, Any], message: str,
                   finished: float | None = None) -> None:
        """Record how a run ended (kept even for dry runs); ``finished``: when (default now), the
        time its report gives too."""
        params = (time.time() if finished is None else finished, outcome, json.dumps(counts),
                  message, run)
        if self.dry:
            self.db.execute("ROLLBACK")
            self.db.execute("BEGIN")
            self.db.execute("INSERT OR IGNORE INTO runs(id, started, log, dry) VALUES "
                            "(?, ?, ?, 1)", (run, self._started or params[0], self.log))
        self.db.execute("UPDATE runs SET finished = ?, outcome = ?, counts = ?, message = ? "
                        "WHERE id = ?", params)
        self._let_go(params[0])
        self.db.execute("COMMIT")
        self.db.execute("BEGIN")

    def _let_go(self, now: float) -> None:
        """Delete the runs older than KEEP_DAYS but the latest KEEP_RUNS, and their conflicts."""
        last = self.db.execute("SELECT id FROM runs ORDER BY id DESC LIMIT 1 OFFSET ?",
                               (KEEP_RUNS,)).fetchone()
        if last is None:
            return
        old = "SELECT id FROM runs WHERE id <= ? AND started < ?"
        params = (last[0], now - KEEP_DAYS * 86400)
        self.db.execute(f"DELETE FROM conflicts WHERE run IN ({old})", params)
        self.db.execute(f"DELETE FROM runs WHERE id IN ({old})", params)

    def add_conflicts(self, run: int, rows: Iterable[tuple[str, str, Any, Any]],
                      policy: str | None = None) -> None:
        """Record conflicts: (mkey, resolution, left values, right values), settled by the rule
        ``policy``."""
        now = time.time()
        self.db.executemany(
            "INSERT INTO conflicts(run, at, mkey, resolution, left_values, right_values, policy) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            ((run, now, m, res, exact_json(lv), exact_json(rv), policy)
             for m, res, lv, rv in rows))

    def unsettled_conflicts(self) -> dict[str, tuple[int, str, str, str]]:
        """The conflicts a run recorded whose winning write failed (``UNSETTLED``), not settled
        since: match key → (its record's id, the side that won, the left's and the right's
        values as recorded)."""
        rows = self.db.execute(
            "SELECT mkey, MAX(id), resolution, left_values, right_values FROM conflicts "
            "WHERE resolution GLOB ? AND settled IS NULL GROUP BY mkey",
            (f"*{UNSETTLED}",)).fetchall()
        return {m: (int(i), res.removesuffix(UNSETTLED), lv, rv) for m, i, res, lv, rv in rows}

    def unsettle_conflicts(self, run: int, mkeys: Iterable[str]) -> None:
        """Mark ``run``'s conflicts of these items as not settled: the winner's write failed."""
        self.db.executemany(
            "UPDATE conflicts SET resolution = resolution || ? WHERE run = ? AND mkey = ? "
            "AND resolution NOT GLOB ?", ((UNSETTLED, run, m, f"*{UNSETTLED}") for m in mkeys))

    def settle_conflicts(self, run: int, kept: Iterable[str]) -> int:
        """Mark as settled by ``run`` the conflicts earlier runs recorded as not settled
        (``settling``) whose item ``run`` handled and left with no conflict open: its sides
        agree (a winning write made, or the sides made alike by hand), or it is gone. Not those
        of the match keys ``kept`` (a write not made, an item not read). Their resolution and
        values stay as recorded. Returns how many."""
        handled = "i.seen = :run"
        if self._handled_run == run:
            handled += (" OR c.mkey IN (SELECT mkey FROM temp.handled) OR c.mkey IN "
                        "(SELECT mkey FROM temp.synced)")
        rows = self.db.execute(
            "SELECT c.id, c.mkey FROM conflicts c LEFT JOIN items i ON i.mkey = c.mkey WHERE "
            "c.settled IS NULL AND (c.resolution = 'skipped' OR c.resolution GLOB :failed) AND "
            f"c.run < :run AND i.lhash IS NULL AND i.rhash IS NULL AND ({handled})",
            {"run": run, "failed": f"*{UNSETTLED}"}).fetchall()
        left_open = set(kept)
        ids = [(run, i) for i, mkey in rows if mkey not in left_open]
        self.db.executemany("UPDATE conflicts SET settled = ? WHERE id = ?", ids)
        return len(ids)

    def drop_conflicts(self, run: int) -> None:
        """Forget the conflicts recorded by ``run`` (a run that wrote nothing settled none)."""
        self.db.execute("DELETE FROM conflicts WHERE run = ?", (run,))


def settling(resolution: str) -> bool:
    """Whether a conflict so resolved was recorded as not settled (skipped, or its winning
    write failed): a later run settles it."""
    return resolution == "skipped" or resolution.endswith(UNSETTLED)


class StateError(RunError):
    """The state store cannot be opened, read or written (exit 1: a symbolic link in its
    place, a database another program holds locked)."""


class UnusableState(StateError):
    """A state file l2tui cannot use: a folder in its place, a file or folder it may not
    write, a file that is no SQLite database or is damaged (``damaged``: a run with --reset
    moves it aside). A setup problem (exit 2), as a lock file or log folder that cannot be used
    is; a full disk fails the run (exit 1)."""

    exit_code = 2
    damaged = False


class NewerState(UnusableState):
    """A state made by a newer l2tui (its schema version is past ``STATE_VERSION``): read or
    written by this one, it could be misread or spoilt, so it is left as it is (exit 2)."""


def _known_version(db: sqlite3.Connection, path: Path) -> int:
    """The state's schema version (0: made before versions, or not made yet); NewerState when
    it is past the one this l2tui reads."""
    return _readable_version(int(db.execute("PRAGMA user_version").fetchone()[0]), path)


def _readable_version(version: int, path: Path) -> int:
    """``version``, if this l2tui reads a state of it; else NewerState."""
    if version > STATE_VERSION:
        raise NewerState(f"the sync state {path} was made by a newer l2tui (state version "
                         f"{version}, this one reads up to {STATE_VERSION}); run that l2tui")
    return version


SQLITE_MAGIC = b"SQLite format 3\x00"
"""The first 16 bytes of every SQLite database file."""


def _header_version(path: Path) -> int | None:
    """The schema version a state's file header holds (its ``user_version``, bytes 60-63), read
    without SQLite (a connection opened for this alone cost each run 2.7 ms): the state's, where
    no WAL is beside it; NewerState when it is past this l2tui's. 0 for a file not made yet;
    None for one that is no SQLite file (or is cut short)."""
    try:
        with open(path, "rb") as file:
            header = file.read(64)
    except FileNotFoundError:
        return 0
    if not header:
        return 0
    if len(header) < 64 or not header.startswith(SQLITE_MAGIC):
        return None
    return _readable_version(int.from_bytes(header[60:64], "big", signed=True), path)


def _read_only(path: Path) -> sqlite3.Connection:
    """A read-only connection to the state at ``path``, which makes no file. Without a WAL
    beside it (every change checkpointed: a WAL is removed only then) the file alone is the
    state, opened immutable: SQLite would otherwise make an empty WAL and shared-memory file
    to read it (in a folder it may write), which a run makes anyway when it writes."""
    plain = not os.path.lexists(f"{path}-wal") and not os.path.lexists(f"{path}-journal")
    db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro{'&immutable=1' if plain else ''}",
                         uri=True, isolation_level=None, check_same_thread=False)
    db.execute("PRAGMA busy_timeout=10000")
    return db


def _readable(path: Path) -> None:
    """Refuse, as a store opening ``path`` would (an OSError), a symbolic link or a folder in
    the state's place, before SQLite opens it read-only (which would follow the link)."""
    fd = open_unfollowed(path, os.O_RDONLY)
    try:
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(errno.EISDIR, os.strerror(errno.EISDIR), str(path))
    finally:
        os.close(fd)


def damaged(exc: BaseException) -> bool:
    """Whether a state store's error says its file is no SQLite database or is damaged (not a
    lock, a full disk or a permission: passing, or the user's to mend)."""
    code = getattr(exc, "sqlite_errorcode", None)
    return isinstance(exc, sqlite3.DatabaseError) and code is not None and \
        code & 0xFF in (sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT)


def set_aside(path: Path, now: float | None = None) -> Path:
    """Move a damaged state (with its WAL and shared-memory files) aside, to
    ``NAME.sqlite.damaged-YYYYmmdd-HHMMSS`` beside it (a number added where that is taken), so
    that a new one can be made in its place; the new name of the state file."""
    stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(time.time() if now is None else now))
    for number in itertools.count(1):
        aside = path.with_name(f"{path.name}.damaged-{stamp}{'' if number == 1 else f'-{number}'}")
        if not any(os.path.lexists(f"{aside}{suffix}") for suffix in ("", "-wal", "-shm")):
            break
    for suffix in ("-wal", "-shm", ""):  # (the database last: a state without its WAL is not left)
        with contextlib.suppress(FileNotFoundError):
            os.rename(f"{path}{suffix}", f"{aside}{suffix}")
    return aside


# SQLite's (primary) result codes that say the file itself cannot be used, not that a run
# met a passing obstacle (a lock, a full disk, an interrupt)
_UNUSABLE = {sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_READONLY, sqlite3.SQLITE_PERM,
             sqlite3.SQLITE_NOTADB, sqlite3.SQLITE_CORRUPT}
_PASSING = {errno.ELOOP, errno.ENOSPC, errno.EDQUOT, errno.EFBIG}  # (a link: refused)


def state_error(path: Path, exc: BaseException) -> StateError:
    """One line for a state store that failed: which file, and why (UnusableState, exit 2,
    when the file cannot be used; a symbolic link in its place is refused, a full disk fails
    the run: exit 1)."""
    if isinstance(exc, StateError):  # (said already: a newer l2tui's state)
        return exc
    reason = (exc.strerror if isinstance(exc, OSError) and exc.strerror else str(exc)) or \
        type(exc).__name__
    message = f"the sync state {path} cannot be used: {reason}"
    if isinstance(exc, OSError):
        unusable = exc.errno not in _PASSING
    else:
        code = getattr(exc, "sqlite_errorcode", None)
        unusable = code is not None and code & 0xFF in _UNUSABLE
    if not unusable:
        return StateError(message)
    error = UnusableState(message)
    error.damaged = damaged(exc)
    return error


class VersionReader:
    """The pairs whose side version is the one given, on a read-only connection of its own."""

    def __init__(self, path: Path) -> None:
        self.db = sqlite3.connect(f"file:{quote(str(path))}?mode=ro", uri=True,
                                  check_same_thread=False)
        self.db.execute("PRAGMA busy_timeout=10000")

    def same(self, side: str, items: Sequence[tuple[str, str]]) -> list[str]:
        """Of distinct (match key, version) pairs, the match keys whose pair is plain and whose
        stored ``side`` version is the one given (``StateStore.skip_same_versions``, unmarked),
        in match-key order."""
        if not items:
            return []
        same: list[str] = json.loads(_same_versions(self.db, side, items))
        return same

    def close(self) -> None:
        """Close the connection."""
        self.db.close()


def _same_versions(db: sqlite3.Connection, side: str, items: Sequence[tuple[str, str]]) -> str:
    """The match keys (a JSON array) of plain pairs whose ``side`` version is the item's."""
    column = _column(side, "ver")
    # no key index: the page is only ever the outer loop (asking about 100,000 versions took
    # 98-107 ms with one, 80-81 ms without); a key given twice would only come back twice
    db.execute("CREATE TEMP TABLE IF NOT EXISTS versions (mkey TEXT, ver TEXT)")
    db.execute("DELETE FROM temp.versions")
    # bound as rows, not one JSON text: json_each re-parses an element per ->> (SQLite 3.40:
    # ~40% slower). In key order: the probes of items walk its key index in order; CROSS JOIN
    # keeps the page the outer loop (no scan of items)
    insert_rows(db.execute, "INSERT INTO temp.versions(mkey, ver)", "", 2, sorted(items))
    found: str = db.execute(
        "SELECT json_group_array(mkey) FROM (SELECT p.mkey FROM temp.versions p CROSS JOIN "
        f"items i ON i.mkey = p.mkey WHERE i.{column} = p.ver AND {_PLAIN} "
        "ORDER BY p.rowid)").fetchone()[0]
    return found


def _column(side: str, name: str) -> str:
    """A side's column of ``items``: ("left", "key") -> "lkey"."""
    return ("l" if side == "left" else "r") + name


# a pair synced on both sides without an open conflict (items aliased i)
_PLAIN = "i.lkey IS NOT NULL AND i.rkey IS NOT NULL AND i.lhash IS NULL AND i.rhash IS NULL"


def _same_hash(a: str, b: str, exact: bool) -> str:
    """SQL for ``SideInfo.same``: the whole hashes, or the parts before their first '.'."""
    if exact:
        return f"{a} = {b}"
    return (f"substr({a}, 1, instr({a} || '.', '.') - 1) = "
            f"substr({b}, 1, instr({b} || '.', '.') - 1)")


def _private(path: Path) -> None:
    """The state file readable by its owner alone (it holds keys, and conflicts hold values):
    made so before SQLite opens it; SQLite gives its WAL and shared-memory files the same mode.
    A symbolic link in its place is refused, not followed (its target is not ours to change)."""
    fd = open_unfollowed(path, os.O_RDWR | os.O_CREAT)
    try:
        keep_private(fd)  # a state file written before this rule
    finally:
        os.close(fd)


def _has_json_each(db: sqlite3.Connection) -> bool:
    """Whether this SQLite has ``json_each`` and the ``->>`` operator (built in since 3.38)."""
    try:
        db.execute("SELECT value ->> 0 FROM json_each('[[1]]')").fetchall()
    except sqlite3.OperationalError:
        return False
    return True


def _chunks(items: Sequence[str], size: int) -> Iterator[list[str]]:
    items = list(items)
    for i in range(0, len(items), size):
        yield items[i:i + size]
