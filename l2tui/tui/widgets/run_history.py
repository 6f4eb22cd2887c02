"""The Run page's history: one row per run, newest first, its Summary wrapped to the table's width."""

from __future__ import annotations

from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from l2tui.sync.summaries import local_time, outcome_label

MIN_SUMMARY = 20  # narrower than this, the table may scroll sideways after all

Run = tuple[str, str, str]  # started (as shown), outcome, summary


def run_row(started: float, outcome: str, summary: str) -> Run:
    """One run as the table shows it."""
    return local_time(started), outcome_label(outcome), summary


class RunHistory(DataTable[str]):
    """Earlier runs of the connection; a long Summary (an error, say) takes more lines rather
    than a horizontal scrollbar, which would hide the start of every row. Enter (or a click) on
    a run asks for its details (``Chosen``)."""

    BINDINGS = [Binding("enter", "select_cursor", "Details", id="run-history.details",
                        tooltip="Show this run: when, what each side got, its conflicts, its log")]

    class Chosen(Message):
        """A run was chosen: its start, which names it in the state's history."""

        def __init__(self, started: float) -> None:
            super().__init__()
            self.started = started

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.runs: list[tuple[float, str, str]] = []  # (started, outcome, summary), as shown
        for label in ("Started", "Outcome", "Summary"):
            self.add_column(label, key=label.lower())

    def show(self, runs: list[tuple[float, str, str]]) -> None:
        """Show these runs (started, outcome, summary; newest first) in place of those shown."""
        self.runs = list(runs)
        self._redraw()

    def add_run(self, started: float, outcome: str, summary: str, first: bool = False) -> None:
        """One more run: at the top (a run just finished: in place of its row read while it
        went, if any) or at the bottom."""
        run = (started, outcome, summary)
        others = [shown for shown in self.runs if shown[0] != started]
        self.runs = [run, *others] if first else [*others, run]
        self._redraw()

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        """Enter or a click on a run: ask for its details."""
        event.stop()
        if 0 <= event.cursor_row < len(self.runs):
            self.post_message(self.Chosen(self.runs[event.cursor_row][0]))

    def on_resize(self, event: Resize) -> None:
        """Wrap the summaries again to the new width (no run yet: the header takes it, as it
        would had the history come after the table was laid out)."""
        if self.columns[ColumnKey("summary")].width != self._summary_width():
            self._redraw()

    def _summary_width(self) -> int:
        fixed = sum(column.get_render_width(self) for key, column in self.columns.items()
                    if key != "summary")
        return max(MIN_SUMMARY, self.scrollable_content_region.width - fixed - 2 * self.cell_padding)

    def _redraw(self) -> None:
        """Started and Outcome as wide as their longest value, Summary the rest (wrapped)."""
        self.clear()
        rows = [run_row(*run) for run in self.runs]
        for index, key in enumerate(("started", "outcome")):
            column = self.columns[ColumnKey(key)]
            column.auto_width = False
            column.width = max([len(str(column.label)), *(len(row[index]) for row in rows)])
        summary = self.columns[ColumnKey("summary")]
        summary.auto_width, summary.width = False, self._summary_width()
        for row in rows:
            self.add_row(*row, height=None)
