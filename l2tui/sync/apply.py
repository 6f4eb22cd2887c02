"""Apply planned writes in batches; an item's state is committed only after its write succeeded.

A write that fails as a whole is every item's failure, and the run goes on; but a ConnectError
(the side cannot be reached: a database stopped, a service gone) stops the run, with the state of
the batches written before kept: going on would only fail every later item the same way.

A run marks the state ``UNRECORDED`` before its first write (and the engine, before a run that
matches both sides by key: a first run, or one after a crash); a run that ends normally, or is
cancelled between batches with nothing else to match, clears it. A run that stops in between
(failed, or a write whose answer never came; a killed run is seen as such) may leave items the
state does not hold, such as Dataverse records whose GUID the writer made: the next run sees the
mark and matches both sides by key instead of creating them again."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field, replace
from itertools import islice
from typing import Any

from l2tui.errors import ConnectError
from l2tui.providers.base import (
    Change,
    ChangeOp,
    Provider,
    RowBatch,
    WriteOutcome,
    WriteStopped,
)
from l2tui.sync.events import EventSink, ItemError
from l2tui.sync.side import SideInfo, key_json, match_values
from l2tui.sync.state import SaveRow, StateStore


@dataclass(slots=True)
class Task:
    """One write to ``side``: the change to make and the pair to remember once it is made."""

    side: str
    op: str  # ChangeOp value
    mkey: str
    hash: str = ""
    values: list[Any] | None = None
    src_kid: str | None = None   # the other side's key
    dst_kid: str | None = None   # this side's key (None for a create)
    only: list[int] | None = None  # update only these pairs
    extra: dict[str, Any] = field(default_factory=dict)  # extra column values (key write-back)
    src_version: str | None = None  # the other side's version of the values written
    dst_version: str | None = None  # an update: this side's version as the run knows it
    vacated: bool = False  # a delete of a row its pair left (``Engine._vacate``): none forgotten


PLANNED_SHOWN = 20
"""Match keys a dry run keeps of each kind of write on each side, to list them (the rest are
only counted)."""


class Planned:
    """The match keys of the first ``most`` writes of each kind a dry run would make on each
    side: memory stays bounded whatever the plan."""

    def __init__(self, most: int = PLANNED_SHOWN) -> None:
        self.most = most
        self.keys: dict[str, dict[str, list[str]]] = {
            side: {op: [] for op in ("create", "update", "delete")} for side in ("left", "right")}
        # match keys this run made up (a GUID for a SQL row without one, which a real run would
        # make anew): listed as new, by the row's own key ({"new": {"id": 1}})
        self.new: dict[str, dict[str, Any]] = {}
        # the values each kept update would set, by side and match key (its Change's values:
        # the columns that changed where the run compared both sides, else every mapped one)
        self.sets: dict[str, dict[str, dict[str, Any]]] = {"left": {}, "right": {}}

    def add(self, side: str, op: str, mkeys: Iterable[str]) -> None:
        """Keep match keys of writes of ``op`` on ``side`` while fewer than ``most`` are kept."""
        kept = self.keys[side][op]
        if len(kept) < self.most:
            kept.extend(islice(mkeys, self.most - len(kept)))

    def set_by(self, side: str, mkey: str, values: Mapping[str, Any]) -> None:
        """Keep the values a kept update of ``side`` would set."""
        if mkey in self.keys[side]["update"]:
            self.sets[side][mkey] = dict(values)

    def updates(self) -> dict[str, list[dict[str, Any]]]:
        """The kept updates of each side with the values each would set, in the order listed:
        ``{"key": [its match key's values], "values": {column: value}}``."""
        return {side: [{"key": match_values(m), "values": self.sets[side][m]}
                       for m in self.keys[side]["update"] if m in self.sets[side]]
                for side in self.sets}

    def listed(self) -> dict[str, dict[str, list[Any]]]:
        """The kept match keys, each as its values (a made-up one as ``{"new": own key}``), by
        side and kind of write."""
        return {side: {op: [self.new[m] if m in self.new else match_values(m) for m in kept]
                       for op, kept in ops.items()}
                for side, ops in self.keys.items()}


@dataclass
class Counts:
    """What was (or, dry, would be) written per side; a dry run's first writes (``planned``)."""

    created: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    deleted: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    errors: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    planned: Planned | None = None

    def add(self, op: str, side: str, count: int = 1) -> None:
        """Count successful writes."""
        {"create": self.created, "update": self.updated, "delete": self.deleted}[op][side] += count


UNRECORDED = "unrecorded"
"""The state's meta key set while items both sides hold may be missing from it (a run writes, or
matches by key): a run that stops before it clears it leaves the next matching by key."""

HELD_IN_MEMORY = 5000
"""Writes a side holds in memory until the deletion guard has passed; more go to the outbox."""
HELD_TEXT = 16 * 1024 * 1024
"""Characters of text those writes may hold in memory (long memo columns): more go to the outbox."""

AfterWrite = Callable[[Task, WriteOutcome], None]
RowItem = tuple[str, str, str | None, str | None]
"""A queued create's pair: match key, hash, the source's key and its version."""
Ahead = tuple[tuple[list[SaveRow], list[str]], Future[None]]
"""A save ahead: the pairs it saves and forgets, and the write thread's work."""
Written = tuple[RowBatch, list[RowItem], dict[int, WriteOutcome]]
"""A RowBatch written, its items, and the outcome of each row that did not plainly succeed."""


def failed_text(outcome: WriteOutcome) -> str:
    """A failed write's item error; one the service may have carried out all the same
    (``WriteOutcome.unsure``) says that its outcome is unknown."""
    error = (outcome.error or "write failed").rstrip(".")
    if not outcome.unsure:
        return error
    return (f"outcome unknown: {error}; the service may have made it all the same (the next run "
            "matches both sides by key: found there, it is matched, not made again)")


def _text_size(values: list[Any] | None) -> int:
    """Characters of the text values of a task (what may make one large)."""
    return sum(len(v) for v in values if isinstance(v, str)) if values else 0


def _plain_create(task: Task) -> bool:
    """A create of the item's values alone: made from the match key and values, nothing else."""
    return task.op == "create" and bool(task.values) and task.only is None and not task.extra


class Writer:
    """Batches the writes to one side; flushes when a batch is full, then commits their state."""

    def __init__(self, side: SideInfo, provider: Provider, state: StateStore, run: int, *,
                 batch: int, dry: bool, sink: EventSink, counts: Counts,
                 after: AfterWrite | None = None, convert: bool = False,
                 recreate: bool = False) -> None:
        self.side = side
        # a one-way run's target: an update whose record was deleted there since it was synced
        # (by hand) is made again as a create, as the source holds it (``WriteOutcome.gone``)
        self.recreate = recreate
        self.provider = provider
        self.state = state
        self.run = run
        self.batch = max(1, batch)
        self.dry = dry
        # a dry run converts each value as the write would (``Provider.convert``), so that it
        # fails the items the real run's conversion would refuse (not a planning pass)
        self.convert = dry and convert
        self.sink = sink
        self.counts = counts
        self.after = after
        self.tasks: list[Task] = []
        # plain creates, kept as provider rows (see ``create``): each row and its RowItem
        self.rows: list[tuple[Any, ...]] = []
        self.row_items: list[RowItem] = []
        self.rows_ok = side.creates_as_rows and after is None
        # one RowBatch may be in flight in the write thread while the run reads on
        self.in_flight: tuple[RowBatch, list[RowItem],
                              Future[dict[int, WriteOutcome]]] | None = None
        self.pool: ThreadPoolExecutor | None = None
        self.written = 0
        self.stopped: WriteStopped | None = None  # a write that stopped: raised once saved
        self.marked = False  # UNRECORDED is set in the state
        self.unsure = 0  # failed writes the side may have carried out (see WriteOutcome.unsure)
        self.changed = 0  # updates not made: the record changed meanwhile (WriteOutcome.changed)
        self.outdated: list[str] = []  # their pairs, whose version here is no use any more
        # their (match key, the source's key, this side's key), all run long: kept for the
        # next run to read again by key, as the writes that failed are (``failures``)
        self.changed_items: list[tuple[str, str | None, str | None]] = []
        # the writes that failed as item errors: (match key, the source's key, this side's key)
        self.failures: list[tuple[str, str | None, str | None]] = []
        # writes another row's value of a unique index kept out (``WriteOutcome.collided``), made
        # again together once the run's other writes were (``write_kept_out``): a later batch
        # may free the value, or hold the other half of a swap
        self.kept_out: list[Task] = []
        self.kept_rows: list[tuple[Change, RowItem]] = []  # (creates of a RowBatch kept out)
        self.last_try = False  # (in ``write_kept_out``: a write kept out again is an error)
        # writes held back until the deletion guard has passed (``hold``), and where those
        # beyond the first HELD_IN_MEMORY go
        self.held: list[Task] | None = None
        self.held_text = 0  # characters of text values in ``held``
        self.spill: Callable[[Task], None] = lambda task: None

    @property
    def unwritten(self) -> list[tuple[str, str | None, str | None]]:
        """The writes not made: failed (``failures``) or refused as the record changed
        meanwhile (``changed_items``); each (match key, the source's key, this side's key)."""
        return [*self.failures, *self.changed_items,
                *((t.mkey, t.src_kid, t.dst_kid) for t in self.kept_out),
                *((mkey, src, None) for _, (mkey, _, src, _) in self.kept_rows)]

    def write_kept_out(self) -> None:
        """Write again, together, the writes a unique index kept out (after the run's others),
        and as creates the updates that found their record gone (``recreate``); those that fail
        again are item errors."""
        self.flush()
        if not self.kept_out and not self.kept_rows:
            return
        self.tasks, self.kept_out, self.last_try = self.kept_out, [], True
        try:
            self.flush()
        finally:
            self.last_try = False

    def hold(self, spill: Callable[[Task], None]) -> None:
        """Hold every write from now on until ``release``: kept in memory up to
        ``HELD_IN_MEMORY`` writes and ``HELD_TEXT`` characters of text, the rest handed to
        ``spill`` (the run's outbox, on disk)."""
        self.held, self.spill = [], spill

    def release(self) -> None:
        """Queue the writes held in memory, and write from now on (the guard has passed)."""
        held, self.held, self.held_text = self.held, None, 0
        for task in held or ():
            self.add(task)

    def add(self, task: Task) -> None:
        """Queue one write; flush a full batch."""
        if self.held is not None:
            text = _text_size(task.values)
            if len(self.held) < HELD_IN_MEMORY and self.held_text + text <= HELD_TEXT:
                self.held.append(task)
                self.held_text += text
            else:
                self.spill(task)
            return
        if self.rows_ok and _plain_create(task):
            self.create(task.mkey, task.hash, task.values or [], task.src_kid, task.src_version)
            return
        self.tasks.append(task)
        if len(self.tasks) + len(self.rows) >= self.batch:
            self.flush()

    def create(self, mkey: str, hash: str, values: list[Any], src_kid: str | None,
               src_version: str | None = None) -> None:
        """Queue the create of a new item (the common write of a first run: no Task, no Change)."""
        if not self.rows_ok or self.held is not None:
            self.add(Task(self.side.name, "create", mkey, hash, values, src_kid,
                          src_version=src_version))
            return
        self.rows.append(self.side.create_row(mkey, values))
        self.row_items.append((mkey, hash, src_kid, src_version))
        self._send_if_full()

    def create_all(self, made: list[Any], versions: list[str | None]) -> None:
        """``create`` of each new item of a page, given as the fields a read made of it (match
        key, key, values, hash, …: ``SideInfo.fields``) and its version (none: no versions):
        a batch's rows made in one comprehension, not a call a row."""
        if not self.rows_ok or self.held is not None:
            for index, (mkey, kid, values, hash, *_) in enumerate(made):
                self.create(mkey, hash, values, kid, versions[index] if versions else None)
            return
        create_row = self.side.create_row
        versions = versions or [None] * len(made)
        start = 0
        while start < len(made):
            end = start + max(1, self.batch - len(self.tasks) - len(self.rows))
            part = made[start:end]
            self.rows += [create_row(f[0], f[2]) for f in part]
            self.row_items += [(f[0], f[3], f[1], version)
                               for f, version in zip(part, versions[start:end], strict=True)]
            start = end
            self._send_if_full()

    def _send_if_full(self) -> None:
        """Send a full batch: with tasks, the whole of it (``flush``); creates alone go as a
        RowBatch left in flight while the run reads on (``_send_rows``)."""
        if len(self.tasks) + len(self.rows) >= self.batch:
            if self.tasks:
                self.flush()
            else:
                self._send_rows()

    def change(self, task: Task) -> Change:
        """The provider Change a task makes."""
        op = task.op
        side = self.side
        if op == "delete":
            return Change(ChangeOp.DELETE, side.key_dict(task.dst_kid or "[]"))
        if _plain_create(task):
            key, values = side.create_values(task.mkey, task.values or [])
            return Change(ChangeOp.CREATE, key, values)
        values = side.change_values(task.values, task.only) if task.values else {}
        if task.extra:
            values.update(task.extra)
        if op == "create":
            key, extra = side.create_key(task.mkey, task.values or [])
            if extra:
                values.update(extra)
            for name in key:
                values.pop(name, None)
            return Change(ChangeOp.CREATE, key, values)
        return Change(ChangeOp(op), side.key_dict(task.dst_kid or "[]"), values,
                      version=task.dst_version)

    def flush(self) -> None:
        """Write the queued batch and commit the state of the items that succeeded."""
        if self.rows:
            self._send_rows()
        self.settle()
        # (``write_kept_out``: the creates a unique index kept out of their RowBatch go along)
        rows, self.kept_rows = (self.kept_rows, []) if self.last_try else ([], self.kept_rows)
        if not self.tasks and not rows:
            return
        tasks, self.tasks = self.tasks, []
        changes = [self.change(t) for t in tasks]
        self._mark_unrecorded()
        ahead = None if self.dry or self.after is not None or rows else self._save_ahead(tasks)
        try:
            saves, forgets = self._written(tasks, [*changes, *(c for c, _ in rows)], rows)
        except BaseException:  # cancelled mid-write: nothing of this batch is remembered
            self._keep_ahead(ahead, None)
            raise
        if not self._keep_ahead(ahead, (saves, forgets)):
            self.state.save(saves)
            self.state.forget(forgets)
        for mkey in self.outdated:  # (after the save ahead, whose savepoint may be undone)
            self.state.set_version(self.side.name, mkey, None)
        self.outdated.clear()
        self.state.commit()
        self.written += len(tasks) + len(rows)
        if self.stopped is not None:
            stopped, self.stopped = self.stopped, None
            raise stopped

    def _mark_unrecorded(self) -> None:
        """Before the first write: the state says writes are under way (a write may land while
        its state is not saved yet; see ``UNRECORDED``). Committed with the batch's state, or
        with the record of a run that stops; a run killed before is seen as such."""
        if self.marked or self.dry:
            return
        self.marked = True
        if self.state.get(UNRECORDED) is None:
            self.state.put(UNRECORDED, str(self.run))

    def _written(self, tasks: list[Task], changes: list[Change],
                 rows: Sequence[tuple[Change, RowItem]] = ()
                 ) -> tuple[list[tuple[Any, ...]], list[str]]:
        """Make the changes (the tasks', then ``rows``': creates of a RowBatch) and count them;
        the pairs to save and to forget for those written."""
        if self.convert:
            outcomes = self.provider.convert(changes)
        elif self.dry:
            outcomes = [WriteOutcome(c, True) for c in changes]
        else:
            try:
                outcomes = self.provider.write(changes)
            except WriteStopped as exc:  # the side stopped answering mid-write: keep the state
                outcomes, self.stopped = exc.outcomes, exc  # of those written, then stop
            except ConnectError:  # the side cannot be reached: every later write would fail too
                raise
            except Exception as exc:  # a batch-level failure: every item failed, run goes on
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                outcomes = [WriteOutcome(c, False, message) for c in changes]
        saves: list[tuple[Any, ...]] = []
        forgets: list[str] = []
        name = self.side.name
        kid_of = self.side.kid_of
        after = self.after
        planned = self.counts.planned
        done = {"create": 0, "update": 0, "delete": 0}
        for task, outcome in zip(tasks, outcomes, strict=False):
            if not outcome.ok:
                if self.stopped is not None:  # (not written: the run's own error says why)
                    continue
                if outcome.changed:  # (its pair keeps its state: the next run decides it)
                    self.changed += 1
                    self.outdated.append(task.mkey)
                    self.changed_items.append((task.mkey, task.src_kid, task.dst_kid))
                    continue
                if outcome.collided and not self.last_try:
                    self.kept_out.append(task)
                    continue
                if outcome.gone and self.recreate and task.op == "update" and not self.last_try:
                    self.kept_out.append(replace(task, op="create", dst_kid=None, only=None,
                                                 dst_version=None))
                    continue
                self.counts.errors[name] += 1
                self.unsure += outcome.unsure
                self.failures.append((task.mkey, task.src_kid, task.dst_kid))
                self.sink(ItemError(side=name, key=task.mkey, message=failed_text(outcome)))
                continue
            op = task.op
            done[op] += 1
            if planned is not None:
                planned.add(name, op, (task.mkey,))
                if op == "update":
                    planned.set_by(name, task.mkey, outcome.change.values)
            if after is not None:
                after(task, outcome)
                continue
            if op == "delete":
                if not task.vacated:
                    forgets.append(task.mkey)
                continue
            kid = kid_of(outcome.key or outcome.change.key) if op == "create" else task.dst_kid
            saves.append(self._pair(task.mkey, kid, task.src_kid, task.hash, task.src_version))
        if rows:
            looked = dict(enumerate(outcomes[len(tasks):]))
            made = self._written_pairs(RowBatch((), (), []), [item for _, item in rows], looked)
            saves += made
            done["create"] += len(made)
            if planned is not None:
                planned.add(name, "create", (save[0] for save in made))
        for op, count in done.items():
            if count:
                self.counts.add(op, name, count)
        return saves, forgets

    def _save_ahead(self, tasks: list[Task]) -> Ahead | None:
        """Save the batch's pairs as if every write succeeds, in the write thread and inside a
        savepoint, while the provider writes: the state's I/O overlaps the target's. Kept only
        if the writes all succeeded (``_keep_ahead``); never committed before. Not for creates
        (their key may come from the target)."""
        if any(t.op == "create" for t in tasks):
            return None
        saves = [self._pair(t.mkey, t.dst_kid, t.src_kid, t.hash, t.src_version)
                 for t in tasks if t.op != "delete"]
        forgets = [t.mkey for t in tasks if t.op == "delete" and not t.vacated]
        state = self.state

        def save() -> None:
            state.savepoint()
            state.save(saves)
            state.forget(forgets)

        return (saves, forgets), self._pool().submit(save)

    def _keep_ahead(self, ahead: Ahead | None,
                    made: tuple[list[SaveRow], list[str]] | None) -> bool:
        """Wait for a save ahead; keep it if it saved just ``made`` (the pairs the writes
        succeeded for), else undo it. Whether the state now holds ``made``."""
        if ahead is None:
            return False
        guess, future = ahead
        try:
            future.result()
        except Exception:  # noqa: BLE001  (undone below; the plain save reports it if it recurs)
            kept = False
        else:
            kept = made is not None and guess == made
        if kept:
            self.state.release()
        else:
            self.state.undo()
        return kept

    def _pool(self) -> ThreadPoolExecutor:
        """The write thread (started on first use)."""
        if self.pool is None:
            self.pool = ThreadPoolExecutor(1, thread_name_prefix="l2tui-write")
        return self.pool

    def _pair(self, mkey: str, kid: str | None, src_kid: str | None, hash: str,
              src_version: str | None) -> SaveRow:
        """The state row of a pair this writer wrote: its key here, the source's key and
        version there (this side's version is not known until it is read)."""
        if self.side.name == "left":
            return (mkey, kid, src_kid, hash, None, None, self.run, None, src_version)
        return (mkey, src_kid, kid, hash, None, None, self.run, src_version, None)

    def _send_rows(self) -> None:
        """Hand the queued creates to the write thread as one RowBatch once the one before is
        written: the run reads and normalises the next page while the provider writes. The
        state of the one before is saved after this one is sent, while it is written (both
        databases at work at once; the write thread idled through each save before)."""
        written = self._wait_in_flight()
        if written is not None and self.stopped is not None:
            self._save_written(written)  # (raises: the side stopped, nothing more is sent)
        rows, items = self.rows, self.row_items
        self.rows, self.row_items = [], []
        batch = RowBatch(*self.side.create_names, rows)
        if self.convert:  # (as ``create_rows`` would: each row refused, with its outcome)
            converted = self.provider.convert([batch.change(i) for i in range(len(batch.rows))])
            self._save_rows(batch, items, {i: outcome for i, outcome in enumerate(converted)
                                           if not outcome.ok})
        elif self.dry:
            self._save_rows(batch, items, {})
        else:
            self._mark_unrecorded()
            self.in_flight = (batch, items, self._pool().submit(self.provider.create_rows, batch))
        if written is not None:
            try:
                self._save_written(written)
            except Exception:
                self._abandon_in_flight()
                raise

    def _abandon_in_flight(self) -> None:
        """After the state failed: wait for the RowBatch just sent, and save nothing of it. The
        run stops with the state's error; its rows are written but not recorded, as a batch in
        flight is when a run stops (``UNRECORDED``: the next run matches them by key)."""
        in_flight, self.in_flight = self.in_flight, None
        if in_flight is not None:
            wait([in_flight[2]])

    def settle(self) -> None:
        """Wait for the RowBatch in flight; commit the state of its items that were written."""
        written = self._wait_in_flight()
        if written is not None:
            self._save_written(written)

    def _wait_in_flight(self) -> Written | None:
        """The RowBatch in flight once written, with each row's outcome where it is not plain
        success (None: nothing was in flight). Sets ``stopped`` if the side stopped midway."""
        if self.in_flight is None:
            return None
        batch, items, future = self.in_flight
        self.in_flight = None
        try:
            looked = future.result()
        except WriteStopped as exc:  # stopped mid-write: keep the state of those written
            looked, self.stopped = dict(enumerate(exc.outcomes)), exc
        except ConnectError:  # the side cannot be reached: the run stops (nothing saved)
            raise
        except Exception as exc:  # a batch-level failure: every item failed, run goes on
            message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            looked = {i: WriteOutcome(batch.change(i), False, message)
                      for i in range(len(batch.rows))}
        return batch, items, looked

    def _save_written(self, written: Written) -> None:
        """Commit the state of a written RowBatch; then raise the side's stop, if it stopped."""
        self._save_rows(*written)
        if self.stopped is not None:
            stopped, self.stopped = self.stopped, None
            raise stopped

    def close(self) -> None:
        """Settle what is in flight and stop the write thread (also after a failed run)."""
        try:
            self.settle()
        finally:
            if self.pool is not None:
                self.pool.shutdown(wait=True)
                self.pool = None

    def _save_rows(self, batch: RowBatch, items: list[RowItem],
                   looked: dict[int, WriteOutcome]) -> None:
        """Count a written RowBatch and commit the state of its items that succeeded."""
        if not looked and self.side.created_kid_is_mkey:  # (a first run's batches)
            saves = self._created_pairs(items)  # all written, each key text its match key
        else:
            saves = self._written_pairs(batch, items, looked)
        if saves:
            self.counts.add("create", self.side.name, len(saves))
        if self.counts.planned is not None:
            self.counts.planned.add(self.side.name, "create", (save[0] for save in saves))
        self.state.save(saves)
        self.state.commit()
        self.written += len(batch.rows)

    def _written_pairs(self, batch: RowBatch, items: list[RowItem],
                       looked: dict[int, WriteOutcome]) -> list[SaveRow]:
        """The pairs of a RowBatch's rows that were written; the others counted as errors."""
        rows, split = batch.rows, len(batch.keys)
        name = self.side.name
        kid_of = self.side.kid_of
        same_key = self.side.created_kid_is_mkey
        saves: list[SaveRow] = []
        for index, (mkey, hsh, src, version) in enumerate(items):
            outcome = looked.get(index) if looked else None
            if outcome is None:
                kid = mkey if same_key else key_json(list(rows[index][:split]))
            elif outcome.ok:
                kid = kid_of(outcome.key or outcome.change.key)
            elif self.stopped is not None:  # (not written: the run's own error says why)
                continue
            elif outcome.collided and not self.last_try:
                self.kept_rows.append((outcome.change, items[index]))
                continue
            else:
                self.counts.errors[name] += 1
                self.unsure += outcome.unsure  # (a create answered 5xx: it may have been made)
                self.failures.append((mkey, src, None))
                self.sink(ItemError(side=name, key=mkey, message=failed_text(outcome)))
                continue
            saves.append(self._pair(mkey, kid, src, hsh, version))
        return saves

    def _created_pairs(self, items: list[RowItem]) -> list[SaveRow]:
        """``_pair`` of every item, each written with its match key as its key text: one tuple a
        row without a call (2.5 times as fast; a first run saves 100,000 of them)."""
        run = self.run
        if self.side.name == "left":
            return [(m, m, src, h, None, None, run, None, v) for m, h, src, v in items]
        return [(m, src, m, h, None, None, run, v, None) for m, h, src, v in items]


class Outbox:
    """Writes held back on disk until they may run (deletes after the guard; writes to a side
    whose read is still streaming)."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self.db = db
        db.execute("DROP TABLE IF EXISTS temp.outbox")
        db.execute("CREATE TEMP TABLE outbox (id INTEGER PRIMARY KEY, side TEXT, op TEXT, "
                   "task TEXT)")

    def put(self, task: Task) -> None:
        """Hold one task."""
        self.db.execute("INSERT INTO temp.outbox(side, op, task) VALUES (?, ?, ?)",
                        (task.side, task.op, json.dumps(asdict(task), default=str)))

    def count(self, side: str, op: str) -> int:
        """Held tasks of one kind."""
        row = self.db.execute("SELECT COUNT(*) FROM temp.outbox WHERE side = ? AND op = ?",
                              (side, op)).fetchone()
        return int(row[0])

    def drain(self, side: str, ops: tuple[str, ...]) -> Iterator[Task]:
        """The held tasks of one side and kinds, in order, in chunks."""
        marks = ",".join("?" * len(ops))
        last = 0
        while True:
            rows = self.db.execute(
                f"SELECT id, task FROM temp.outbox WHERE side = ? AND op IN ({marks}) AND id > ? "
                "ORDER BY id LIMIT 1000", (side, *ops, last)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            for _, text in rows:
                yield Task(**json.loads(text))
