"""Preview Data: the first rows of a data entity in a scrollable table, which Export CSV writes
to a file."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, HelpPanel, Label

from l2tui.preview import cell_text, column_names, save_csv
from l2tui.sync.summaries import count_text
from l2tui.tui.screens.confirm import AskScreen, ConfirmScreen
from l2tui.tui.widgets.footer import L2Footer
from l2tui.tui.widgets.tables import fill_table

MAX_CELL = 40


def cell(value: Any) -> str:
    """A value as shown in a cell (as the CSV writes it), shortened."""
    text = cell_text(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


class PreviewScreen(ModalScreen[None]):
    """A pop-up of sample data, as the guide's Preview Data; ctrl+s writes it as CSV."""

    BINDINGS = [
        Binding("f1", "app.toggle_keys", "Keys", id="preview.keys",
                tooltip="Show or hide every key and what it does"),
        Binding("ctrl+s", "export", "Export CSV", id="preview.export",
                tooltip="Write the rows shown to a CSV file"),
        Binding("escape", "close", "Close", id="preview.close", tooltip="Close the preview"),
    ]

    def __init__(self, title: str, columns: list[Any], records: list[dict[str, Any]],
                 file_name: str = "preview.csv") -> None:
        super().__init__()
        self.title_text = title
        self.columns = columns
        self.records = records
        self.names = column_names(columns, records)
        self.file_name = file_name  # Export CSV's default, in the current folder

    def compose(self) -> ComposeResult:
        """Title, table, Close; the dialog's keys in a footer."""
        with Vertical(classes="dialog -wide"):
            yield Label(f"Preview Data — {self.title_text} ({self.rows_text()})",
                        classes="dialog-title")
            table: DataTable[str] = DataTable(id="preview-table", zebra_stripes=True)
            fill_table(table, self.names, [[cell(record.get(name)) for name in self.names]
                                           for record in self.records])
            yield table
            yield Button("Close", id="close")
        yield L2Footer((), compact=True)

    def rows_text(self) -> str:
        """How many rows it shows: "1 row", "50 rows"."""
        return count_text(len(self.records), "row")

    def on_mount(self) -> None:
        """Focus the table for scrolling."""
        self.query_one("#preview-table", DataTable).focus()

    def on_button_pressed(self) -> None:
        """Close."""
        self.dismiss(None)

    async def action_close(self) -> None:
        """Hide the keys panel when it shows (as Escape does over the app), else close."""
        if self.query(HelpPanel):
            await self.app.run_action("hide_help_panel")
        else:
            self.dismiss(None)

    def action_export(self) -> None:
        """Export CSV: ask for the file, then write the rows shown to it."""
        self.app.push_screen(AskScreen("Export CSV", f"Write the {self.rows_text()} shown as CSV to:",
                                       f"./{self.file_name}", ok="Export"), self._export_to)

    def _export_to(self, answer: str | None) -> None:
        """Write to the file named (``~`` expanded), asking first to replace one there."""
        if not answer or not answer.strip():
            return
        path = Path(answer.strip()).expanduser().absolute()
        if path.is_dir():
            self._not_exported(path, "a folder; name a file in it")
        elif path.exists():
            self.app.push_screen(ConfirmScreen("Replace file?", f"{path} exists. Replace it?",
                                               yes="Replace"),
                                 lambda yes: self._write(path) if yes else None)
        else:
            self._write(path)

    def _write(self, path: Path) -> None:
        """Write the CSV and say where, or why not."""
        try:
            save_csv(path, self.names, self.records)
        except OSError as exc:
            self._not_exported(path, exc.strerror or str(exc))
            return
        self.notify(f"{self.rows_text()} written to {path}", title="Exported CSV")

    def _not_exported(self, path: Path, why: str) -> None:
        """One line naming the file and why it was not written."""
        self.notify(f"{path}: {why}", title="Not exported", severity="error")
