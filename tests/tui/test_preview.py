"""The Preview Data dialog: its rows written as CSV (Export CSV), the entity it shows."""

from __future__ import annotations

import csv
import sqlite3
from pathlib import Path
from typing import Any

import pytest
from textual.widgets import DataTable, Input, Label

from l2tui.tui.screens.confirm import AskScreen, ConfirmScreen
from l2tui.tui.screens.preview import PreviewScreen
from tests.tui.conftest import DEMO_SLUG, make_accounts_table, screen_lines, until

SIZE = (120, 40)


async def _open_preview(pilot: Any, app: Any, *keys: str) -> PreviewScreen:
    """Press ``keys`` (F3 by default) and wait for the preview of the rows read."""
    await pilot.press(*(keys or ("f3",)))
    await until(pilot, lambda: isinstance(app.screen, PreviewScreen))
    await pilot.pause()
    return app.screen


async def _export(pilot: Any, app: Any, answer: str | None = None) -> None:
    """ctrl+s over the preview, then Enter on the file offered (or on ``answer`` typed)."""
    await pilot.press("ctrl+s")
    await until(pilot, lambda: isinstance(app.screen, AskScreen))
    if answer is not None:
        app.screen.query_one("#answer", Input).value = answer
    await pilot.press("enter")
    await pilot.pause()


def _shown(preview: PreviewScreen) -> list[list[str]]:
    """The preview's table as a person reads it: the header, then each row's cells."""
    table = preview.query_one("#preview-table", DataTable)
    return [[str(c.label) for c in table.columns.values()],
            *([str(v) for v in table.get_row_at(i)] for i in range(table.row_count))]


def _messages(app: Any, title: str) -> list[str]:
    return [str(n.message) for n in app._notifications if n.title == title]


async def test_export_csv_writes_the_rows_the_preview_shows_to_the_file_offered(
        make_app, demo_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(pilot, app, "alt+2", "f3")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: isinstance(app.screen, AskScreen))
        assert app.screen.query_one("#answer", Input).value == f"./{DEMO_SLUG}-entity1.csv"
        await pilot.press("enter")
        written = tmp_path / f"{DEMO_SLUG}-entity1.csv"
        await until(pilot, lambda: _messages(app, "Exported CSV"))
        assert _messages(app, "Exported CSV") == [f"50 rows written to {written}"]
        with written.open(newline="", encoding="utf-8") as handle:
            assert list(csv.reader(handle)) == _shown(preview)
        assert app.screen is preview
        assert [p.name for p in tmp_path.iterdir() if p.name.endswith(".tmp")] == []


async def test_export_csv_asks_before_replacing_a_file_and_keeps_it_when_told_no(
        make_app, demo_file, tmp_path: Path) -> None:
    there = tmp_path / "accounts.csv"
    there.write_text("kept\n", encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(pilot, app)
        await _export(pilot, app, str(there))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("escape")
        await until(pilot, lambda: app.screen is preview)
        assert there.read_text(encoding="utf-8") == "kept\n"
        await _export(pilot, app, str(there))
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.press("y")
        await until(pilot, lambda: _messages(app, "Exported CSV"))
        with there.open(newline="", encoding="utf-8") as handle:
            assert list(csv.reader(handle)) == _shown(preview)


async def test_export_csv_expands_a_tilde_to_the_home_folder(
        make_app, demo_file, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HOME", str(tmp_path))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(pilot, app)
        await _export(pilot, app, "~/sample.csv")
        await until(pilot, lambda: _messages(app, "Exported CSV"))
        with (tmp_path / "sample.csv").open(newline="", encoding="utf-8") as handle:
            assert list(csv.reader(handle)) == _shown(preview)


async def test_export_csv_to_a_folder_that_is_not_there_says_so_in_one_line(
        make_app, demo_file, tmp_path: Path) -> None:
    target = tmp_path / "nosuchfolder" / "accounts.csv"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        preview = await _open_preview(pilot, app)
        await _export(pilot, app, str(target))
        await until(pilot, lambda: _messages(app, "Not exported"))
        assert _messages(app, "Not exported") == [
            f"{target}: no folder {target.parent}"]
        assert not target.parent.exists()
        assert app.screen is preview


async def test_export_csv_to_a_folder_it_may_not_write_says_so_in_one_line(
        make_app, demo_file, tmp_path: Path) -> None:
    """Into /sys, where no user makes a file (root neither, for whom a folder of mode 0500 is
    writable)."""
    target = Path("/sys") / f"l2tui-{tmp_path.name}.csv"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _open_preview(pilot, app)
        await _export(pilot, app, str(target))
        await until(pilot, lambda: _messages(app, "Not exported"))
        assert _messages(app, "Not exported") == [f"{target}: Permission denied"]
        assert not target.exists()


async def test_the_preview_footer_and_f1_show_export_csv(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        preview = await _open_preview(pilot, app)
        footer = screen_lines(app)[-1]
        assert "^s Export CSV" in footer and "esc Close" in footer, footer
        await pilot.press("f1")
        await until(pilot, lambda: preview.query("HelpPanel"))
        await pilot.pause()
        assert any("Export CSV" in line for line in screen_lines(app))
        await pilot.press("escape")
        await until(pilot, lambda: not preview.query("HelpPanel"))
        assert app.screen is preview


def _title(preview: PreviewScreen) -> str:
    return str(preview.query_one(".dialog-title", Label).render())


async def test_f3_on_the_connection_page_previews_data_entity_1_and_its_title_says_so(
        make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.current is not None)
        assert app.page_entity() is None  # (the Connection page: no entity's fields)
        preview = await _open_preview(pilot, app)
        assert _title(preview) == "Preview Data — Data Entity 1: Dynamics accounts (50 rows)"


async def test_f3_in_data_entity_2s_fields_previews_data_entity_2_and_its_title_says_so(
        make_app, demo_file, sqlite_db: Path) -> None:
    make_accounts_table(sqlite_db)
    with sqlite3.connect(sqlite_db) as con:
        con.execute("INSERT INTO accounts VALUES ('a1', 'Only in SQLite', 'N1', 5)")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        await until(pilot, lambda: app.focused is not None
                    and app.query_one("#entity2-form") in app.focused.ancestors)
        preview = await _open_preview(pilot, app)
        assert _title(preview) == "Preview Data — Data Entity 2: SQLite accounts (1 row)"
        assert _shown(preview)[1][:2] == ["a1", "Only in SQLite"]


async def test_the_reading_notice_is_taken_back_once_the_preview_shows(
        make_app, demo_file) -> None:
    """'reading the first rows of Data Entity 1…' stayed over the table for its 5 seconds."""
    app = make_app()
    async with app.run_test(size=SIZE, notifications=True) as pilot:
        await until(pilot, lambda: app.current is not None)
        app.notify("kept: not about the preview", timeout=60)
        await _open_preview(pilot, app)
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        assert "reading the first rows" not in shown
        assert "kept: not about the preview" in shown
        assert _messages(app, "") == ["kept: not about the preview"]
