"""Apply planned writes in batches; an item's state is committed only after its write succeeded."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field
from typing import Any

from l2tui.providers.base import Change, ChangeOp, Provider, WriteOutcome
from l2tui.sync.events import EventSink, ItemError
from l2tui.sync.side import SideInfo
from l2tui.sync.state import StateStore


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


@dataclass
class Counts:
    """What was (or, dry, would be) written per side."""

    created: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    updated: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    deleted: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})
    errors: dict[str, int] = field(default_factory=lambda: {"left": 0, "right": 0})

    def add(self, op: str, side: str, count: int = 1) -> None:
        """Count successful writes."""
        {"create": self.created, "update": self.updated, "delete": self.deleted}[op][side] += count


AfterWrite = Callable[[Task, WriteOutcome], None]


class Writer:
    """Batches the writes to one side; flushes when a batch is full, then commits their state."""

    def __init__(self, side: SideInfo, provider: Provider, state: StateStore, run: int, *,
                 batch: int, dry: bool, sink: EventSink, counts: Counts,
                 after: AfterWrite | None = None) -> None:
        self.side = side
        self.provider = provider
        self.state = state
        self.run = run
        self.batch = max(1, batch)
        self.dry = dry
        self.sink = sink
        self.counts = counts
        self.after = after
        self.tasks: list[Task] = []
        self.written = 0

    def add(self, task: Task) -> None:
        """Queue one write; flush a full batch."""
        self.tasks.append(task)
        if len(self.tasks) >= self.batch:
            self.flush()

    def change(self, task: Task) -> Change:
        """The provider Change a task makes."""
        op = task.op
        side = self.side
        if op == "delete":
            return Change(ChangeOp.DELETE, side.key_dict(task.dst_kid or "[]"))
        if op == "create" and task.values and task.only is None and not task.extra:
            key, values = side.create_values(task.mkey, task.values)
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
        return Change(ChangeOp(op), side.key_dict(task.dst_kid or "[]"), values)

    def flush(self) -> None:
        """Write the queued batch and commit the state of the items that succeeded."""
        if not self.tasks:
            return
        tasks, self.tasks = self.tasks, []
        changes = [self.change(t) for t in tasks]
        if self.dry:
            outcomes = [WriteOutcome(c, True) for c in changes]
        else:
            try:
                outcomes = self.provider.write(changes)
            except Exception as exc:  # a batch-level failure: every item failed, run goes on
                message = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                outcomes = [WriteOutcome(c, False, message) for c in changes]
        saves: list[tuple[Any, ...]] = []
        forgets: list[str] = []
        name = self.side.name
        left = name == "left"
        kid_of = self.side.kid_of
        after, run = self.after, self.run
        done = {"create": 0, "update": 0, "delete": 0}
        for task, outcome in zip(tasks, outcomes, strict=False):
            if not outcome.ok:
                self.counts.errors[name] += 1
                self.sink(ItemError(side=name, key=task.mkey,
                                    message=outcome.error or "write failed"))
                continue
            op = task.op
            done[op] += 1
            if after is not None:
                after(task, outcome)
                continue
            if op == "delete":
                forgets.append(task.mkey)
                continue
            kid = kid_of(outcome.key or outcome.change.key) if op == "create" else task.dst_kid
            saves.append((task.mkey, kid, task.src_kid, task.hash, None, None, run) if left else
                         (task.mkey, task.src_kid, kid, task.hash, None, None, run))
        for op, count in done.items():
            if count:
                self.counts.add(op, name, count)
        self.state.save(saves)
        self.state.forget(forgets)
        self.state.commit()
        self.written += len(tasks)


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
