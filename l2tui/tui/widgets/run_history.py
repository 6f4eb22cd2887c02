"""The Run page's history: one row per run, newest first, its Summary wrapped to the table's width."""

from __future__ import annotations

from textual.binding import Binding
from textual.events import Resize
from textual.message import Message
from textual.widgets import DataTable
from textual.widgets.data_table import ColumnKey

from l2tui.sync.summaries import local_time, outcome_label

MIN_SUMMARY = 20  # narrower than this, the table may scroll sideways after all
READABLE_SUMMARY = 30  # narrower than this beside Started and Outcome: the compact layout

Run = tuple[str, str, str]  # started (as shown), outcome, summary


def run_row(started: float, outcome: str, summary: str) -> Run:
    """One run as the table shows it."""
    return local_time(started), outcome_label(outcome), summary


class RunHistory(DataTable[str]):
    """Earlier runs of the connection; a long Summary (an error, say) takes more lines rather
    than a horizontal scrollbar, which would hide the start of every row. Where the table is
    too narrow for that (beside both side panes), Started takes two lines (date, time) and the
    Outcome opens the Summary ("failed: …") in place of its own column. Enter (or a click) on
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
        """Lay the runs out again for the new width (no run yet: the header takes it, as it
        would had the history come after the table was laid out)."""
        shown = {key.value: column.width for key, column in self.columns.items()}
        if shown != self._widths([run_row(*run) for run in self.runs]):
            self._redraw()

    def _widths(self, rows: list[Run]) -> dict[str, int]:
        """The columns and their widths: Started and Outcome as wide as their longest value,
        Summary the rest; the compact layout (Started on two lines, no Outcome) when that
        leaves the Summary too narrow to read (not before the table is laid out: hidden, it
        has no width yet)."""
        fixed = {"started": max([len("Started"), *(len(row[0]) for row in rows)]),
                 "outcome": max([len("Outcome"), *(len(row[1]) for row in rows)])}
        if self.scrollable_content_region.width and self._room(fixed) < READABLE_SUMMARY:
            fixed = {"started": max([len("Started"), *(len(row[0].partition(" ")[0])
                                                       for row in rows)])}
        return {**fixed, "summary": max(MIN_SUMMARY, self._room(fixed))}

    def _room(self, fixed: dict[str, int]) -> int:
        """The width left to the Summary beside these columns (each padded on both sides)."""
        padding = 2 * self.cell_padding * (len(fixed) + 1)
        return self.scrollable_content_region.width - sum(fixed.values()) - padding

    def _redraw(self) -> None:
        """The runs, in the columns (and widths) that fit the table's width; Summary wrapped."""
        self.clear()
        rows = [run_row(*run) for run in self.runs]
        widths = self._widths(rows)
        if list(widths) != [key.value for key in self.columns]:
            for shown in list(self.columns):
                self.remove_column(shown)
            for name in widths:
                self.add_column(name.capitalize(), key=name)
        for name, width in widths.items():
            column = self.columns[ColumnKey(name)]
            column.auto_width, column.width = False, width
        compact = "outcome" not in widths
        for started, outcome, summary in rows:
            if compact:
                self.add_row(started.replace(" ", "\n", 1), f"{outcome}: {summary}", height=None)
            else:
                self.add_row(started, outcome, summary, height=None)
