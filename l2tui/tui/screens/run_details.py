"""A run of the history in a pop-up: when, what each side got, its conflicts and item errors,
its log file."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from l2tui.sync.summaries import (
    conflict_text,
    local_time,
    outcome_label,
    record_text,
    seconds_text,
)
from l2tui.tui.messages import RunDetails

ITEM_ERROR_CHARS = 200  # the most of an item error's line shown (its log has all of it)


def details_lines(details: RunDetails) -> list[str]:
    """The run as lines of text: its times, its summary, each conflict with what differed, its
    first item errors."""
    record = details.record
    lines = [f"Started {local_time(record.started)}" + (
        "" if record.finished is None else
        f", finished {local_time(record.finished)} ({seconds_text(record.finished - record.started)})")]
    summary = record_text(record)
    if summary:
        lines.append(summary)
    lines.append("")
    if not details.conflicts:
        lines.append("No conflicts.")
    else:
        lines.append(f"Conflicts ({len(details.conflicts)}):")
        for conflict in details.conflicts:
            lines.append(conflict_text(conflict["key"], conflict["resolution"], conflict["left"],
                                       conflict["right"], most=100,
                                       settled_by=conflict.get("settled_by"),
                                       policy=conflict.get("policy")))
    lines += item_error_lines(details)
    lines += ["", f"Run log: {details.logs / record.log}" if record.log else
              f"Run logs: {details.logs}"]
    return lines


def item_error_lines(details: RunDetails) -> list[str]:
    """The run's item errors (none: no lines): the first its log lists, each cut to a line's
    worth, and how many more the log holds."""
    count, shown = details.item_error_count, details.item_errors
    if not count:
        return []
    lines = ["", f"Item errors ({count}):"]
    lines += [line if len(line) <= ITEM_ERROR_CHARS else line[:ITEM_ERROR_CHARS - 1] + "…"
              for line in shown]
    if not shown:
        lines.append("(the run log that listed them is gone)")
    elif count > len(shown):
        lines.append(f"and {count - len(shown)} more in the run log")
    return lines


class RunDetailsScreen(ModalScreen[None]):
    """The run chosen in the Run page's history (Enter on it), as ``l2tui history`` and ``l2tui
    conflicts`` tell it."""

    BINDINGS = [Binding("escape", "close", "Close", id="run-details.close",
                        tooltip="Close the run's details")]

    def __init__(self, details: RunDetails) -> None:
        super().__init__()
        self.details = details

    def compose(self) -> ComposeResult:
        """Title, the run's lines, Close."""
        record = self.details.record
        with Vertical(classes="dialog -details"):
            yield Label(f"Run {record.id} of {self.details.connection} — "
                        f"{outcome_label(self.details.outcome)}", classes="dialog-title")
            with VerticalScroll(id="run-details-scroll"):
                yield Static("\n".join(details_lines(self.details)), id="run-details",
                             markup=False)
            yield Button("Close", id="close")

    def on_mount(self) -> None:
        """Focus the text for scrolling."""
        self.query_one("#run-details-scroll").focus()

    def on_button_pressed(self) -> None:
        """Close."""
        self.dismiss(None)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
