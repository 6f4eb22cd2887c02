"""Filling a DataTable whose columns are as wide as their widest cell, measured up front."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rich.cells import cell_len
from rich.text import Text
from textual.widgets import DataTable


def cell_width(value: Any) -> int:
    """The cells a value takes on one line."""
    return value.cell_len if isinstance(value, Text) else cell_len(str(value))


def fill_table(table: DataTable[Any], labels: Sequence[str], rows: Sequence[Sequence[Any]],
               keys: Sequence[str] | None = None) -> None:
    """Replace ``table``'s columns and rows; each column is given the width of its widest cell.

    Why not auto width: DataTable measures auto-width columns when it next idles and keeps the
    lines it drew before (Textual 8.2), so a table filled and drawn at once could show every
    column at its label's width, contents cut, until the cursor moved.
    """
    table.clear(columns=True)
    for index, label in enumerate(labels):
        table.add_column(label, width=max([cell_len(label), *(cell_width(row[index]) for row in rows)]))
    for number, row in enumerate(rows):
        table.add_row(*row, key=None if keys is None else keys[number])
