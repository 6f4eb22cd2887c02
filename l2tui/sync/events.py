"""The small interface through which the engine reports a run to the TUI, the CLI and the runner."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class PlanCounts:
    """How many items a run will create, update and delete on each side, and conflicts found."""

    create_left: int = 0
    update_left: int = 0
    delete_left: int = 0
    create_right: int = 0
    update_right: int = 0
    delete_right: int = 0
    conflicts: int = 0
    unchanged: int = 0
    only_left: int = 0  # found only on the left by a one-way run into it: never synced, left alone
    only_right: int = 0

    @property
    def writes(self) -> int:
        """Total items to write on both sides."""
        return (self.create_left + self.update_left + self.delete_left
                + self.create_right + self.update_right + self.delete_right)


@dataclass(frozen=True)
class RunReport:
    """The outcome of a run: what was written on each side, conflicts and errors."""

    connection: str
    outcome: str  # "success" | "errors" | "conflicts" | "cancelled" | "failed" | "dry_run"
    started: float
    finished: float
    created_left: int = 0
    updated_left: int = 0
    deleted_left: int = 0
    created_right: int = 0
    updated_right: int = 0
    deleted_right: int = 0
    conflicts: int = 0
    errors_left: int = 0
    errors_right: int = 0
    unchanged: int = 0  # on both sides and as synced (or equal): nothing written
    only_left: int = 0  # found only on the left by a one-way run into it: never synced, left alone
    only_right: int = 0
    message: str = ""
    plan: PlanCounts | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def ok(self) -> bool:
        """True when nothing failed and no conflict is left unresolved; a dry run, when its real
        run would be: its plan holds no item error, leaves no conflict unresolved and passes the
        deletion guard (a dry run's exit code says how the run would end, for a script that
        checks before it runs)."""
        if self.outcome == "dry_run":
            return not (self.errors_left or self.errors_right or self.details.get("unresolved")
                        or self.details.get("refused"))
        return self.outcome == "success"

    @property
    def dry_run(self) -> bool:
        """Whether it was a dry run, one cancelled too (a dry run's report lists its planned
        writes: ``details["planned"]``)."""
        return self.outcome == "dry_run" or "planned" in self.details

    @property
    def seconds(self) -> float:
        """How long the run took."""
        return self.finished - self.started


@dataclass(frozen=True)
class Event:
    """Base of every run event."""

    at: float = field(default_factory=time.time, kw_only=True)


@dataclass(frozen=True)
class RunStarted(Event):
    """A run has planned (or, streaming, begun) its work."""

    connection: str
    direction: str
    plan: PlanCounts | None = None
    dry_run: bool = False


@dataclass(frozen=True)
class Progress(Event):
    """Progress of one phase ("read left", "read right", "plan", "write right", …)."""

    phase: str
    done: int
    total: int | None = None


@dataclass(frozen=True)
class LogLine(Event):
    """A line for the run log."""

    message: str
    level: str = "info"  # "info" | "warning" | "error"


@dataclass(frozen=True)
class Conflict(Event):
    """An item changed on both sides; ``resolution`` says which side won or that it was skipped,
    ``policy`` the rule that settled it (``conflict_resolution``: ``latest_wins``, …)."""

    key: str
    resolution: str
    left: dict[str, Any] | None = None
    right: dict[str, Any] | None = None
    policy: str | None = None


@dataclass(frozen=True)
class ItemError(Event):
    """One item could not be written on a side, or read there (a value its column's type cannot
    hold, as SQLite keeps any): not synced this run."""

    side: str  # "left" | "right"
    key: str
    message: str


@dataclass(frozen=True)
class RunFinished(Event):
    """The run ended; the report says how."""

    report: RunReport


EventSink = Callable[[Event], None]
"""Anything that takes events: the TUI posts Messages, the CLI draws, the runner logs."""


def ignore(event: Event) -> None:
    """An EventSink that drops everything."""


class Throttle:
    """Passes Progress events at most every ``interval`` seconds (others always pass).

    A 100,000-row run reports progress per page; the screen needs a few updates a second. The
    latest Progress held back of each phase goes out before the next other event (a log line,
    the run's end), so the count a phase ended on is always shown.
    """

    def __init__(self, sink: EventSink, interval: float = 0.1) -> None:
        self.sink = sink
        self.interval = interval
        self._last: dict[str, float] = {}
        self._held: dict[str, Progress] = {}

    def __call__(self, event: Event) -> None:
        if isinstance(event, Progress):
            now = time.monotonic()
            last = self._last.get(event.phase, 0.0)
            final = event.total is not None and event.done >= event.total
            if now - last < self.interval and not final:
                self._held[event.phase] = event
                return
            self._held.pop(event.phase, None)
            self._last[event.phase] = now
        elif self._held:
            held, self._held = self._held, {}
            for progress in held.values():
                self.sink(progress)
        self.sink(event)


def fan_out(*sinks: EventSink) -> EventSink:
    """One sink that passes each event to several."""

    def emit(event: Event) -> None:
        for sink in sinks:
            sink(event)

    return emit


__all__ = [
    "Callable", "Conflict", "Event", "EventSink", "ItemError", "LogLine", "PlanCounts", "Progress",
    "RunFinished", "RunReport", "RunStarted", "Throttle", "fan_out", "ignore",
]
