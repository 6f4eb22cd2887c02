"""Starting the app: run_app as `l2tui demo` calls it, and a NO_COLOR terminal."""

from __future__ import annotations

from typing import Any

from textual.app import App

from l2tui.config.store import ConnectionStore
from l2tui.tui.app import L2App, run_app
from l2tui.tui.widgets.connection_list import ConnectionList
from tests.tui.conftest import DEMO_SLUG, DEMO_TITLE

SIZE = (120, 40)


def test_run_app_opens_on_the_selected_connection_and_keeps_the_emulator(
        paths, demo_file, emulator, monkeypatch) -> None:
    (paths.connections / "another-connection.toml").write_text('title = "Another connection"\n')
    seen: dict[str, Any] = {}

    async def look(pilot: Any) -> None:
        seen.update(title=pilot.app.current.title, emulator=pilot.app.emulator)
        pilot.app.exit(0)

    def headless(self: L2App, **_options: Any) -> int | None:
        return App.run(self, headless=True, size=SIZE, auto_pilot=look)

    monkeypatch.setattr(L2App, "run", headless)
    assert run_app(paths, select=DEMO_SLUG, emulator=emulator) == 0
    assert seen == {"title": DEMO_TITLE, "emulator": emulator}


async def test_the_app_works_with_no_color(make_app, offline_demo_file, monkeypatch) -> None:
    monkeypatch.setenv("NO_COLOR", "1")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert app.current is not None and app.current.title == "New Connection"
        assert app.query_one(ConnectionList).option_count == 2
        assert app.export_screenshot()  # it renders (without colours)


def _opened_on(make_app, paths, titles: list[str], name: str) -> Any:
    """An app asked to open NAME, in a folder of connections with these titles."""
    store = ConnectionStore(paths.connections)
    for title in titles:
        store.create(title)
    return make_app(select=name)


async def test_the_start_of_one_file_name_opens_its_connection(make_app, paths) -> None:
    app = _opened_on(make_app, paths, ["CRM accounts to SQL", "Contacts to SQL"], "crm")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert app.current is not None and app.current.title == "CRM accounts to SQL"


async def test_a_name_that_could_name_several_connections_says_which(make_app, paths) -> None:
    app = _opened_on(make_app, paths, ["CRM accounts to SQL", "CRM contacts to SQL"], "crm")
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        assert [n.message for n in app._notifications] == [
            "'crm' could name 2 connections: crm-accounts-to-sql, crm-contacts-to-sql"]
        assert app.current is not None  # (the first is open)
