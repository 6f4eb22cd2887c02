"""The Run page: Run Now, Dry Run and Cancel, a progress bar, the run log and the run history."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from pathlib import Path

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, ProgressBar

from l2tui.sync.events import (
    Conflict,
    Event,
    ItemError,
    LogLine,
    Progress,
    RunReport,
    RunStarted,
)
from l2tui.sync.summaries import (
    conflict_text,
    item_error_text,
    plan_text,
    planned_lines,
    report_body,
    report_text,
)
from l2tui.tui.messages import LastRun
from l2tui.tui.widgets.run_history import RunHistory, run_row
from l2tui.tui.widgets.run_log import DROPPED_TITLE, RunLog

LOG_LINES = 2000
IDLE_TOTAL = 1  # not running: an empty bar, not the animated "total unknown" one
BAR_OUTCOMES = ("errors", "conflicts", "cancelled", "failed", "dry_run")  # a class each (colour)


@dataclass
class RunView:
    """What a connection's Run page shows of a run: its phase, bar and log. The App keeps the
    view of its run while another connection is shown, and feeds it, to show it again there."""

    path: Path | None = None  # the connection run (None: no run of this app)
    title: str = ""
    phase: str = "not running"
    total: float | None = IDLE_TOTAL  # None: not known yet (the bar animates)
    done: float = 0
    running: bool = False
    cancelled: bool = False  # Cancel was asked for this run: its progress keeps saying so
    outcome: str | None = None  # how the run ended (the bar's colour): success, errors, …
    lines: deque[str] = field(default_factory=lambda: deque(maxlen=LOG_LINES))
    dropped: bool = False  # older lines went past LOG_LINES (the log says the file has them)
    earlier: bool = False  # the latest run of the history, from its log (not this app's run)

    def start(self, title: str, dry_run: bool) -> str:
        """Reset for a new run (the log goes on); the log line that opens it."""
        self.title, self.running, self.cancelled, self.outcome = title, True, False, None
        self.phase = "dry run: planning…" if dry_run else "starting…"
        self.total, self.done = None, 0
        return self.add(f"— {'dry run' if dry_run else 'run'} of {title} —")

    def progress(self, event: Progress) -> None:
        """One (coalesced) progress step."""
        total = f" of {event.total:,}" if event.total else ""
        phase = f"{event.phase}: {event.done:,}{total}"
        self.phase = f"cancelling… ({phase})" if self.cancelled else phase
        self.total, self.done = event.total or None, event.done

    def cancelling(self) -> None:
        """Cancel was asked: say so until the run stops (the engine stops at its next check)."""
        self.cancelled, self.phase = True, "cancelling…"

    def event(self, event: Event) -> str | None:
        """Any other engine event: its log line, if it has one."""
        line = event_line(event)
        return None if line is None else self.add(line)

    def finish(self, report: RunReport) -> str:
        """The run's report came: its summary, also the log's last line. The bar ends full (its
        colour and the summary say how the run ended), or where the run stopped where its total
        was known: an empty bar read as a run that did nothing."""
        self.running = False
        self.phase = report_text(report)
        self.outcome = "success" if report.ok else report.outcome
        if self.total is None:  # (reading has no total: the bar animated until now)
            self.total, self.done = 1, 1
        elif report.ok:
            self.done = self.total
        return self.add(self.phase)

    def stopped(self, message: str) -> str:
        """A run that ended without a report (it failed to start or raised): the bar stops too
        (left "total unknown", it went on animating as if the run were still going)."""
        self.running, self.phase = False, message
        if self.total is None:
            self.total, self.done = IDLE_TOTAL, 0
        return self.add(message)

    def add(self, line: str) -> str:
        """One more log line (the oldest go past ``LOG_LINES``)."""
        self.dropped = self.dropped or len(self.lines) == self.lines.maxlen
        self.lines.append(line)
        return line


def last_run_view(last: LastRun) -> RunView:
    """The latest run of the history as the Run page shows it: its history row as the header,
    the last lines of its log (after where the whole log is, if it holds more), the bar full in
    its outcome's colour once it has ended."""
    view = RunView(earlier=True)
    view.phase = "Last run: " + " · ".join(part for part in run_row(*last.row) if part)
    if last.more:
        view.add(f"… the last {len(last.lines):,} lines of its log; all of it: {last.log}")
    elif last.gone:
        view.add(f"(its log {last.log} is gone)")
    for line in last.lines:
        view.add(line)
    if last.finished:
        view.total, view.done, view.outcome = 1, 1, last.row[1]
    return view


