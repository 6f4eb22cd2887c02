"""One sync run: read both sides (streaming), decide each item three-way, apply in batches."""

from __future__ import annotations

import gc
import json
import queue
import sqlite3
import threading
import time
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from typing import Any, NamedTuple

from l2tui.config.model import ConflictResolution, Connection, Deletions, Direction
from l2tui.errors import ConfigError, ConnectError, GuardRefused, L2Error
from l2tui.pools import thread_pool
from l2tui.providers import entity_label, reaching
from l2tui.providers.base import (
    ChangeOp,
    Column,
    ColumnType,
    Key,
    Page,
    Provider,
    ReadStream,
    Record,
    SeenFilter,
    VerifyResult,
    WriteOutcome,
)
from l2tui.sqlite_rows import insert_rows
from l2tui.sync.apply import UNRECORDED, Counts, Outbox, Planned, Task, Writer
from l2tui.sync.events import (
    Conflict,
    Event,
    EventSink,
    ItemError,
    LogLine,
    PlanCounts,
    Progress,
    RunReport,
    RunStarted,
    ignore,
)
from l2tui.sync.mapping import (
    MappingPlan,
    build_mapping,
    changes,
    compared,
    modified_column,
    same_match,
)
from l2tui.sync.normalize import exact_json, values_json
from l2tui.sync.plan import PRESENT, Action, Decision, Policy, Status, decide
from l2tui.sync.reading import EntityPages, Prefetch
from l2tui.sync.side import Item, SideInfo, match_values
from l2tui.sync.state import STALE, StateRow, StateStore, VersionReader
from l2tui.sync.summaries import alone_text, count_text

SIDES = ("left", "right")
MOST_RETRIED = 1000
"""Failed items past which a run keeps its old change-tracking cursor rather than the new one
with the items to read again by key: a delta read of that many (pages of thousands) costs less
than asking for them a hundred a request."""
OTHER = {"left": "right", "right": "left"}
REFILLING = "refilling"  # the state's meta key naming the entity (1, 2) a refill fills (``_emptied``)


def _version_pairs(mkeys: list[str | None],
                   versions: list[str | None]) -> list[tuple[str, str]]:
    """A page's (match key, version) where both are known, for a version skip; none when a
    match key comes twice (then every value is compared as usual)."""
    pairs = [(m, v) for m, v in zip(mkeys, versions, strict=True)
             if m is not None and v is not None]
    return [] if len({m for m, _ in pairs}) < len(pairs) else pairs


def _only_on(status: dict[str, Status]) -> str | None:
    """The side an item is on when the other never had it (else None)."""
    for side in SIDES:
        if status[OTHER[side]] == Status.ABSENT and status[side] in PRESENT:
            return side
    return None


class Cancelled(Exception):
    """The run was asked to stop."""


class Rebaseline(Exception):
    """The mapping, a select or the match key changed since the last run, which synced ``pairs``
    pairs: nothing is written until the runner has planned the re-match (``Options.checked``).
    ``changed``: what changed, in words (``changed_text``)."""

    def __init__(self, pairs: int, changed: str) -> None:
        super().__init__(f"{changed} since {pairs} pairs were synced")
        self.pairs = pairs
        self.changed = changed


def changed_text(stored: str | None, current: str) -> str:
    """What changed since the state's signature ``stored``, for a warning: named where the state
    says (its signature's parts), else in general."""
    said = changes(stored, current)
    if not said:
        return "the mapping, a select or the match key changed"
    return "the settings changed (" + "; ".join(said) + ")"


def rematch_text(stored: str | None, current: str, kept: bool) -> str:
    """The warning of a run matching both sides again after a change of settings."""
    head = f"{changed_text(stored, current)} since the last run: matching both sides by key again"
    if kept:
        return (f"{head}, comparing values as a first run would; a pair synced before that a side "
                "no longer has was deleted there (carried over as deletions and the direction "
                "say)")
    return (f"{head} as a first run would (with another match key, provider, connection string "
            "or table the pairs synced before are forgotten: nothing is deleted)")


def _deleted_under_new_settings(status: dict[str, Status], st: StateRow) -> None:
    """A pair synced under other settings (``StateRow.stale``) that one side no longer has: a
    deletion on that side. The other side's hash means nothing now: it is taken as synced."""
    if not st.stale:
        return
    for side in SIDES:
        if status[side] == Status.GONE and status[OTHER[side]] == Status.EDIT:
            status[OTHER[side]] = Status.SAME


@dataclass
class Options:
    """How to run: dry, forced past the deletion guard, comparing everything, batch size."""

    dry_run: bool = False
    force: bool = False
    full: bool = False
    batch_size: int | None = None
    checked: bool = False  # a re-match after a change of settings, planned first and found safe
    planning: bool = False  # that plan (a dry run): part of the run that follows, not recorded


class EarlyRead(NamedTuple):
    """The source's delta read, started before the run was ready (``Engine._read_early``)."""

    side: str
    cursor: str
    pages: Prefetch  # (its stream: ``pages.stream``)


@dataclass
class Reading:
    """A side's read as a run consumes it (``Engine._read``)."""

    stream: ReadStream
    pages: Iterator[Page]
    skipped: queue.SimpleQueue[list[str]]  # match keys the read left out, seen by version
    reader: VersionReader | None  # the state connection the reading thread asks

    @property
    def filtered(self) -> bool:
        """Whether the read leaves out what the state has seen."""
        return self.reader is not None

    def close(self) -> None:
        """Stop the reading thread, then close the state connection it asks."""
        close = getattr(self.pages, "close", None)
        if close is not None:
            close()
        if self.reader is not None:
            self.reader.close()


def _drained(items: queue.SimpleQueue[list[str]]) -> Iterator[list[str]]:
    """What a queue holds now, taken out."""
    while True:
        try:
            yield items.get_nowait()
        except queue.Empty:
            return


def _items(page: Page, info: SideInfo) -> list[Item]:
    """A page's items: from the fields the read made (``Provider.read``'s transform), or here."""
    if page.items is not None:
        return [Item(*fields) for fields in page.items]
    return [info.item(record) for record in page.records]


def _as_one(mkeys: set[str], where: str = "the database", shown: int = 5) -> str:
    """What an error on a repeated key adds when the side took other match keys for its value
    too (a collation that ignores case: ["abc"] and ["ABC"]; or the other side's keys, which
    ignore case: ``where``): them, the first ``shown``."""
    if len(mkeys) < 2:
        return ""
    ordered = sorted(mkeys)
    more = ", …" if len(ordered) > shown else ""
    return f" (as {', '.join(ordered[:shown])}{more}: one value to {where})"


def _in_any_case(records: list[Record], shown: int = 5) -> str:
    """What an error on a repeated key adds when its rows hold one GUID in different cases."""
    texts = sorted(" / ".join(map(str, record.values())) for record in records)
    more = ", …" if len(texts) > shown else ""
    return f" (as {', '.join(map(repr, texts[:shown]))}{more}: one GUID in any case)"


def _folded(mkey: str) -> list[Any]:
    """A match key's values as keys that ignore case compare them: texts case-folded, without
    trailing blanks."""
    return [v.casefold().rstrip(" ") if isinstance(v, str) else v for v in match_values(mkey)]


def _fold_key(mkey: str) -> str:
    """``_folded`` as one text, to look a match key up by (temp.w's ``fkey``)."""
    return json.dumps(_folded(mkey), default=str)


def _remote(provider: Provider) -> bool:
    """Whether a provider reads over the network (its pages are worth prefetching)."""
    return getattr(provider, "name", "") == "odata" or type(provider).__name__ == "ODataProvider"


def _staged_item(mkey: str, kid: str, vals: str | None, hsh: str, modified: str | None,
                 ver: str | None) -> Item:
    """A row of the temp table ``w`` as an Item. A row staged as synced (``vals`` NULL) has no
    values: its side is as last agreed, and no decision copies from such a side."""
    return Item(mkey, kid, json.loads(vals) if vals is not None else [], hsh, modified, ver)


class Probe:
    """Whether a one-way run's target holds any row (``Provider.has_rows``), asked after its
    describe, beside the other side's: ``rows`` (None: not known), or why it could not ask."""

    def __init__(self, provider: Provider) -> None:
        self.provider = provider
        self.rows: bool | None = None
        self.failed = ""

    def ask(self) -> None:
        """Ask the provider (a select it refuses is said in ``failed``, not raised)."""
        try:
            self.rows = self.provider.has_rows()
        except ConfigError as exc:
            self.failed = str(exc)


def verify_entity(conn: Connection, index: int, provider: Provider) -> VerifyResult:
    """Entity ``index``'s ``Provider.verify``, failed in its settings where a run would refuse
    the entity alone: a ``modified_column`` that is not one of its columns."""
    result = provider.verify()
    if not result.ok:
        return result
    try:
        modified_column(conn, index, provider.describe())
    except ConfigError as exc:
        return VerifyResult(False, str(exc), in_settings=True, setting=exc.key or "")
    return result


def plan_mapping(conn: Connection, left: Provider, right: Provider,
                 probe: Probe | None = None) -> MappingPlan:
    """Describe both sides and check the mapping against them (nothing is written).

    A side that cannot prompt is described in a thread beside the other (whose sign-in may be
    waiting on the terminal); the left's failure is still the one reported first. A ``probe``
    asks its side whether it holds rows right after that side's describe, in the same thread."""
    lcols, rcols = _described(conn, left, right, probe)
    return build_mapping(conn, lcols, rcols, left.key_columns(), right.key_columns())


def _described(conn: Connection, left: Provider, right: Provider,
               probe: Probe | None = None) -> tuple[list[Column], list[Column]]:
    """Both sides' columns: one after the other when both may prompt, else side by side."""
    aside = right if right.asks_nobody() else left if left.asks_nobody() else None
    if aside is None:
        return _describe(conn, left, 1, probe), _describe(conn, right, 2, probe)
    here = left if aside is right else right
    with thread_pool(1, "l2tui-describe") as pool:
        there = pool.submit(_describe, conn, aside, 1 if aside is left else 2, probe)
        try:
            mine = _describe(conn, here, 1 if here is left else 2, probe)
        except Exception:  # (an interrupt waits on neither)
            if aside is left:
                there.result()  # the left's failure, if any, is the one to report
            raise
        theirs = there.result()
    return (mine, theirs) if here is left else (theirs, mine)


def _describe(conn: Connection, provider: Provider, entity: int,
              probe: Probe | None = None) -> list[Column]:
    """One side's columns (then the ``probe``, if it is this side's); its configuration errors
    name the entity's key (entity1.select), and a side that cannot be reached or signed in to
    is named (entity 1 (Dynamics accounts): …)."""
    try:
        with reaching(conn, entity):
            columns = provider.describe()
            if probe is not None and probe.provider is provider:
                probe.ask()
            return columns
    except ConfigError as exc:
        raise exc.within(entity) from None


def unique_sides(conn: Connection) -> tuple[str, ...]:
    """The sides whose match-key values must each name one item (``Engine._repeated``): the side
    a one-way run reads from, both sides of a bidirectional run."""
    if conn.direction == Direction.BIDIRECTIONAL:
        return SIDES
    return ("right",) if conn.direction == Direction.RIGHT_TO_LEFT else ("left",)


def repeated_match_keys(conn: Connection, plan: MappingPlan, left: Provider,
                        right: Provider) -> list[str]:
    """Verify's warnings naming the match-key values more than one item of a side holds, on
    the sides a run fails them (``Engine._repeated``), each as ``Entity N: …``: for a match key
    other than the side's primary key (the entity's own verify looks at that one), or with a
    text column taken as a GUID, or one the other side's keys take, in any case (``folded``),
    which the entity knows nothing of."""
    providers = {"left": left, "right": right}
    out = []
    for side in unique_sides(conn):
        names = [p.column(side).name for p in plan.match]
        match = [(p.column(side), p.kind) for p in plan.match]
        theirs = [(p.column(OTHER[side]), p.kind) for p in plan.match]
        folded = [*folded_columns(match),
                  *caseless_columns(match, _keys_ignore_case(providers[OTHER[side]], theirs))]
        if names != [c.name for c in plan.keys[side]] or folded:
            index = 1 if side == "left" else 2
            out += [f"Entity {index}: {w}"
                    for w in providers[side].repeated_warnings(names, folded)]
    return out


