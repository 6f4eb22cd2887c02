"""The Run page: Run Now, Dry Run and Cancel, a progress bar, the run log and the run history."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.widgets import Button, Label, ProgressBar

from l2tui.sync.events import (
    Conflict,
    Event,
    ItemError,
    LogLine,
    Progress,
    RunFinished,
    RunReport,
    RunStarted,
)
from l2tui.sync.summaries import conflict_text, plan_text, report_body, report_text
from l2tui.tui.widgets.run_history import RunHistory
from l2tui.tui.widgets.run_log import RunLog

LOG_LINES = 2000
IDLE_TOTAL = 1  # not running: an empty bar, not the animated "total unknown" one


class RunPanel(Vertical):
    """Shows a run as it goes (fed by Messages from the App) and the runs before it."""

    BINDING_GROUP_TITLE = "Run"

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

    cancelled = False  # Cancel was asked for this run: its progress keeps saying so

    def start(self, title: str, dry_run: bool) -> None:
        """Reset for a new run."""
        self.cancelled = False
        self.set_running(True)
        self.query_one("#run-phase", Label).update("dry run: planning…" if dry_run else "starting…")
        self.query_one("#run-progress", ProgressBar).update(total=None, progress=0)
        log = self.query_one("#run-log", RunLog)
        log.add(f"— {'dry run' if dry_run else 'run'} of {title} —")

    def progress(self, event: Progress) -> None:
        """One (coalesced) progress step."""
        total = f" of {event.total:,}" if event.total else ""
        phase = f"{event.phase}: {event.done:,}{total}"
        self.query_one("#run-phase", Label).update(f"cancelling… ({phase})" if self.cancelled else phase)
        bar = self.query_one("#run-progress", ProgressBar)
        bar.update(total=event.total if event.total else None, progress=event.done)

    def cancelling(self) -> None:
        """Cancel was asked: say so until the run stops (the engine stops at its next check)."""
        self.cancelled = True
        self.query_one("#run-phase", Label).update("cancelling…")

    def event(self, event: Event) -> None:
        """Any other engine event, as a log line."""
        log = self.query_one("#run-log", RunLog)
        if isinstance(event, RunStarted):
            log.add(plan_text(event.plan))
        elif isinstance(event, LogLine):
            prefix = {"warning": "warning: ", "error": "error: "}.get(event.level, "")
            log.add(prefix + event.message)
        elif isinstance(event, Conflict):
            log.add(conflict_text(event.key, event.resolution, event.left, event.right))
        elif isinstance(event, ItemError):
            log.add(f"error on the {event.side} for {event.key}: {event.message}")
        elif isinstance(event, RunFinished):
            pass  # the App adds the summary when the worker returns the report

    def finish(self, report: RunReport) -> None:
        """The summary of a finished run, also kept in the history."""
        self.set_running(False)
        summary = report_text(report)
        self.query_one("#run-phase", Label).update(summary)
        bar = self.query_one("#run-progress", ProgressBar)
        if bar.total is None:
            bar.update(total=1, progress=1 if report.ok else 0)
        self.query_one("#run-log", RunLog).add(summary)
        self.add_history(report.started, report.outcome, report_body(report), first=True)

    def stopped(self, message: str) -> None:
        """A run that ended without a report (it failed to start or raised): the bar stops too
        (left "total unknown", it went on animating as if the run were still going)."""
        self.set_running(False)
        self.query_one("#run-phase", Label).update(message)
        bar = self.query_one("#run-progress", ProgressBar)
        if bar.total is None:
            bar.update(total=IDLE_TOTAL, progress=0)
        self.query_one("#run-log", RunLog).add(message)

    def add_history(self, started: float, outcome: str, summary: str, first: bool = False) -> None:
        """One run in the history list (newest first)."""
        self.query_one(RunHistory).add_run(started, outcome, summary, first=first)

    def clear(self) -> None:
        """Show another connection: empty log and history (the history follows from a worker)."""
        self.set_running(False)
        self.query_one("#run-phase", Label).update("not running")
        self.query_one("#run-progress", ProgressBar).update(total=IDLE_TOTAL, progress=0)
        self.query_one("#run-log", RunLog).clear()
        self.query_one(RunHistory).show([])

    def show_history(self, history: list[tuple[float, str, str]]) -> None:
        """The runs before this one, newest first (read by a worker: an answer may come while
        the app closes, its widgets gone)."""
        for shown in self.query(RunHistory):
            shown.show(history)