def event_line(event: Event) -> str | None:
    """An engine event (not progress) as a line of the run log (None: not one of its own)."""
    if isinstance(event, RunStarted):
        return plan_text(event.plan)
    if isinstance(event, LogLine):
        return {"warning": "warning: ", "error": "error: "}.get(event.level, "") + event.message
    if isinstance(event, Conflict):
        return conflict_text(event.key, event.resolution, event.left, event.right,
                             policy=event.policy)
    if isinstance(event, ItemError):
        return item_error_text(event.side, event.key, event.message)
    return None  # (RunFinished: the App adds the summary when the worker returns the report)


class RunPanel(Vertical):
    """Shows a run as it goes (fed by Messages from the App) and the runs before it; ``view``
    holds what it shows of the run, which the App keeps while another connection is shown."""

    BINDING_GROUP_TITLE = "Run"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.view = RunView()

    def compose(self) -> ComposeResult:
        """Buttons, phase, progress, log, history."""
        with Horizontal(classes="page-buttons"):
            yield Button("Run Now", id="run-now", variant="primary", action="app.run_now")
            yield Button("Dry Run", id="run-dry", action="app.dry_run")
            yield Button("Cancel", id="run-cancel", variant="error", action="app.cancel_run",
                         disabled=True)
        yield Label("not running", id="run-phase")
        yield ProgressBar(IDLE_TOTAL, id="run-progress", show_eta=False)
        yield RunLog(id="run-log", max_lines=LOG_LINES)
        yield Label("Run history", classes="section-title")
        yield RunHistory(id="run-history")

    def set_running(self, running: bool) -> None:
        """Enable Cancel while a run goes, Run Now otherwise."""
        self.query_one("#run-now", Button).disabled = running
        self.query_one("#run-dry", Button).disabled = running
        self.query_one("#run-cancel", Button).disabled = not running

    def show_run(self, view: RunView) -> None:
        """Show a run kept while another connection was shown (its log, phase and bar)."""
        self.view = view
        log = self.query_one("#run-log", RunLog)
        log.clear()
        for line in view.lines:
            log.add(line)
        if view.dropped:  # (said again: the lines shown again are within the limit)
            log.border_title = DROPPED_TITLE.format(LOG_LINES)
        self._show_state()

    def show_last(self, last: LastRun | None) -> None:
        """Show the connection's latest run, read from its history and log (None: never run:
        nothing shown)."""
        self.show_run(RunView() if last is None else last_run_view(last))

    def own_run(self) -> RunView:
        """The view a run of this app goes into: a latest run shown from the history gives way
        (the live log replaces it)."""
        if self.view.earlier:
            self.show_run(RunView())
        return self.view

    def _show_state(self) -> None:
        """The view's phase, bar and buttons."""
        self.set_running(self.view.running)
        self.query_one("#run-phase", Label).update(self.view.phase)
        bar = self.query_one("#run-progress", ProgressBar)
        bar.update(total=self.view.total, progress=self.view.done)
        for outcome in BAR_OUTCOMES:
            bar.set_class(self.view.outcome == outcome, f"-{outcome}")

    def _log(self, line: str | None) -> None:
        if line is not None:
            self.query_one("#run-log", RunLog).add(line)

    def start(self, title: str, dry_run: bool) -> None:
        """Reset for a new run."""
        self._log(self.view.start(title, dry_run))
        self._show_state()

    def progress(self, event: Progress) -> None:
        """One (coalesced) progress step."""
        self.view.progress(event)
        self._show_state()

    def cancelling(self) -> None:
        """Cancel was asked: say so until the run stops (the engine stops at its next check)."""
        self.view.cancelling()
        self._show_state()

    def event(self, event: Event) -> None:
        """Any other engine event, as a log line."""
        self._log(self.view.event(event))

    def add(self, line: str) -> None:
        """A line of the App's own in the run log."""
        self._log(self.view.add(line))

    def finish(self, report: RunReport) -> None:
        """The summary of a finished run, also kept in the history; a dry run's writes after it
        (the first ones of each kind by match key), as ``l2tui run --dry-run`` lists them."""
        self._log(self.view.finish(report))
        for line in planned_lines(report):
            self._log(self.view.add(line))
        self._show_state()
        self.add_history(report.started, report.outcome, report_body(report), first=True)

    def stopped(self, message: str) -> None:
        """A run that ended without a report (it failed to start or raised)."""
        self._log(self.view.stopped(message))
        self._show_state()

    def add_history(self, started: float, outcome: str, summary: str, first: bool = False) -> None:
        """One run in the history list (newest first)."""
        self.query_one(RunHistory).add_run(started, outcome, summary, first=first)

    def clear(self) -> None:
        """Show another connection: no run, empty history (the history follows from a worker)."""
        self.show_run(RunView())
        self.query_one(RunHistory).show([])

    def show_history(self, history: list[tuple[float, str, str]]) -> None:
        """The runs before this one, newest first (read by a worker: an answer may come while
        the app closes, its widgets gone)."""
        for shown in self.query(RunHistory):
            shown.show(history)
