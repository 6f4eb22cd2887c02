"""Preview Data: the first rows of a data entity in a scrollable table."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, DataTable, Label

from l2tui.tui.widgets.tables import fill_table

MAX_CELL = 40


def cell(value: Any) -> str:
    """A value as shown in a cell, shortened."""
    text = "" if value is None else str(value)
    return text if len(text) <= MAX_CELL else text[: MAX_CELL - 1] + "…"


class PreviewScreen(ModalScreen[None]):
    """A pop-up of sample data, as the guide's Preview Data."""

    BINDINGS = [Binding("escape", "close", "Close", id="preview.close", tooltip="Close the preview")]

    def __init__(self, title: str, columns: list[Any], records: list[dict[str, Any]]) -> None:
        super().__init__()
        self.title_text = title
        self.columns = columns
        self.records = records

    def compose(self) -> ComposeResult:
        """Title, table, Close."""
        with Vertical(classes="dialog -wide"):
            yield Label(f"Preview Data — {self.title_text} ({len(self.records)} rows)",
                        classes="dialog-title")
            table: DataTable[str] = DataTable(id="preview-table", zebra_stripes=True)
            names = [c.name for c in self.columns] or sorted({k for r in self.records for k in r})
            fill_table(table, names, [[cell(record.get(name)) for name in names]
                                      for record in self.records])
            yield table
            yield Button("Close", id="close")

    def on_mount(self) -> None:
        """Focus the table for scrolling."""
        self.query_one("#preview-table", DataTable).focus()

    def on_button_pressed(self) -> None:
        """Close."""
        self.dismiss(None)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