def caseless_columns(match: list[tuple[Column, ColumnType]], ignored: bool) -> list[str]:
    """The match-key text columns of a side whose values the other side's keys take in any case
    and without trailing blanks (``ignored``: Dataverse's), where 'abc' and 'ABC ' are one."""
    if not ignored:
        return []
    return [c.name for c, kind in match if kind == ColumnType.STRING and c.type == ColumnType.STRING]


def _keys_ignore_case(provider: Provider, match: list[tuple[Column, ColumnType]]) -> bool:
    """Whether a side's match key (its columns, each with its pair's type) takes texts in any
    case: the provider's keys do (Dataverse's), or a column's collation does (MySQL's `_ci`);
    False where it cannot say."""
    if any(c.ignores_case for c, _ in match):
        return True
    try:
        return provider.capabilities().keys_ignore_case
    except L2Error:
        return False


def folded_columns(match: list[tuple[Column, ColumnType]]) -> list[str]:
    """The match-key columns of a side (each with the type its pair is compared as) that hold
    texts the sync takes as GUIDs: one match key in any case, '3250C8E2-…' and '3250c8e2-…'."""
    return [c.name for c, kind in match if kind == ColumnType.GUID and c.type == ColumnType.STRING]


class Engine:
    """Runs one connection once against open providers and its state store."""

    def __init__(self, conn: Connection, left: Provider, right: Provider, state: StateStore, *,
                 options: Options | None = None, sink: EventSink = ignore,
                 cancel: threading.Event | None = None, started: float | None = None) -> None:
        self.conn = conn
        # when the run began (default: when ``run`` is called; the runner gives the start of a
        # re-match's planning pass), and when it ended once recorded: the history and the report
        # give the same two times
        self.started = started
        self.finished: float | None = None
        self.providers = {"left": left, "right": right}
        self.state = state
        self.options = options or Options()
        self.sink = sink
        self.cancel = cancel or threading.Event()
        self.counts = Counts(planned=Planned() if self.options.dry_run else None)
        self.conflicts = 0
        self.writers: dict[str, Writer] = {}  # per side, made by ``_run``
        # the state may lack items both sides hold (set by ``_run``; until it is known, assume so)
        self.state_lacking = True
        # the run marked UNRECORDED only because nothing was synced yet (set by ``_run``)
        self.marked_as_first = False
        self.unresolved = 0
        self.undated = 0  # latest_wins conflicts a side had no modified-on value for
        self.unchanged = 0
        # items a run failed (``retrying``) found on both sides alike with no pair: a write whose
        # outcome was unknown (``WriteOutcome.unsure``) was made after all; matched, unchanged
        self.found = 0
        self.only = {s: 0 for s in SIDES}  # items found on one side only, left alone (one-way)
        self.rematched = 0  # pairs synced under other settings, matched again by key this run
        self.stored: str | None = None  # the settings the state was synced under (signature)
        self.signed = ""  # this run's signature as ``stored`` was written (``compared``)
        self.kept = False  # a re-match keeps the pairs synced before (``StateStore.rematch``)
        self.new_handled = 0  # match keys marked handled that had no pair (see ``_unread``)
        self.refused = ""  # the deletion guard's refusal a dry run met (a real run would stop)
        self.refused_deletes = 0  # the deletes it would refuse
        self.policy = Policy(conn.direction, conn.conflict_resolution, conn.deletions)
        self.complete = {s: True for s in SIDES}  # a full read of the side holds every item
        # match keys of items a read could not read (``_readable``), or that more than one item
        # of a side holds (``_repeated``): left as they are this run
        self.failed: set[str] = set()
        # items a run failed since its cursor moved past them (``StateStore.retries``): read
        # again by key on each side read as changes, as if its delta named them (``_pages``)
        self.retrying: dict[str, tuple[str | None, str | None]] = {}
        self.to_retry: dict[str, set[str]] = {}  # each side's keys of them, not read yet
        self.retry_unread = False  # a side could not read them by key: kept, cursors too
        # items failed this run that a later run would not find again by key (a match key that
        # repeats, an item without one): the run keeps its cursors, as a run with errors did
        self.unretryable = 0
        self.item_failures: dict[str, tuple[str | None, str | None]] = {}  # ``_readable``'s
        # conflicts recorded before whose winning write failed (``StateStore.unsettled_conflicts``)
        self.unsettled: dict[str, tuple[int, str, str, str]] = {}
        # the conflicts a side won this run, to settle once written: match key → the id of its
        # record from an earlier run whose write failed (None: recorded by this run)
        self.won: dict[str, int | None] = {}
        # pairs whose item came back under another match key (``_moved``), decided as gone:
        # their match key → the item's new one
        self.moved: dict[str, str] = {}
        # their new match keys → the side their create went to and the old pair's key there
        # (``_rewrites``)
        self.renumbered: dict[str, tuple[str, str]] = {}
        # the rows pairs left for the row their values name (``named_kid``): deleted once no
        # pair holds them (``_vacate``), by side, as (match key, the row's key)
        self.vacated: dict[str, list[tuple[str, str]]] = {s: [] for s in SIDES}
        self.vacating: set[str] = set()  # their match keys, where the row was to be deleted
        # items whose match key was edited in case alone, where the other side's keys ignore
        # case (``_recased``): their new match key → the other side's key of their old pair
        self.recased: dict[str, str] = {}
        self.deleting: set[str] = set()  # pairs whose partner this run deletes (``_act``)
        self.keys_ignore_case = {s: False for s in SIDES}
        # a run that matches both sides by key where a side's keys ignore case, over a text
        # match key: items are paired in any case too (``_fold_paired``)
        self.folding = False
        self.failed_folds: set[str] = set()  # ``failed`` as folded (``_fold_key``)
        self.probe: Probe | None = None  # whether a one-way target holds rows (``_emptied``)

    # -- the run -------------------------------------------------------------------------

    def run(self) -> RunReport:
        """Plan and apply; raises RunError (deletion guard) or ConfigError (mapping)."""
        started = time.time() if self.started is None else self.started
        self._early = self._read_early()
        try:
            return self._planned_run(started)
        finally:
            self._drop_early()

    def _keyed_by_others(self, side: str) -> bool:
        """Whether a key column of ``side`` is written from a column of the other side that is
        no key there (a SQL ``id`` from Dataverse's ``numberofemployees``): an edit of it there
        names another row here, with the item's own key unchanged."""
        info = self.sides[side]
        if not info.keyed_by_values:
            return False
        other = OTHER[side]
        keys = {c.name for c in self.sides[other].keys}
        return any(self.plan.pairs[i].column(other).name not in keys for i in info.key_pairs())

    def _target_probe(self) -> Probe | None:
        """A one-way run's question whether its target holds any row, where the state holds
        pairs (``_emptied``); none where the run compares every row anyway: ``--full``, or
        after a run that stopped while writing (``UNRECORDED``)."""
        direction = self.conn.direction
        if direction == Direction.BIDIRECTIONAL or self.options.full or self.state.empty() or \
                self.state.get(UNRECORDED) is not None:
            return None
        return Probe(self.providers["left" if direction == Direction.RIGHT_TO_LEFT else "right"])

    def _check_writable(self) -> dict[str, Any]:
        """Both sides' capabilities; ConfigError if a side this run writes cannot be written."""
        direction = self.conn.direction
        targets = SIDES if direction == Direction.BIDIRECTIONAL else (
            ("right",) if direction == Direction.LEFT_TO_RIGHT else ("left",))
        caps = {s: self.providers[s].capabilities() for s in SIDES}
        for side in targets:
            if not caps[side].can_write:
                reason = caps[side].read_only_reason or "it is read-only"
                raise ConfigError(f"entity {1 if side == 'left' else 2} cannot be written: {reason}",
                                  key="direction")
        return caps

    def _planned_run(self, started: float) -> RunReport:
        """Check the mapping against both sides, then run it."""
        conn, state = self.conn, self.state
        self.probe = self._target_probe()
        try:
            plan = plan_mapping(conn, self.providers["left"], self.providers["right"], self.probe)
        except ConnectError:
            if not self.cancel.is_set():
                raise
            # the stop ended a wait for a side's description: a run cancelled, as it is later
            self.run_id = run = state.start_run(started)
            self._finish(run, "cancelled", "cancelled")
            return self._report(started, "cancelled", "cancelled")
        except ConfigError as exc:
            # a read-only target leaves nothing to map: say why it is read-only instead
            try:
                self._check_writable()
            except ConfigError as read_only:
                if read_only.key == "direction":
                    raise read_only from None
            except L2Error:
                pass
            raise exc
        self.plan = plan
        self.sides = {s: SideInfo(s, plan) for s in SIDES}
        self.keyed_by_others = {s: self._keyed_by_others(s) for s in SIDES}
        caps = self._check_writable()
        opts = self.options
        # pairs synced under other settings (mapping, selects, match key): 0 when unchanged
        stored = state.get("signature")
        current = self.signed = compared(stored, plan)  # (an older state's form: its own)
        self.rematched = 0 if stored in (None, current) else state.count()
        self.stored = stored
        # the pairs' match keys still name items: they are kept, and what a side lost is deleted
        self.kept = bool(self.rematched) and same_match(stored, current)
        if self.rematched and not (opts.dry_run or opts.force or opts.checked):
            # before the run starts: nothing written, no history
            raise Rebaseline(self.rematched, changed_text(stored, current))
        # said as warnings when the mapping is new (stderr, cron's mail), then in the log alone
        level = "warning" if stored != current else "info"
        for warning in plan.warnings:
            self.log(warning, level)
        if plan.skipped:
            self.log("not carried (a side is read-only): " + ", ".join(plan.skipped), level)
        self.run_id = run = state.start_run(started)
        thresholds = gc.get_threshold()
        try:
            # a run allocates millions of short-lived containers and keeps none in cycles:
            # collect young objects rarely (restored at the end). With 20,000, a first sync of
            # 100,000 rows spent 0.6 s in 15 collections; with 200,000, 1 ms in 3
            gc.set_threshold(max(thresholds[0], 200_000), *thresholds[1:])
            report = self._run(plan, caps, started, run)
        except BaseException as exc:
            settled = self._close_writers()  # the state of a batch written meanwhile is kept
            if isinstance(exc, ConnectError) and self.cancel.is_set():
                exc = Cancelled()  # (a side's retries cut short by the stop, or it failed meanwhile)
            outcome = "cancelled" if isinstance(exc, Cancelled) else "failed"
            message = "cancelled" if isinstance(exc, Cancelled) else \
                "interrupted" if isinstance(exc, KeyboardInterrupt) else str(exc)
            try:
                if isinstance(exc, Cancelled) and settled and not self.options.dry_run and \
                        not self.state_lacking and not self._unsure():
                    # stopped between batches: every write it made is in the state
                    state.put(UNRECORDED, None)
                elif self.marked_as_first and not any(w.marked for w in self.writers.values()):
                    # a first run that wrote nothing (a select the service refused): no write's
                    # outcome is unknown, and the next run matches by key as a first run anyway
                    state.put(UNRECORDED, None)
                if isinstance(exc, GuardRefused):  # nothing written: no conflict was settled
                    state.drop_conflicts(run)
                    self.conflicts = 0
                self._finish(run, outcome, message)
            except sqlite3.Error:
                if isinstance(exc, Cancelled):
                    raise
                # the state failed too (a full disk rolls its transaction back): the run's own
                # error is the one to report; the run stays unfinished, so the next compares all
            if isinstance(exc, Cancelled):
                return self._report(started, "cancelled", "cancelled")
            raise
        finally:
            gc.set_threshold(*thresholds)
            self._close_writers()
        return report

    def _marked_by_a_cancel(self) -> bool:
        """Whether the run that left the UNRECORDED mark was cancelled (a stop asked for), so
        that the next run says so rather than that some writes' outcome is unknown."""
        mark = self.state.get(UNRECORDED)
        if mark is None or not mark.isdigit():
            return False
        return any(r.outcome == "cancelled" for r in self.state.runs(1, run=int(mark)))

    def _unsure(self) -> int:
        """Failed writes the sides may have carried out all the same (see WriteOutcome)."""
        return sum(writer.unsure for writer in self.writers.values())

    def _close_writers(self) -> bool:
        """Settle and stop every writer; whether every write in flight settled."""
        settled = True
        for writer in self.writers.values():
            try:
                writer.close()
            except Exception as exc:  # noqa: BLE001  (the run's own error is the one to report)
                settled = False
                self.log(f"a write in flight failed: {exc}", "error")
        return settled

    def _run(self, plan: MappingPlan, caps: dict[str, Any], started: float, run: int) -> RunReport:
        conn, state, opts = self.conn, self.state, self.options
        self.complete = {s: caps[s].complete for s in SIDES}
        self.keys_ignore_case = {s: caps[s].keys_ignore_case or
                                 any(c.ignores_case for c, _ in self.sides[s].match)
                                 for s in SIDES}
        # a bidirectional run's update is made only if the record is still as the run knows it
        # (an edit made there meanwhile is not written over: the next run compares it); a
        # one-way run writes over its target's edits, as it never reads them
        self.checks_versions = {s: caps[s].checks_versions and
                                conn.direction == Direction.BIDIRECTIONAL for s in SIDES}
        for s in SIDES:
            if not self.complete[s]:
                self.log(f"entity {1 if s == 'left' else 2}'s select stops at a row limit: "
                         "its items missing from a read are not taken as deleted")
        rematch = bool(self.rematched)
        if rematch:
            if not opts.planning:  # (the runner said what the planning pass does)
                self.log(rematch_text(self.stored, self.signed, self.kept), "warning")
            if self.kept:
                state.rematch()
            else:
                state.reset()
        first = state.empty()
        crashed = state.last_run_crashed(run)
        unrecorded = state.get(UNRECORDED) is not None
        refilling = state.get(REFILLING) if crashed or unrecorded else None
        if refilling in ("1", "2"):  # (a refill stopped midway: compared in full again)
            self.log(f"a refill of {entity_label(conn, int(refilling))} was stopped midway: "
                     "comparing every row of both sides again (as --full)", "warning")
        elif crashed:
            self.log("the previous run did not finish: comparing both sides", "warning")
        elif unrecorded and self._marked_by_a_cancel():
            self.log("the previous run was cancelled before it finished: comparing both sides, "
                     "matching by key", "warning")
        elif unrecorded:
            # (the mark is left by a run that stopped, and by one that ended with writes the
            # service answered with errors but may have carried out: not a stop alone)
            self.log("the outcome of some writes of a previous run is unknown (it stopped, or "
                     "the service answered errors to writes it may have carried out): "
                     "comparing both sides, matching by key", "warning")
        conflicts_open = state.open_conflicts() > 0
        self.unsettled = state.unsettled_conflicts()
        match = first or crashed or unrecorded or opts.full or conflicts_open or rematch
        emptied = not match and self._emptied()
        match = match or emptied
        # the state may lack items both sides hold, from before this run's writes (or an emptied
        # target lacks items the state holds): the next run matches too until this one ends
        # normally (stopped midway, those not reached yet are still missing; a cancel leaves the
        # mark)
        self.state_lacking = unrecorded or first or crashed or rematch or emptied
        if self.state_lacking and not opts.dry_run:
            state.put(UNRECORDED, str(run))
            if emptied:  # (until a run ends: one stopped midway leaves the next to finish it)
                state.put(REFILLING, "1" if conn.direction == Direction.RIGHT_TO_LEFT else "2")
            self.marked_as_first = first and not (crashed or unrecorded or rematch)
        self.matching = match  # both sides compared in full: versions are not trusted
        self.folding = match and any(self.keys_ignore_case.values()) and \
            any(kind == ColumnType.STRING for _, kind in self.sides[SIDES[0]].match)
        two_way = conn.direction == Direction.BIDIRECTIONAL
        src = "right" if conn.direction == Direction.RIGHT_TO_LEFT else "left"
        dst = OTHER[src]
        self.src, self.dst = src, dst
        cursors = {s: (None if match else state.get(f"cursor.{s}")) for s in SIDES}
        for s in SIDES:
            if not caps[s].can_delta:
                cursors[s] = None
        self.mode = {src: "delta" if cursors[src] else "full",
                     dst: ("delta" if cursors[dst] else "full") if (two_way or match) else "none"}
        self.sizes = state.counts()
        self.state_empty = state.empty()
        self._plan_retries()
        self.sink(RunStarted(connection=conn.title, direction=conn.direction.value,
                             dry_run=opts.dry_run))
        self.log(f"reading {src} ({self.mode[src]}), {dst} ({self.mode[dst]})")
        db = state.db
        db.execute("DROP TABLE IF EXISTS temp.w")
        db.execute("CREATE TEMP TABLE w (mkey TEXT PRIMARY KEY, kid TEXT, vals TEXT, hash TEXT, "
                   "modified TEXT, gone INTEGER DEFAULT 0, done INTEGER DEFAULT 0, ver TEXT, "
                   "fkey TEXT)")
        db.execute("DROP TABLE IF EXISTS temp.gone")
        db.execute("CREATE TEMP TABLE gone (kid TEXT PRIMARY KEY)")
        db.execute("DROP TABLE IF EXISTS temp.keyless")
        db.execute("CREATE TEMP TABLE keyless (side TEXT, kid TEXT, vals TEXT, hash TEXT)")
        state.start_handled(run)  # (before any read asks whether something is noted as synced)
        self.outbox = Outbox(db)
        self.writers = {s: Writer(self.sides[s], self.providers[s], state, run,
                                  batch=opts.batch_size or caps[s].batch_size, dry=opts.dry_run,
                                  sink=self.sink, counts=self.counts,
                                  convert=not opts.planning,
                                  recreate=conn.direction != Direction.BIDIRECTIONAL)
                        for s in SIDES}
        # a run that could meet the deletion guard writes nothing before it has passed: every
        # write is held until the reads are done (a first run, with no pair to delete, streams)
        self.holding = not (opts.dry_run or opts.force or self.state_empty) and \
            conn.deletions == Deletions.PROPAGATE and conn.max_delete_ratio < 1
        if self.holding:
            for writer in self.writers.values():
                writer.hold(self.outbox.put)
        self.streaming: str | None = None
        self._repeated()
        if self.folding:
            self.failed_folds = {_fold_key(m) for m in self.failed}
        streams: dict[str, ReadStream] = {}
        if self.mode[dst] != "none":
            streams[dst] = self._stage(dst, cursors[dst])
            if self.folding:
                self._fold_staged()
        streams[src] = self._stream(src, cursors[src])
        self._leftovers()
        self._unhandled()
        self._check_cancel()
        if not self.holding:
            self._write_changes()
        self._guard()
        if self.holding:
            self._write_changes()
        for s in SIDES:
            self._drain(s, ("delete",))
        self._vacate()
        self._rewrites()
        if self.moved:
            self.state.forget_shadowed(self.moved)
        self._keyless()
        for s in SIDES:
            self.writers[s].write_kept_out()
        self._settle_conflicts()
        if "full" not in self.mode.values():
            self.unchanged += self._unread()
        # items whose partner was deleted while deletions are ignored: on one side, left alone
        for s, count in state.kept_alone().items():
            self.only[s] += count
        errors = sum(self.counts.errors.values())
        # writes not made (an item error, or the record changed meanwhile): each side's edit
        # is past its new cursor, so the next run reads them by key, or from the old cursor
        unwritten = errors + sum(w.changed for w in self.writers.values())
        if not opts.dry_run:
            state.put(REFILLING, None)  # (a refill ended: whatever the next run matches, not it)
            unsure = self._unsure()
            if unsure:  # the next run matches both sides by key, finding those written
                self.log(f"{unsure} failed create(s) may have been carried out all the "
                         "same (the service answered 5xx): the next run matches both sides by "
                         "key", "warning")
            else:
                state.put(UNRECORDED, None)  # every write's outcome is known, its state saved
            state.put("signature", plan.signature)
            retries = self._retries()
            state.set_retries(retries)
            for s, stream in streams.items():
                moves = unwritten == 0 or (len(retries) <= MOST_RETRIED and self._retried_by_key(s))
                if moves and caps[s].can_delta and stream.cursor:
                    state.put(f"cursor.{s}", stream.cursor)
                elif moves:
                    state.put(f"cursor.{s}", None)
            state.commit()
        outcome = "dry_run" if opts.dry_run else (
            "errors" if errors else "conflicts" if self.unresolved else "success")
        if self.found:
            self.log(f"{self.found} item(s) whose write a previous run failed were found on both "
                     "sides alike (a write whose outcome was unknown was made after all): "
                     "matched by key and counted unchanged, not written again")
        for s in SIDES:
            if self.writers[s].changed:
                self.log(f"{self.writers[s].changed} item(s) on the {s} changed while this run "
                         "was writing them: not written over; the next run compares them again",
                         "warning")
        if self.undated:
            self.log(f"latest_wins: {self.undated} conflict(s) met a side without a modified-on "
                     "value (a NULL in its column, or a text that is no date and time), so the left "
                     "won them; keep the column filled "
                     "on every change (in SQL, by a trigger) for the later change to win",
                     "warning")
        # a dry run a real run would stop at: its refusal, kept in the history with the plan
        message = self.refused if opts.dry_run and self.refused else self._summary()
        self._finish(run, outcome, message)
        return self._report(started, outcome, message)

    def _emptied(self) -> bool:
        """Whether a one-way run's target holds no row though the state holds pairs synced to
        it (emptied by hand, made again empty): then the run compares every row of both sides,
        as ``--full``, to fill it again; said in a warning."""
        probe = self.probe
        if probe is None:
            return False
        side = "left" if probe.provider is self.providers["left"] else "right"
        index = 1 if side == "left" else 2
        if probe.failed:
            self.log(f"could not ask entity {index} whether it holds rows: {probe.failed}")
            return False
        if probe.rows is not False:
            return False
        pairs = self.state.count(side)  # (a scan of the state: only for a target found empty)
        if not pairs:
            return False
        self.log(f"{entity_label(self.conn, index)} holds no rows though {pairs:,} were synced "
                 "to it: comparing every row of both sides (as --full)", "warning")
        return True

    # -- reading -------------------------------------------------------------------------

    def _repeated(self) -> None:
        """Fail each match key that more than one item of a side synced from holds
        (``Provider.repeated_keys``): one item error a key, and its items on both sides left as
        they are (``failed``), never one synced over another. A one-way run's target is only
        written: what it holds twice is written over alike."""
        for side in unique_sides(self.conn):
            info = self.sides[side]
            names = [c.name for c, _ in info.match]
            # texts the other side's keys take in any case ('abc', 'ABC '): one value there
            texts = caseless_columns(info.match, self.keys_ignore_case[OTHER[side]])
            try:
                repeated = self.providers[side].repeated_keys(
                    names, [*folded_columns(info.match), *texts])
            except ConfigError as exc:
                self.log(f"could not look for match keys that repeat: {exc.within(info.index)}",
                         "warning")
                continue
            counts: dict[str, int] = {}
            alike: dict[str, set[str]] = {}  # the match keys a value's records give, by each
            cased: dict[str, list[Record]] = {}  # a GUID's records that differ only by case
            for records, count in repeated:
                mkeys = {m for m in map(info.match_key, records) if m is not None}
                for mkey in mkeys:
                    counts[mkey] = counts.get(mkey, 0) + count
                    alike.setdefault(mkey, set()).update(mkeys)
                    if len(mkeys) == 1 and len(records) > 1:
                        cased[mkey] = records
            what = "primary_key" if names == [c.name for c in info.keys] else \
                f"the match key ({', '.join(names)})"
            for mkey in sorted(counts):
                self.failed.add(mkey)
                self.counts.errors[side] += 1
                self.unretryable += 1
                if mkey in cased:
                    self.sink(ItemError(side=side, key=mkey, message=(
                        f"appears {counts[mkey]} times{_in_any_case(cased[mkey])}: {what} must "
                        "be unique")))
                    continue
                where, unique = "the database", "unique; add a unique index"
                if texts and len(alike[mkey]) > 1 and \
                        len({json.dumps(_folded(m)) for m in alike[mkey]}) == 1:
                    where = f"entity {2 if side == 'left' else 1}, whose keys ignore case"
                    unique = "unique in any case"
                self.sink(ItemError(side=side, key=mkey, message=f"appears {counts[mkey]} times"
                                    f"{_as_one(alike[mkey], where)}: {what} must be {unique}"))

    def _read(self, side: str, cursor: str | None, *, by_version: bool) -> Reading:
        """A side's read: the early read if it is this one; an OData read prefetched (pages come
        over the network). With ``by_version``, where a key gives the match key, the read asks
        the state (``_seen_filter``) before it converts a page; a delta read has no use for it."""
        skipped: queue.SimpleQueue[list[str]] = queue.SimpleQueue()
        entity = 1 if side == "left" else 2
        early = self._take_early(side, cursor)
        if early is not None:
            return Reading(early.stream, EntityPages(early, entity), skipped, None)
        reader = self.state.version_reader() if by_version and \
            self.sides[side].key_is_match and self.state.can_settle_unchanged else None
        seen = None if reader is None else self._seen_filter(side, reader, skipped)
        provider = self.providers[side]
        # items made by the read itself (in a second process for a long OData read), unless the
        # run skips records by version here (``_skip_same_versions``), before making items
        transform = None if by_version and seen is None else self.sides[side]
        stream = provider.read(cursor, seen=seen, transform=transform)
        pages = Prefetch(stream) if _remote(provider) else iter(stream)
        return Reading(stream, EntityPages(pages, entity), skipped, reader)

    # -- items failed before -------------------------------------------------------------

    def _plan_retries(self) -> None:
        """The keys, on each side read as changes, of the items a run failed since its cursor
        moved past them (a side read in full reads them anyway; a one-way target is not read;
        nor a side that cannot read by key, whose cursor no run with item errors moved on):
        the pair's key there, else the one kept with the item."""
        self.retrying = self.state.retries()
        sides = [s for s in SIDES if self.mode[s] == "delta" and self._reads_by_key(s)]
        if not self.retrying or not sides:
            return
        states = self.state.lookup(list(self.retrying))
        for s in sides:
            index = 0 if s == "left" else 1
            kids = set()
            for mkey, kept in self.retrying.items():
                st = states.get(mkey)
                kid = (st.key(s) if st is not None else None) or kept[index]
                if kid is not None:
                    kids.add(kid)
            self.to_retry[s] = kids

    def _pages(self, side: str, read: Reading) -> Iterator[Page]:
        """A side's pages; after a delta, the items failed before that it did not name, read
        by key (``Provider.read_keys``): a key no longer read is a deletion, as a delta says."""
        kids = self.to_retry.get(side)
        if not kids:
            yield from read.pages
            return
        info = self.sides[side]
        for page in read.pages:
            if page.items is not None:
                kids.difference_update(fields[1] for fields in page.items)
            else:
                kids.difference_update(info.kid_of(record) for record in page.records)
            kids.difference_update(self._kid(side, key) for key in page.deleted)
            yield page
        if not kids or not read.stream.is_delta:  # (read in full: every item was read)
            return
        keys = {kid: tuple(info.key_dict(kid).values()) for kid in sorted(kids)}
        pages = self.providers[side].read_keys(list(keys.values()))
        if pages is None:
            self.retry_unread = True
            self.log(f"the {side} cannot be read by key: {len(kids)} item(s) a run failed "
                     "before wait for a full read (run with --full)", "warning")
            return
        self.log(f"reading again by key {len(kids)} item(s) of the {side} a run failed before")
        for page in EntityPages(pages, 1 if side == "left" else 2):
            kids.difference_update(info.kid_of(record) for record in page.records)
            yield page
        if kids:
            yield Page(deleted=[keys[kid] for kid in sorted(kids)])
        kids.clear()

    def _unreadable_failed(self, side: str, mkey: str | None, kid: str,
                           other: str | None) -> None:
        """Keep an item whose values ``side`` could not read, for the next run to read again by
        key. Not one without a match key, nor a bidirectional run's item with no pair: the other
        side may hold an item of that match key that this run left alone, unread by key."""
        if mkey is None or (other is None and self.conn.direction == Direction.BIDIRECTIONAL):
            self.unretryable += 1
            return
        self.item_failures[mkey] = (kid, other) if side == "left" else (other, kid)

    def _retries(self) -> dict[str, tuple[str | None, str | None]]:
        """The items the next run reads again by key: those failed this run, or whose write was
        not made as the record changed meanwhile (their keys on each side, where known), and
        those kept before that this run left as they were."""
        out: dict[str, tuple[str | None, str | None]] = {}
        if self.retry_unread:
            out.update(self.retrying)
        else:
            out.update((m, kids) for m, kids in self.retrying.items() if m in self.failed)
        for side, writer in self.writers.items():
            for mkey, src_kid, dst_kid in writer.unwritten:
                out[mkey] = (dst_kid, src_kid) if side == "left" else (src_kid, dst_kid)
        out.update(self.item_failures)
        return out

    def _retried_by_key(self, side: str) -> bool:
        """Whether a run with item errors may keep the new cursor of ``side``: every failed item
        is kept for the next run to read by key (``_retries``), and ``side`` can read by key."""
        return not (self.unretryable or self.retry_unread) and self._reads_by_key(side)

    def _reads_by_key(self, side: str) -> bool:
        """Whether ``side`` can read items by key (``Provider.read_keys``)."""
        return self.providers[side].read_keys([]) is not None

    def _read_early(self) -> EarlyRead | None:
        """Start the delta read of the source before the run is ready (describe, checks): its
        first request goes out while the schemas load. The left's always (a sign-in it needs is
        the one describe waits for); the right's when the left cannot prompt, so that two
        prompts never meet. Unused (another cursor, a full read, a failure) it is stopped;
        nothing was written."""
        side = "right" if self.conn.direction == Direction.RIGHT_TO_LEFT else "left"
        provider = self.providers[side]
        if self.options.full or not _remote(provider) or (
                side == "right" and not self.providers["left"].asks_nobody()):
            return None
        cursor = self.state.get(f"cursor.{side}")
        if not cursor:
            return None
        return EarlyRead(side, cursor, Prefetch(provider.read(cursor)))

    def _take_early(self, side: str, cursor: str | None) -> Prefetch | None:
        """The early read if it is this read of its side (a read of that side from another
        cursor stops it; the other side's read leaves it alone)."""
        early = self._early
        if early is None or side != early.side:
            return None
        self._early = None
        if cursor == early.cursor:
            return early.pages
        early.pages.close()
        return None

    def _drop_early(self) -> None:
        """Stop the early read if the run did not take it."""
        early, self._early = getattr(self, "_early", None), None
        if early is not None:
            early.pages.close()

    def _stage(self, side: str, cursor: str | None) -> ReadStream:
        """Read the side that is not streamed into the temp table ``w`` (on disk).

        Where the provider has versions and a key gives the match key, a row whose version the
        state has seen since its pair last agreed is not read at all: it is noted as synced
        (``temp.synced``), and staged only if the streamed side mentions it, then as its pair's
        hash and no values, which is all a decision needs of a side that is as synced. So is a
        row read whose hash is its pair's (``_unsynced``; its version is learnt). Not when the
        run compares both sides in full (first, after a crash, ``--full``).
        """
        info, db = self.sides[side], self.state.db
        read = self._read(side, cursor, by_version=not self.matching)
        # an item whose hash is its pair's is as synced too: noted, not staged (as by version)
        by_hash = not self.matching and not self.state_empty and self.state.can_settle_unchanged
        done = dups = 0
        gone: list[str] = []
        try:
            for page in self._pages(side, read):
                self._check_cancel()
                self._stage_seen(side, read.skipped)
                if page.unreadable:
                    page = self._readable(side, page)
                keyless: list[tuple[str, list[Any], str]] = []
                kept: list[tuple[Item, str | None]] = []
                made = _items(page, info)
                versions = page.versions or [None] * len(made)
                for item, version in zip(made, versions, strict=True):
                    if item.mkey is None:
                        keyless.append((item.kid, item.values, item.hash))
                    else:
                        kept.append((item, version))
                if self.failed:  # (its pair could not be read, or its match key repeats)
                    kept = [(item, v) for item, v in kept if item.mkey not in self.failed]
                if by_hash and kept:
                    kept, dropped = self._unsynced(side, kept)
                    dups += dropped
                rows = [(item.mkey, item.kid, values_json(item.values), item.hash, item.modified,
                         version) for item, version in kept]
                before = db.total_changes
                insert_rows(db.execute, "INSERT OR IGNORE INTO temp.w(mkey, kid, vals, hash, "
                            "modified, ver)", "", 6, rows)
                dups += len(rows) - (db.total_changes - before)
                self._set_aside(side, keyless)
                gone.extend(self._kid(side, key) for key in page.deleted)
                done += page.size
                self.sink(Progress(phase=f"read {side}", done=done))
        finally:
            read.close()
        self._stage_seen(side, read.skipped)
        if gone:
            marks = [(st.mkey, st.key(side)) for st in self.state.lookup_keys(side, gone).values()]
            db.executemany("INSERT OR IGNORE INTO temp.w(mkey, kid, gone) VALUES (?, ?, 1)", marks)
        if dups:
            self.log(f"{dups} item(s) of the {side} share a match key with another; only the "
                     "first of each is synced", "warning")
        if cursor and not read.stream.is_delta:
            self._read_in_full(side)
        return read.stream

    def _unsynced(self, side: str, kept: list[tuple[Item, str | None]]
                  ) -> tuple[list[tuple[Item, str | None]], int]:
        """Of a staged page's items (and versions), those to stage in ``w``: not as synced
        (``StateStore.note_synced_if_same``, for a page of distinct match keys), and not a
        match key noted as synced already (another item's: the first of each is synced).
        Also how many were dropped as such duplicates."""
        mkeys = [item.mkey for item, _ in kept if item.mkey is not None]
        before = len(kept)
        noted = self.state.noted(mkeys)
        if noted:
            kept = [(item, version) for item, version in kept if item.mkey not in noted]
        dropped = before - len(kept)
        if kept and len(set(mkeys)) == len(mkeys):
            same = self.state.note_synced_if_same(
                side, [(item.mkey, item.hash, version) for item, version in kept
                       if item.mkey is not None], self.run_id, exact=self.sides[side].extras)
            if same:
                kept = [(item, version) for item, version in kept if item.mkey not in same]
        return kept, dropped

    def _stream(self, side: str, cursor: str | None) -> ReadStream:
        """Read the streamed side page by page, deciding and writing as pages arrive."""
        info, db = self.sides[side], self.state.db
        target = OTHER[side]
        writer = self.writers[target]
        unread = self.mode[target] == "none"  # one-way: the target is not read
        w_empty = db.execute("SELECT 1 FROM temp.w UNION ALL SELECT 1 FROM temp.synced "
                             "LIMIT 1").fetchone() is None
        by_version = unread and w_empty and not self.state_empty and \
            self.state.can_settle_unchanged
        read = self._read(side, cursor, by_version=by_version)
        stream = read.stream
        self.streaming = side
        # nothing to match (an empty state, nothing staged, no item of the target unread): each
        # item read is new, a create
        all_new = self.state_empty and w_empty and not self.failed
        both_read = not self.state_empty and not unread
        failed = self.failed
        done = 0
        try:
            for page in self._pages(side, read):
                self._check_cancel()
                self._mark_seen(read.skipped)
                if page.unreadable:
                    page = self._readable(side, page)
                if all_new and page.items is not None and not page.deleted:
                    self._create_page(side, page.items, page.versions, writer)
                    done += page.size
                    self.sink(Progress(phase=f"read {side}", done=done))
                    continue
                records, versions = page.records, page.versions
                if versions and by_version and not read.filtered and not stream.is_delta:
                    # a delta holds changes; with a filter, the reader skipped the seen already
                    records, versions = self._skip_same_versions(side, records, versions)
                items: list[Item] = []
                keyless: list[tuple[str, list[Any], str]] = []
                made: Iterable[Item] = _items(page, info) if records is page.records else \
                    map(info.item, records)
                for index, item in enumerate(made):
                    if versions:
                        item.version = versions[index]
                    if item.mkey is None:
                        keyless.append((item.kid, item.values, item.hash))
                    else:
                        items.append(item)
                self._set_aside(side, keyless)
                if failed:  # it, or its partner, could not be read, or its match key repeats
                    items = [item for item in items if item.mkey not in failed]
                mkeys = [i.mkey for i in items if i.mkey]
                absent: set[str] | None = None  # known when the state settled the unchanged
                states: dict[str, StateRow]
                if self.state_empty:
                    states = {}
                elif unread and w_empty and not stream.is_delta and \
                        self.state.can_settle_unchanged and len(set(mkeys)) == len(mkeys):
                    # (a delta page is mostly changes: looked up, not settled in SQL first)
                    states, absent = self.state.settle_unchanged(
                        [(m, i.hash, i.version) for m, i in zip(mkeys, items, strict=True)],
                        self.run_id, exact=info.extras, side=side)
                    self.unchanged += len(items) - len(states) - len(absent)
                    self.new_handled += len(absent)  # (marked handled, though no pair yet)
                else:
                    states = self.state.lookup(mkeys)
                staged = {} if w_empty else self._staged(target, mkeys)
                if self.folding and not w_empty and items:
                    items = self._fold_paired(side, items, staged)
                same = info.same
                new: list[Item] = []  # new by match key: perhaps an item whose key changed
                maybe: list[Item] = []  # new by match key, and the target was read
                fresh: list[Item] = []  # new by match key, to create
                for item in items:
                    mkey = item.mkey
                    assert mkey is not None
                    st = states.get(mkey) if states else None
                    found = staged.get(mkey) if staged else None
                    if st is None and found is None:
                        if absent is not None and mkey not in absent:
                            continue  # unchanged, counted and marked by settle_unchanged
                        if both_read:  # (perhaps renumbered on both sides: ``_both_renumbered``)
                            maybe.append(item)
                            continue
                        # never synced and not on the other side: the table's "new | absent",
                        # a create there in every direction (a first run is all of these)
                        fresh.append(item)
                        continue
                    if unread and found is None and st is not None and st.lkey is not None and \
                            st.rkey is not None and st.lhash is None and st.rhash is None and \
                            same(item.hash, st.hash):
                        # as synced, the target assumed so: the table's "as base | as base"
                        self.unchanged += 1
                        continue
                    other, other_gone = found or (None, False)
                    self._settle(mkey, {side: item, target: other}, st,
                                 gone={side: False, target: other_gone})
                    if st is None or st.key(side) not in (None, item.kid):
                        new.append(item)  # (new here, or another item of its pair's: swapped)
                if maybe:
                    fresh += self._both_renumbered(side, maybe)
                recased = self._recased(side, fresh) if fresh else set()
                for item in fresh:
                    if item.mkey in recased:  # (written over its old pair's record there)
                        self._settle(item.mkey or "", {side: item, target: None}, None,
                                     gone={side: False, target: False})
                    else:
                        writer.create(item.mkey or "", item.hash, item.values, item.kid,
                                      item.version)
                    new.append(item)
                if staged:
                    db.executemany("UPDATE temp.w SET done = 1 WHERE mkey = ?",
                                   ((m,) for m in staged))
                if states:
                    self.state.mark(states, self.run_id)
                if new and not self.state_empty:
                    self._moved(side, new, set(mkeys))
                if page.deleted:
                    db.executemany("INSERT OR IGNORE INTO temp.gone VALUES (?)",
                                   ((self._kid(side, k),) for k in page.deleted))
                done += page.size
                self.sink(Progress(phase=f"read {side}", done=done))
        finally:
            self.streaming = None
            read.close()
        self._mark_seen(read.skipped)
        for writer in self.writers.values():
            writer.settle()
        if cursor and not stream.is_delta:
            self._read_in_full(side)
        return stream

    def _read_in_full(self, side: str) -> None:
        """A side whose change-tracking cursor the read could not use (the service refused it,
        or it was for another query) was read in full: its mode, and the log, say so (the log
        said "reading left (delta)" before the read began)."""
        self.mode[side] = "full"
        self.log(f"{side} read in full, not as changes: its change-tracking cursor could not be "
                 "used")

    def _create_page(self, side: str, made: list[Any], versions: list[str | None],
                     writer: Writer) -> None:
        """A page of items that are all new: each a create on the other side, queued from the
        fields the read made (``SideInfo.fields``) as a whole, with no Item and no decision
        each (the per-item loop of ``_stream`` comes to the same for such a page)."""
        if any(fields[0] is None for fields in made):  # without a match key: set aside
            self._set_aside(side, [(f[1], f[2], f[3]) for f in made if f[0] is None])
            if versions:
                versions = [v for f, v in zip(made, versions, strict=True) if f[0] is not None]
            made = [fields for fields in made if fields[0] is not None]
        writer.create_all(made, versions)

    def _readable(self, side: str, page: Page) -> Page:
        """A page without its records whose values this side syncs could not all be read
        (``Page.unreadable``; another column's value is no matter): each an item error, and its
        pair, on both sides, left as it is by this run (``failed``), never taken as deleted or
        new. Its pair is found by the item's key too, should the match key be the value.

        Not on a one-way run's target, whose values are only compared: a row there that differs
        from its source, as one holding such a value does, is written over."""
        if side != self.src and self.conn.direction != Direction.BIDIRECTIONAL:
            return page
        info = self.sides[side]
        bad: dict[int, list[str]] = {}
        for value in page.unreadable:
            if value.column in info.names:
                bad.setdefault(value.index, []).append(value.message)
        if not bad:
            return page
        items = [info.item(page.records[i]) for i in bad]
        pairs = self.state.lookup_keys(side, [item.kid for item in items])
        mkey_of = {st.key(side): st.mkey for st in pairs.values()}
        other = {st.key(side): st.key(OTHER[side]) for st in pairs.values()}
        for item, messages in zip(items, bad.values(), strict=True):
            mkey = mkey_of.get(item.kid) or item.mkey
            self.failed.update(m for m in (mkey, item.mkey) if m is not None)
            self.counts.errors[side] += 1
            self._unreadable_failed(side, mkey, item.kid, other.get(item.kid))
            self.sink(ItemError(side=side, key=mkey or item.kid, message="; ".join(messages)))
        keep = [i for i in range(len(page.records)) if i not in bad]
        return Page(records=[page.records[i] for i in keep], deleted=page.deleted,
                    versions=[page.versions[i] for i in keep] if page.versions else [],
                    skipped=page.skipped + len(bad))  # (read all the same: counted in its size)

    def _set_aside(self, side: str, keyless: list[tuple[str, list[Any], str]]) -> None:
        """Keep a page's items without a match-key value (key, values, hash) for ``_keyless``."""
        if keyless:
            self.state.db.executemany(
                "INSERT INTO temp.keyless VALUES (?, ?, ?, ?)",
                [(side, kid, values_json(values), hsh) for kid, values, hsh in keyless])

    def _seen_filter(self, side: str, reader: VersionReader,
                     seen_keys: queue.SimpleQueue[list[str]]) -> SeenFilter:
        """The read's ``seen`` filter: a page's items whose version the state has seen since
        their pair last agreed. Runs in the reading thread, on its own state connection; the
        match keys go to ``seen_keys`` for the run's thread to mark handled. A key comes as the
        source sent it: normalised, it gives the item's match key (a GUID in any case); a key
        that would not only goes unskipped, and is compared as usual."""
        match_key_of = self.sides[side].match_key_of

        def seen(keys: list[Key], versions: list[str | None]) -> set[int]:
            mkeys = [match_key_of(k) for k in keys]
            pairs = _version_pairs(mkeys, versions)
            if not pairs:
                return set()
            same = reader.same(side, pairs)
            if not same:
                return set()
            # in key order: the run's thread marks them handled side by side in the temp
            # table's key index (100,000 keys in 46-53 ms, not 81-85 ms in a set's order)
            seen_keys.put(same)
            found = set(same)
            return {i for i, m in enumerate(mkeys) if m in found}

        return seen

    def _mark_seen(self, skipped: queue.SimpleQueue[list[str]]) -> None:
        """Mark handled, and count unchanged, what the reading thread skipped so far."""
        for mkeys in _drained(skipped):
            self.state.mark(mkeys, self.run_id)
            self.unchanged += len(mkeys)

    def _unread(self) -> int:
        """The pairs synced on both sides that no read of a run without a full read mentioned
        (change tracking: unchanged since the last run). Each pair a read mentions is marked
        handled, once; so are the match keys of the new items ``settle_unchanged`` saw."""
        mentioned = self.state.handled_count(self.run_id) - self.new_handled
        return max(0, self.sizes["both"] - mentioned)

    def _stage_seen(self, side: str, skipped: queue.SimpleQueue[list[str]]) -> None:
        """Note, as synced, what the reading thread skipped so far (see ``_stage``): staged in
        ``w`` only when the streamed side mentions it (``_staged``, ``_leftovers``)."""
        for mkeys in _drained(skipped):
            self.state.note_synced(mkeys, self.run_id)

    def _skip_same_versions(self, side: str, records: list[Record],
                            versions: list[str | None]) -> tuple[list[Record], list[str | None]]:
        """The records of a page whose version the state has not seen: the others are unchanged
        since their pair last agreed, and need no normalising, hashing or comparing."""
        info = self.sides[side]
        mkeys = [info.match_key(r) for r in records]
        pairs = _version_pairs(mkeys, versions)
        if not pairs:
            return records, versions
        same = self.state.skip_same_versions(side, pairs, self.run_id)
        if not same:
            return records, versions
        self.unchanged += len(same)
        kept = [i for i, m in enumerate(mkeys) if m not in same]
        return [records[i] for i in kept], [versions[i] for i in kept]

    def _kid(self, side: str, key: Any) -> str:
        from l2tui.sync.side import key_json

        return key_json(list(key) if isinstance(key, tuple | list) else [key])

    def _staged(self, side: str, mkeys: list[str]) -> dict[str, tuple[Item | None, bool]]:
        """The staged items of ``side`` (None: gone) for these match keys, those noted as
        synced among them staged first."""
        out: dict[str, tuple[Item | None, bool]] = {}
        db = self.state.db
        self.state.stage_synced(side, mkeys)
        for i in range(0, len(mkeys), 500):
            chunk = mkeys[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for mkey, kid, vals, hsh, modified, gone, ver in db.execute(
                    f"SELECT mkey, kid, vals, hash, modified, gone, ver FROM temp.w "
                    f"WHERE mkey IN ({marks})", chunk):
                out[mkey] = (None, True) if gone else (
                    _staged_item(mkey, kid, vals, hsh, modified, ver), False)
        return out

    def _gone_kids(self, kids: list[str]) -> set[str]:
        out: set[str] = set()
        for i in range(0, len(kids), 500):
            chunk = kids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            out.update(r[0] for r in self.state.db.execute(
                f"SELECT kid FROM temp.gone WHERE kid IN ({marks})", chunk))
        return out

    def _leftovers(self) -> None:
        """Staged items the streamed side did not mention."""
        db, src, dst = self.state.db, self.src, self.dst
        if self.mode[src] == "delta":  # not mentioned: unchanged on src; settle the unchanged
            # (those noted as synced on dst whose src item was deleted are decided one by one)
            self.state.stage_synced(dst, gone_on=src)
            self.unchanged += self.state.settle_staged(self.run_id, src=src,
                                                       exact=self.sides[dst].extras)
            self.unchanged += self.state.unstaged_synced()  # (handled: see note_synced)
        else:  # read in full, src did not mention them: each is decided (gone there)
            self.state.stage_synced(dst)
        last = 0
        while True:
            self._check_cancel()
            rows = db.execute("SELECT rowid, mkey, kid, vals, hash, modified, gone, ver FROM "
                              "temp.w WHERE done = 0 AND rowid > ? ORDER BY rowid LIMIT 1000",
                              (last,)).fetchall()
            if not rows:
                return
            last = rows[-1][0]
            if self.failed_folds:  # (a key, in any case, a failed item's: left as it is)
                self.failed.update(r[1] for r in rows if not r[6] and
                                   _fold_key(r[1]) in self.failed_folds)
            states = self.state.lookup([r[1] for r in rows])
            if not self.state_empty and self.keys_ignore_case[src]:
                self._recased(dst, [_staged_item(mkey, kid, vals, hsh, modified, ver)
                                    for _, mkey, kid, vals, hsh, modified, gone, ver in rows
                                    if not gone and vals is not None and mkey not in states])
            src_kids = [st.key(src) for st in states.values() if st.key(src)]
            gone_src = self._gone_kids([k for k in src_kids if k]) if src_kids else set()
            new: list[Item] = []  # new by match key: perhaps an item whose key changed
            for _, mkey, kid, vals, hsh, modified, gone, ver in rows:
                other = None if gone else _staged_item(mkey, kid, vals, hsh, modified, ver)
                st = states.get(mkey)
                src_gone = bool(st and st.key(src) and st.key(src) in gone_src)
                self._settle(mkey, {dst: other, src: None}, st,
                             gone={dst: bool(gone), src: src_gone})
                if other is not None and (st is None or st.key(dst) not in (None, kid)):
                    new.append(other)
            self.state.mark([r[1] for r in rows if r[1] in states], self.run_id)
            if new and not self.state_empty:
                self._moved(dst, new, {r[1] for r in rows})

    def _both_renumbered(self, side: str, items: list[Item]) -> list[Item]:
        """Of items new by match key on the streamed ``side``, decide those whose pair's partner
        the target's read staged under another match key, new there too: the item renumbered on
        both sides. One item, decided three-way against that pair (a conflict when the sides
        differ), kept under the match key of the values written; the others, returned, are new."""
        target, db = OTHER[side], self.state.db
        pairs = {st.key(side): st for st in self.state.lookup_keys(side, [i.kid for i in items])
                 .values() if st.key(target)}
        partners = {st.key(target): st for st in pairs.values()}
        found: dict[str, Item] = {}  # the partner's key → it, as staged
        kids = list(partners)
        for i in range(0, len(kids), 500):
            chunk = kids[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for mkey, kid, vals, hsh, modified, ver in db.execute(
                    f"SELECT mkey, kid, vals, hash, modified, ver FROM temp.w WHERE done = 0 "
                    f"AND gone = 0 AND vals IS NOT NULL AND kid IN ({marks})", chunk):
                if mkey != partners[kid].mkey:
                    found[kid] = _staged_item(mkey, kid, vals, hsh, modified, ver)
        if found:  # (not where its new match key is a pair's: values swapped on the target)
            held = self.state.lookup([other.mkey or "" for other in found.values()])
            found = {kid: other for kid, other in found.items() if other.mkey not in held}
        rest: list[Item] = []
        for item in items:
            st = pairs.get(item.kid)
            other = found.get(st.key(target) or "") if st is not None else None
            if st is None or other is None or st.mkey in self.failed:
                rest.append(item)
                continue
            both: dict[str, Item | None] = {side: item, target: other}
            decision, _, _ = self._decide(both, st, {side: False, target: False}, renumbered=True)
            copied = {Action.COPY_LR: "left", Action.COPY_RL: "right"}.get(decision.action)
            # (a conflict skipped keeps the pair under its old match key: the next run, which
            # reads both sides in full while a conflict is open, meets it again)
            mkey = (both[copied] or item).mkey or "" if copied else st.mkey
            self._settle(mkey, both, st, gone={side: False, target: False}, renumbered=True)
            if mkey != st.mkey:
                self.moved[st.mkey] = mkey  # (its pair is let go once the new one holds it)
            db.execute("UPDATE temp.w SET done = 1 WHERE mkey = ?", (other.mkey,))
            self.state.mark([st.mkey], self.run_id)
        return rest

    def _fold_staged(self) -> None:
        """Note each staged item's match key as keys that ignore case compare it (``fkey``), by
        which ``_fold_paired`` finds it: on a run that folds only."""
        db = self.state.db
        db.create_function("l2tui_fold", 1, _fold_key, deterministic=True)
        db.execute("UPDATE temp.w SET fkey = l2tui_fold(mkey) WHERE gone = 0 AND vals IS NOT NULL")
        db.execute("CREATE INDEX temp.w_fkey ON w(fkey)")

    def _fold_paired(self, side: str, items: list[Item],
                     staged: dict[str, tuple[Item | None, bool]]) -> list[Item]:
        """Of a streamed page's items, decide those the target's read staged under a match key
        that differs in case or trailing blanks alone, where a side's keys ignore both (SQL's
        'ac-1' and Dataverse's 'AC-1', on a first run): one item (``_pair_folded``). One that
        several staged items match so is an error naming them (``_fold_error``); one whose key
        is, in any case, a failed item's is left as it is. The others, returned."""
        lost = {item.mkey: _fold_key(item.mkey) for item in items
                if item.mkey is not None and item.mkey not in staged}
        if not lost:
            return items
        db, found = self.state.db, dict[str, list[Item]]()
        folds = list(set(lost.values()))
        for i in range(0, len(folds), 500):
            chunk = folds[i:i + 500]
            marks = ",".join("?" * len(chunk))
            for fkey, mkey, kid, vals, hsh, modified, ver in db.execute(
                    f"SELECT fkey, mkey, kid, vals, hash, modified, ver FROM temp.w WHERE "
                    f"done = 0 AND fkey IN ({marks})", chunk):
                found.setdefault(fkey, []).append(
                    _staged_item(mkey, kid, vals, hsh, modified, ver))
        mine = {item.mkey for item in items}
        rest: list[Item] = []
        for item in items:
            fkey = lost.get(item.mkey or "")
            if fkey is None:
                rest.append(item)
            elif fkey in self.failed_folds:
                self.failed.add(item.mkey or "")  # (its partner's error: left as it is)
            elif len(others := [o for o in found.get(fkey, ()) if o.mkey not in mine]) > 1:
                self._fold_error(side, item, others)
            elif not others or not self._pair_folded(side, item, others[0]):
                rest.append(item)
            else:
                mine.add(others[0].mkey)
        return rest

    def _fold_error(self, side: str, item: Item, others: list[Item]) -> None:
        """Fail a streamed item that several items of the target match in any case (and
        them): an error on the target for each, naming them all, as ``_repeated`` does."""
        target = OTHER[side]
        mkeys = {o.mkey or "" for o in others}
        names = ", ".join(c.name for c, _ in self.sides[target].match)
        where = f"entity {self.sides[side].index}, whose keys ignore case"
        self.failed.update({item.mkey or "", *mkeys})
        self.unretryable += 1
        for mkey in sorted(mkeys):
            self.counts.errors[target] += 1
            self.sink(ItemError(side=target, key=mkey, message=(
                f"appears {len(mkeys)} times{_as_one(mkeys, where)}: the match key ({names}) "
                "must be unique in any case")))

    def _pair_folded(self, side: str, item: Item, other: Item) -> bool:
        """Decide a streamed item with the target's item its match key names in any case. A
        side whose key text is not its pair's (each side, on a first run) is taken as edited,
        and the two as unequal: the decision's winner (the source of a one-way run; else by
        ``conflict_resolution``) has its text, and values, written over the other's, and the
        pair is kept under its match key (a conflict skipped: the pair's, else the streamed
        item's). False (decided apart) where each of the two match keys has a pair."""
        target = OTHER[side]
        pairs = {} if self.state_empty else \
            self.state.lookup([item.mkey or "", other.mkey or ""])
        if len(pairs) > 1:
            return False
        st = next(iter(pairs.values()), None)
        both: dict[str, Item | None] = {side: item, target: other}
        rekeyed = frozenset(s for s in SIDES if st is None or both[s] is not None and
                            both[s].mkey != st.mkey)  # type: ignore[union-attr]
        gone = {side: False, target: False}
        decision, _, _ = self._decide(both, st, gone, rekeyed=rekeyed)
        copied = {Action.COPY_LR: "left", Action.COPY_RL: "right"}.get(decision.action)
        mkey = (both[copied] or item).mkey if copied else st.mkey if st else item.mkey
        self._settle(mkey or "", both, st, gone, rekeyed=rekeyed)
        self.state.db.execute("UPDATE temp.w SET done = 1 WHERE mkey = ?", (other.mkey,))
        if st is not None:
            if mkey != st.mkey:
                self.moved[st.mkey] = mkey or ""  # (its pair let go once the new one holds it)
            self.state.mark([st.mkey], self.run_id)
        return True

    def _recased(self, side: str, items: list[Item]) -> set[str]:
        """Of items new by match key on ``side``, those whose pair holds them under a match key
        that differs in case or trailing blanks alone, where the other side's keys ignore both
        (Dataverse: 'AC-1' and 'ac-1' name one record): each is written over its pair's record
        there (an update carrying the new text), not created beside it, which the record's key
        refuses, and its old pair is let go (``moved``: its partner, now the new pair's, is not
        deleted). Their match keys."""
        target = OTHER[side]
        if not items or self.state_empty or not self.keys_ignore_case[target]:
            return set()
        pairs = {st.key(side): st for st in
                 self.state.lookup_keys(side, [item.kid for item in items]).values()}
        # (a pair this run decided otherwise than by deleting its partner, as gone here: its
        # partner edited there, a conflict, whose winner the run writes)
        undecided = self.state.undecided(self.run_id, [st.mkey for st in pairs.values()])
        out: set[str] = set()
        for item in items:
            st, mkey = pairs.get(item.kid), item.mkey
            if st is None or mkey is None or st.mkey == mkey or not st.key(target) or \
                    st.mkey in self.failed or _folded(st.mkey) != _folded(mkey) or \
                    (st.mkey not in undecided and st.mkey not in self.deleting):
                continue
            self.recased[mkey] = st.key(target) or ""
            self.moved[st.mkey] = mkey
            out.add(mkey)
        return out

    def _moved(self, side: str, items: list[Item], mentioned: set[str]) -> None:
        """Items new by match key whose ``side`` key a pair of another match key holds: their
        match key changed there. That pair's item is gone from ``side``, as a read in full finds
        it: decided so now (its partner deleted, or the pair detached or forgotten, by
        ``deletions``), not left for a later run, whose full read would take the partner from the
        new pair (``_drain`` keeps a partner the new pair took over, ``forget_shadowed`` its
        pair). Not a pair decided already, nor one of a match key read here (keys swapped)."""
        pairs = self.state.lookup_keys(side, [item.kid for item in items])
        old = [st for st in pairs.values()
               if st.mkey not in mentioned and st.mkey not in self.failed]
        if not old:
            return
        pending = self.state.undecided(self.run_id, [st.mkey for st in old])
        old = [st for st in old if st.mkey in pending]
        if not old:
            return
        new = {item.kid: item.mkey or "" for item in items}
        target = OTHER[side]
        # (the partner as the target's read staged it, where this side streams)
        staged = self._staged(target, [st.mkey for st in old]) \
            if side == self.streaming and self.mode[target] != "none" else {}
        for st in old:
            other, other_gone = staged.get(st.mkey) or (None, False)
            self.moved[st.mkey] = new.get(st.key(side) or "", "")
            if self.moved[st.mkey] and st.key(target):
                self.renumbered[self.moved[st.mkey]] = (target, st.key(target) or "")
            self._settle(st.mkey, {side: None, target: other}, st,
                         gone={side: True, target: other_gone})
        if staged:
            self.state.db.executemany("UPDATE temp.w SET done = 1 WHERE mkey = ?",
                                      ((m,) for m in staged))
        self.state.mark([st.mkey for st in old], self.run_id)

    def _vacating(self, side: str) -> int:
        """The rows of ``side`` that ``_vacate`` is to delete, as far as the decisions say: those
        no other item's values name."""
        named = {kid for target, kid in self.renumbered.values() if target == side}
        return sum(1 for _, kid in self.vacated[side] if kid not in named)

    def _vacate(self) -> None:
        """Delete the rows pairs left for the row their values name (an item whose key, mapped
        as a value, changed on the other side: 2 became 20) that no pair holds now: the item's
        old row, else a second row of its match key. Not one another item's values named (keys
        swapped), nor one whose pair's write failed (the pair holds it still); no delete of the
        deletion guard's, as the item lives on in the row its values name."""
        for side in SIDES:
            left = self.vacated[side]
            if not left:
                continue
            held = self.state.lookup_keys(side, [kid for _, kid in left])
            taken = {st.key(side) for st in held.values()}
            writer = self.writers[side]
            for mkey, kid in left:
                if kid not in taken:
                    self._check_cancel()
                    self.vacating.add(mkey)
                    writer.add(Task(side=side, op="delete", mkey=mkey, dst_kid=kid, vacated=True))
            writer.flush()

    def _rewrites(self) -> None:
        """Count as updates the creates of renumbered items that went to the row their old pair
        holds (its key a mapped value, as accountid under auto mapping: the create wrote over
        that row, an upsert, and no row was made); a dry run plans them so."""
        if not self.renumbered:
            return
        pairs = self.state.lookup(list(self.renumbered))
        counts, planned = self.counts, self.counts.planned
        for mkey, (side, kid) in self.renumbered.items():
            st = pairs.get(mkey)
            if st is None or st.key(side) != kid or not counts.created[side] or \
                    mkey in self.vacating or mkey in self.recased:
                continue  # (its create failed, or made a row of its own)
            counts.created[side] -= 1
            counts.updated[side] += 1
            if planned is not None and mkey in planned.keys[side]["create"]:
                planned.keys[side]["create"].remove(mkey)
                planned.add(side, "update", (mkey,))

    def _unhandled(self) -> None:
        """Pairs neither side's read mentioned: gone on a fully read side, else unchanged.

        None after a start with an empty state: every pair it holds now was saved by this run
        (a first sync of 100,000 accounts spent 9 ms scanning them to find none)."""
        if self.state_empty:
            return
        src, dst = self.src, self.dst
        if "full" in (self.mode[src], self.mode[dst]):
            rows = self.state.unhandled(self.run_id)
        else:
            rows = self.state.unhandled(self.run_id, {src: "gone"})
        batch: list[StateRow] = []
        for st in rows:
            batch.append(st)
            if len(batch) >= 1000:
                self._settle_unhandled(batch)
                batch = []
        self._settle_unhandled(batch)

    def _settle_unhandled(self, batch: list[StateRow]) -> None:
        if not batch:
            return
        self._check_cancel()
        src = self.src
        kids = [st.key(src) for st in batch if st.key(src)]
        gone_src = self._gone_kids([k for k in kids if k]) if self.mode[src] == "delta" else set()
        for st in batch:
            self._settle(st.mkey, {"left": None, "right": None}, st,
                         gone={src: st.key(src) in gone_src, self.dst: False})
        self.state.mark([st.mkey for st in batch], self.run_id)

    # -- deciding ------------------------------------------------------------------------

    def _status(self, side: str, item: Item | None, st: StateRow | None,
                gone: bool) -> tuple[Status, str | None]:
        """A side's status and current hash (None when unknown)."""
        info = self.sides[side]
        if item is not None:
            if st is None or st.key(side) is None:
                return Status.NEW, item.hash
            return (Status.SAME if info.same(item.hash, st.hash) else Status.EDIT), item.hash
        if st is None or st.key(side) is None:
            return Status.ABSENT, None
        mode = self.mode[side]
        if gone or (mode == "full" and self.complete[side]):
            return Status.GONE, None
        if mode in ("none", "full"):  # (full but limited: missing is not gone)
            return Status.SAME, st.hash
        seen = st.last_hash(side)
        return (Status.SAME if info.same(seen, st.hash) else Status.EDIT), seen

    def _settle(self, mkey: str, items: dict[str, Item | None], st: StateRow | None,
                gone: dict[str, bool], *, renumbered: bool = False,
                rekeyed: frozenset[str] = frozenset()) -> None:
        """Decide one item and act on it (none a side could not read: ``_readable``);
        ``renumbered``: its match key changed on both sides; ``rekeyed``: the sides whose
        key text differs from its pair's in case alone (``_decide``)."""
        if self.failed and mkey in self.failed:
            return
        if st is not None and (st.lkey is None or st.rkey is None):
            detached = "left" if st.lkey is None else "right"
            if items[detached] is None:
                other_status, _ = self._status(OTHER[detached], items[OTHER[detached]], st,
                                               gone[OTHER[detached]])
                if other_status == Status.GONE or st.key(OTHER[detached]) is None:
                    self.state.forget([mkey])
                return
        decision, status, hashes = self._decide(items, st, gone, renumbered=renumbered,
                                                rekeyed=rekeyed)
        litem, ritem = items["left"], items["right"]
        if decision.conflict and litem and ritem and not (litem.modified and ritem.modified) \
                and self.policy.resolution == ConflictResolution.LATEST_WINS:
            self.undated += 1  # (the left won it: said once, at the end)
        self._act(decision, mkey, items, st, status, hashes)

    def _decide(self, items: dict[str, Item | None], st: StateRow | None, gone: dict[str, bool],
                *, renumbered: bool = False, rekeyed: frozenset[str] = frozenset()
                ) -> tuple[Decision, dict[str, Status], dict[str, str | None]]:
        """The decision on one item, and each side's status and current hash; ``renumbered``:
        both present, under new match keys that differ (each side edited, the sides unequal,
        whatever the values mapped: the match key may be none of them); ``rekeyed``: the sides
        present under a match key that differs in case alone from the pair's, or from the other
        side's where there is no pair (each edited, if found as synced; the sides unequal)."""
        status: dict[str, Status] = {}
        hashes: dict[str, str | None] = {}
        for s in SIDES:
            status[s], hashes[s] = self._status(s, items[s], st, gone[s])
        if renumbered:
            status = {s: Status.EDIT for s in SIDES}
        for s in rekeyed:
            if status[s] == Status.SAME:
                status[s] = Status.EDIT
        if st is not None and st.hash == STALE:
            _deleted_under_new_settings(status, st)
        info = self.sides["left"]
        equal = not renumbered and not rekeyed and hashes["left"] is not None and \
            info.same(hashes["left"], hashes["right"])
        left_newer = None
        litem, ritem = items["left"], items["right"]
        if litem and ritem and litem.modified and ritem.modified and \
                litem.modified != ritem.modified:
            left_newer = litem.modified > ritem.modified
        return decide(self.policy, status["left"], status["right"], equal, left_newer), status, \
            hashes

    def _act(self, decision: Decision, mkey: str, items: dict[str, Item | None],
             st: StateRow | None, status: dict[str, Status],
             hashes: dict[str, str | None]) -> None:
        action = decision.action
        litem, ritem = items["left"], items["right"]
        kids = {s: (items[s].kid if items[s] else (st.key(s) if st else None))  # type: ignore[union-attr]
                for s in SIDES}
        if decision.conflict:
            self._conflict(mkey, decision.conflict, litem, ritem)
        if action == Action.NOTHING:
            alone = _only_on(status)
            if alone is None:
                self.unchanged += 1
                if st is not None:
                    self._keep_versions(mkey, items, st)
            else:  # a one-way run's target item the source never had: not ours to touch
                self.only[alone] += 1
        elif action == Action.BASE:
            self.unchanged += 1
            if st is None and mkey in self.retrying:
                self.found += 1
            present = litem or ritem
            agreed = present.hash if present else (st.hash if st else "")
            self.state.save([(mkey, kids["left"], kids["right"], agreed, None, None, self.run_id,
                              *self._versions(items, agreed))])
        elif action in (Action.COPY_LR, Action.COPY_RL):
            source, target = ("left", "right") if action == Action.COPY_LR else ("right", "left")
            item, other = items[source], items[target]
            if item is None:
                self.log(f"{mkey}: the {source} values are not at hand; run with --full", "warning")
                return
            exists = status[target] in (Status.NEW, Status.SAME, Status.EDIT)
            recased = None if exists else self.recased.get(mkey)
            if recased is not None:  # (its old pair's record there, which its key names)
                exists, kids[target] = True, recased
            only = None
            if other is not None and other.values:  # (staged as synced: values not read)
                only = [i for i, (a, b) in enumerate(zip(item.values, other.values, strict=True))
                        if a != b]
            named = self.sides[target].named_kid(mkey, item.values) \
                if exists and st is not None and st.key(source) not in (None, item.kid) and \
                self.sides[target].keyed_by_values else None
            if named is None and exists and kids[target] and self.keyed_by_others[target] and \
                    recased is None:
                # (a value its key is written from edited here: the item names another row)
                named = self.sides[target].names_another_row(kids[target] or "", mkey,
                                                             item.values)
            if named is not None and named != kids[target]:
                # another item of the pair's side took its match key (values swapped between
                # items), or the item's key changed: written over the row its values name (an
                # upsert), not its pair's, which (unless another item's values name it) is left
                exists, only = False, None
                self.renumbered[mkey] = (target, named)
                if kids[target] and self.conn.deletions == Deletions.PROPAGATE:
                    self.vacated[target].append((mkey, kids[target] or ""))
            # (the target's item under another match key, as an item renumbered on both sides:
            # its match-key columns written too)
            extra = self.sides[target].create_key(mkey, item.values)[1] \
                if exists and ((other is not None and other.mkey not in (None, mkey)) or
                               recased is not None) else None
            task = Task(side=target, op="update" if exists else "create", mkey=mkey,
                        hash=item.hash, values=item.values, src_kid=item.kid,
                        dst_kid=kids[target] if exists else None, only=only,
                        src_version=item.version, extra=extra or {})
            if exists and self.checks_versions[target]:
                task.dst_version = other.version if other is not None and other.version else \
                    st.version(target) if st is not None else None
            if only == [] and exists and not extra:
                self.state.save([(mkey, kids["left"], kids["right"], item.hash, None, None,
                                  self.run_id, *self._versions(items, item.hash))])
                return
            self._queue(task)
        elif action in (Action.DELETE_L, Action.DELETE_R):
            target = "left" if action == Action.DELETE_L else "right"
            self.deleting.add(mkey)
            self.outbox.put(Task(side=target, op="delete", mkey=mkey, dst_kid=kids[target]))
        elif action == Action.FORGET:
            self.state.forget([mkey])
        elif action in (Action.DETACH_L, Action.DETACH_R):
            self.state.detach("left" if action == Action.DETACH_L else "right", [mkey],
                              self.run_id)
        elif action == Action.KEEP:
            self.unresolved += 1
            self.state.save([(mkey, kids["left"], kids["right"], st.hash if st else "",
                              hashes["left"], hashes["right"], self.run_id, None, None)])

    @staticmethod
    def _versions(items: dict[str, Item | None], agreed: str) -> tuple[str | None, str | None]:
        """Each side's version, where its values are the agreed ones (else unknown)."""
        left, right = items["left"], items["right"]
        return (left.version if left is not None and left.hash == agreed else None,
                right.version if right is not None and right.hash == agreed else None)

    def _keep_versions(self, mkey: str, items: dict[str, Item | None], st: StateRow) -> None:
        """Note the new version of an item read as its pair agreed (changed where the mapping
        does not look), where updates are made by version: not to refuse the next write there."""
        for s in SIDES:
            item = items[s]
            if self.checks_versions[s] and item is not None and item.version and \
                    item.version != st.version(s) and self.sides[s].same(item.hash, st.hash):
                self.state.set_version(s, mkey, item.version)

    def _queue(self, task: Task) -> None:
        if task.side == self.streaming:
            self.outbox.put(task)
        else:
            self.writers[task.side].add(task)

    def _conflict(self, mkey: str, resolution: str, litem: Item | None,
                  ritem: Item | None) -> None:
        """Record and report a conflict; one recorded before whose winning write failed, won by
        the same side again with the same values on both sides while that write is still pending
        (the item kept to retry), is that conflict still: not recorded nor counted again. Once
        the item was synced otherwise (its sides made alike by hand), or either side was edited
        again (the loser's new values would be written over unrecorded), it is a new one."""
        left = self.sides["left"].named(litem.values if litem else None)
        right = self.sides["right"].named(ritem.values if ritem else None)
        earlier = self.unsettled.get(mkey)
        if earlier is not None and earlier[1] == resolution and mkey in self.retrying and \
                earlier[2:] == (exact_json(left), exact_json(right)):
            self.won[mkey] = earlier[0]
            return
        if resolution in ("left_wins", "right_wins"):
            self.won[mkey] = None
        self.conflicts += 1
        policy = self.policy.resolution.value
        self.state.add_conflicts(self.run_id, [(mkey, resolution, left, right)], policy)
        self.sink(Conflict(key=mkey, resolution=resolution, left=left, right=right,
                           policy=policy))

    def _settle_conflicts(self) -> None:
        """After the writes: a conflict this run recorded whose winning write was not made (an
        item error, or the record changed meanwhile) is recorded as not settled, and counted
        unresolved; those earlier runs recorded as not settled (skipped, or a write not made)
        whose item this run left agreeing, or gone, now read settled by this run."""
        unwritten = {mkey for writer in self.writers.values() for mkey, _, _ in writer.unwritten}
        failed = [m for m, earlier in self.won.items() if earlier is None and m in unwritten]
        self.state.unsettle_conflicts(self.run_id, failed)
        self.unresolved += len(failed)
        self.state.settle_conflicts(self.run_id, unwritten | self.failed | self.item_failures.keys())

    # -- applying ------------------------------------------------------------------------

    def _write_changes(self) -> None:
        """Write the creates and updates queued, held (``holding``) or kept in the outbox."""
        for s in SIDES:
            self.writers[s].release()
            self.writers[s].flush()
            self._drain(s, ("create", "update"))

    def _drain(self, side: str, ops: tuple[str, ...]) -> None:
        writer = self.writers[side]
        unwritten = {m for w in self.writers.values() for m, _, _ in w.unwritten} \
            if self.moved and "delete" in ops else set()
        for task in self.outbox.drain(side, ops):
            self._check_cancel()
            # (a pair this run found left by a change of its item's match key: not every delete
            # asks the state again)
            if task.op == "delete" and task.dst_kid and task.mkey in self.moved:
                if self.state.held_by_another(side, task.dst_kid, task.mkey):
                    # the item another pair holds (its match key changed, and the new pair's
                    # write went to it): not deleted; the old pair is let go
                    self.state.forget([task.mkey])
                    continue
                if self.moved.get(task.mkey) in unwritten:
                    continue  # (the new item's write failed: both decided again next run)
            writer.add(task)
        writer.flush()

    def _guard(self) -> None:
        """Refuse, before any delete is written, a run deleting too large a share of a side.

        A dry run, which writes nothing, goes on to show its whole plan: the refusal a real run
        would meet is a warning, and kept in the report's details (``refused``)."""
        ratio = self.conn.max_delete_ratio
        shares, refused = [], 0
        for side in SIDES:
            deletes = self.outbox.count(side, "delete") + self._vacating(side)
            size = max(self.sizes[side], 1)
            if deletes and deletes / size > ratio and not self.options.force:
                shares.append(f"{deletes:,} of the {self.sizes[side]:,} synced items on the {side} "
                              f"({deletes / size:.0%})")
                refused += deletes
        if not shares:
            return
        share = f"{' and '.join(shares)}, more than max_delete_ratio {ratio:.0%}"
        if self.options.dry_run:
            self.refused = f"a real run would refuse to delete {share}; run it with --force"
            self.refused_deletes = refused
            if not self.options.planning:  # (the runner's refusal of the re-match says it)
                self.log(self.refused, "warning")
            return
        raise GuardRefused(f"refusing to delete {share}; nothing was deleted (check the select, "
                           "or run with --force)", guard="Deletion guard")

    def _keyless(self) -> None:
        """Items without a match-key value: give them a new GUID, write it back, then create."""
        db = self.state.db
        rows = db.execute("SELECT side, COUNT(*) FROM temp.keyless GROUP BY side").fetchall()
        for side, count in rows:
            target = OTHER[side]
            info = self.sides[side]
            match_types = [kind for _, kind in info.match]
            two_way = self.conn.direction == Direction.BIDIRECTIONAL
            if not two_way and side == self.dst:  # items the source never had: not ours to touch
                self.only[side] += count
                continue
            if not two_way or len(match_types) != 1 or match_types[0] != ColumnType.GUID:
                names = ", ".join(c.name for c, _ in info.match)
                self.counts.errors[side] += count
                self.unretryable += count
                self.log(f"{count} item(s) on the {side} have no value in {names} (the match "
                         "key); they are not synced", "error")
                continue
            self._make_keys(side, target)

    def _make_keys(self, side: str, target: str) -> None:
        import uuid

        info, db = self.sides[side], self.state.db
        column = info.match[0][0]
        created: list[Task] = []

        def after(task: Task, outcome: WriteOutcome) -> None:
            created.append(Task(side=target, op="create", mkey=task.mkey, hash=task.hash,
                                values=task.values, src_kid=task.src_kid))

        own_keys: dict[str, str] = {}  # a made GUID's match key → the row's own key

        def sink(event: Event) -> None:
            """An error names the row by its own key (its GUID, made by this run, is new)."""
            if isinstance(event, ItemError) and event.key in own_keys:
                event = ItemError(side=event.side, key=own_keys[event.key],
                                  message=f"its new {column.name} not written: {event.message}")
            self.sink(event)

        # (its writes are no item's update: only their errors count, as the item's)
        counts = Counts()
        writer = Writer(info, self.providers[side], self.state, self.run_id,
                        batch=self.writers[side].batch, dry=self.options.dry_run, sink=sink,
                        counts=counts, after=after, convert=not self.options.planning)
        unaddressed = 0
        for kid, vals, hsh in db.execute(
                "SELECT kid, vals, hash FROM temp.keyless WHERE side = ?", (side,)).fetchall():
            self._check_cancel()
            if None in json.loads(kid):  # the match key is the row's own key: no row to update
                unaddressed += 1
                continue
            guid = str(uuid.uuid4())
            mkey = json.dumps([guid], separators=(",", ":"))
            own_keys[mkey] = kid
            if self.counts.planned is not None:  # (a dry run: a real run makes another GUID)
                self.counts.planned.new[mkey] = {"new": info.key_dict(kid)}
            writer.add(Task(side=side, op="update", mkey=mkey, hash=hsh, values=json.loads(vals),
                            src_kid=kid, dst_kid=kid, only=[], extra={column.name: guid}))
            if len(created) >= writer.batch:
                self._create_all(created, target)
        writer.write_kept_out()
        self._create_all(created, target)
        self.counts.errors[side] += counts.errors[side]
        self.unretryable += counts.errors[side] + unaddressed
        if unaddressed:
            self.counts.errors[side] += unaddressed
            self.log(f"{unaddressed} item(s) on the {side} have no value in {column.name}, the "
                     "match key and their own key: no GUID can be written back to a row known "
                     "by no key; they are not synced (give the key column a value, or key the "
                     "table by another column)", "error")

    def _create_all(self, created: list[Task], target: str) -> None:
        for task in created:
            self.writers[target].add(task)
        self.writers[target].flush()
        created.clear()

    # -- reporting -----------------------------------------------------------------------

    def _check_cancel(self) -> None:
        if self.cancel.is_set():
            raise Cancelled()

    def log(self, message: str, level: str = "info") -> None:
        """Send a log line."""
        self.sink(LogLine(message=message, level=level))

    def _counts_dict(self) -> dict[str, Any]:
        c = self.counts
        return {
            "created_left": c.created["left"], "updated_left": c.updated["left"],
            "deleted_left": c.deleted["left"], "created_right": c.created["right"],
            "updated_right": c.updated["right"], "deleted_right": c.deleted["right"],
            "conflicts": self.conflicts, "errors_left": c.errors["left"],
            "errors_right": c.errors["right"], "unchanged": self.unchanged,
            "only_left": self.only["left"], "only_right": self.only["right"],
        }

    def _summary(self) -> str:
        c = self._counts_dict()
        return (f"left: {c['created_left']:,} created, {c['updated_left']:,} updated, "
                f"{c['deleted_left']:,} deleted, {count_text(c['errors_left'], 'error')}; right: "
                f"{c['created_right']:,} created, {c['updated_right']:,} updated, "
                f"{c['deleted_right']:,} deleted, {count_text(c['errors_right'], 'error')}; "
                f"{count_text(self.conflicts, 'conflict')} ({self.unresolved:,} unresolved)"
                + "".join(f"; {text}" for text in alone_text(c)))

    def _finish(self, run: int, outcome: str, message: str) -> None:
        """Record the run's end in the history (a planning pass is left out: its dry state
        rolls its start back); its report ends at the same time."""
        self.finished = time.time()
        if self.options.planning:
            return
        counts = self._counts_dict()
        if self.rematched:  # the settings changed: both sides matched again by key
            counts["rematched"] = self.rematched
        if self.refused:  # (a dry run) deletes the deletion guard would refuse
            counts["refused_deletes"] = self.refused_deletes
        self.state.finish_run(run, outcome, counts, message, self.finished)

    def _report(self, started: float, outcome: str, message: str) -> RunReport:
        c = self._counts_dict()
        plan = PlanCounts(
            create_left=c["created_left"], update_left=c["updated_left"],
            delete_left=c["deleted_left"], create_right=c["created_right"],
            update_right=c["updated_right"], delete_right=c["deleted_right"],
            conflicts=self.conflicts, unchanged=self.unchanged,
            only_left=self.only["left"], only_right=self.only["right"])
        finished = time.time() if self.finished is None else self.finished
        return RunReport(connection=self.conn.title, outcome=outcome, started=started,
                         finished=finished, message=message, plan=plan,
                         details={"run": getattr(self, "run_id", None),
                                  "unresolved": self.unresolved,
                                  **({"rematched": self.rematched} if self.rematched else {}),
                                  "mode": getattr(self, "mode", {}),
                                  **({"refused": self.refused} if self.refused else {}),
                                  **self._planned()}, **c)

    def _planned(self) -> dict[str, Any]:
        """A dry run's first writes of each kind on each side (``Planned``), for its report."""
        planned = self.counts.planned
        return {} if planned is None else {"planned": planned.listed(),
                                           "planned_updates": planned.updates()}


__all__ = ["Cancelled", "ChangeOp", "Engine", "Options", "Rebaseline", "plan_mapping"]
