"""SVG snapshots of each page at 80×24 and 120×40 (fixed theme, no cursor blink, fixed paths)."""

from __future__ import annotations

import pytest

from l2tui.providers.base import Column, ColumnType
from l2tui.tui.screens.preview import PreviewScreen

PAGES = ("connection", "entity1", "entity2", "mappings", "run")
SIZES = ((80, 24), (120, 40))
SQL = "SELECT accountid, name, accountnumber, revenue FROM accounts WHERE revenue > 0"


@pytest.fixture
def shown_demo(offline_demo_file):
    """The offline demo with a SQL query on the right (the snapshots show its highlighting)."""
    text = offline_demo_file.read_text().replace('select = "accounts"', f'select = "{SQL}"')
    offline_demo_file.write_text(text)
    return offline_demo_file


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("page", PAGES)
def test_page_snapshot(snap_compare, make_app, shown_demo, page: str, size: tuple[int, int]) -> None:
    app = make_app(auto_describe=False)

    async def show(pilot) -> None:
        app.action_page(page)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_preview_snapshot(snap_compare, make_app, offline_demo_file, size: tuple[int, int]) -> None:
    app = make_app(auto_describe=False)
    columns = [Column("accountid", ColumnType.GUID, key=True), Column("name"),
               Column("revenue", ColumnType.DECIMAL)]
    rows = [{"accountid": f"00000000-0000-0000-0000-{i:012d}", "name": f"Account {i}",
             "revenue": i * 1000} for i in range(1, 8)]

    async def show(pilot) -> None:
        app.push_screen(PreviewScreen("Dynamics accounts", columns, rows))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show)
