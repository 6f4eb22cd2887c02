"""Tables filled in one go show every cell whole, even when drawn before the table settles."""

from __future__ import annotations

from typing import Any

from textual.app import App, ComposeResult
from textual.widgets import DataTable

from l2tui.tui.widgets.tables import fill_table


class OneTable(App[None]):
    """A screen holding one empty table of a fixed size (as the Mappings page's: a table's own
    size then stays as it fills)."""

    CSS = "DataTable { height: 6; width: 60; }"

    def compose(self) -> ComposeResult:
        yield DataTable(id="table")


async def test_a_table_drawn_before_it_settles_still_shows_its_cells_whole() -> None:
    app = OneTable()
    async with app.run_test(size=(80, 10)) as pilot:
        table: DataTable[Any] = app.query_one(DataTable)
        fill_table(table, ["", "Type"], [("★ auto", "string"), ("", "integer")])
        # drawn at once, as a screen update between the fill and the table's next idle draws it
        table.render_line(1)
        await pilot.pause()
        assert table.render_line(1).text.split() == ["★", "auto", "string"]
        assert table.render_line(2).text.split() == ["integer"]
