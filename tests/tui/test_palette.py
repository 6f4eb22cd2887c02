"""The command palette (ctrl+p) offers every action under the seed's names; F1 lists every key."""

from __future__ import annotations

import pytest
from textual.command import CommandList, CommandPalette

from tests.tui.conftest import make_accounts_table, screen_lines, until

SIZE = (120, 40)
SEED_COMMANDS = ("Create New Connection", "Save Changes", "Verify Connection String",
                 "Preview Data", "Run Now")


def _listed(app) -> list[str]:
    commands = app.screen.query_one(CommandList)
    return [commands.get_option_at_index(i).prompt.plain.split("\n")[0]
            for i in range(commands.option_count)]


async def test_the_palette_lists_the_seeds_five_command_names(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette) and _listed(app))
        assert set(SEED_COMMANDS) <= set(_listed(app))


async def test_a_command_chosen_in_the_palette_runs(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"create new")
        await until(pilot, lambda: _listed(app)[:1] == ["Create New Connection"])
        await pilot.press("enter")
        await until(pilot, lambda: app.current is not None and app.current.title == "New Connection")
        assert (offline_demo_file.parent / "new-connection.toml").is_file()


async def test_the_palette_offers_only_what_can_be_done_now(make_app, paths) -> None:
    app = make_app()  # an empty folder: nothing to save, run or delete; no run to cancel
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette) and _listed(app))
        listed = _listed(app)
        assert "Create New Connection" in listed
        assert not {"Save Changes", "Run Now", "Cancel Run", "Delete Connection"} & set(listed)
        await pilot.press(*"cancel")
        await pilot.pause(0.5)
        assert "Cancel Run" not in _listed(app)


def _keys_listed(app) -> dict[str, str]:
    """The keys panel's keys, each with what it does; none while the panel is (re)built (it
    is built again as it takes the focus, a frame or more after it shows)."""
    from textual.widgets._key_panel import BindingsTable

    tables = app.screen.query(BindingsTable)
    if not tables:
        return {}
    table = tables.first().render_bindings_table()
    keys, descriptions = ([cell.plain if hasattr(cell, "plain") else str(cell)
                           for cell in column.cells] for column in table.columns)
    return dict(zip(keys, descriptions, strict=True))


async def test_f1_shows_every_key_the_footer_has_no_room_for_and_hides_them(
        make_app, offline_demo_file) -> None:
    from textual.widgets import HelpPanel

    wanted = {"alt+1", "f4", "f7", "f8"}
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: wanted <= {key.casefold() for key in _keys_listed(app)})
        await pilot.press("f1")
        await until(pilot, lambda: not app.screen.query(HelpPanel))


async def test_at_80x24_the_footer_shows_f1_and_every_key_whole(make_app, offline_demo_file) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: bool(app.query("FooterKey")))
        await pilot.pause()
        footer = screen_lines(app)[-1]
        assert footer.split()[:2] == ["f1", "Keys"], footer
        assert footer.rstrip().endswith("f10 Actions"), footer


async def test_f1_names_the_page_keys_by_the_titles_of_the_pages(make_app, offline_demo_file) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f1")
        await until(pilot, lambda: "alt+5" in _keys_listed(app))
        described = _keys_listed(app)
        assert [described[f"alt+{n}"] for n in range(1, 6)] == [
            "Go to Connection", "Go to Data Entity 1", "Go to Data Entity 2", "Go to Mappings",
            "Go to Run"], described


def _panel_lines(app) -> list[str]:
    """The keys panel as a person sees it."""
    from textual.widgets import HelpPanel

    return screen_lines(app, app.screen.query_one(HelpPanel))


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_f1_over_a_field_reaches_every_key_of_the_app_by_keys_and_gives_the_focus_back(
        make_app, offline_demo_file, size) -> None:
    """A field has the focus most of the time: its thirty editing keys came first, and the keys
    the footer has no room for (F4, F7, F8, F12, alt+1 …) were out of sight, the panel not
    scrollable by keys. The panel takes the focus: the app's keys come first, the arrows and
    PageDown scroll it, and F1 gives the focus back to the field."""
    from textual.widgets import HelpPanel

    app = make_app(auto_describe=False)
    async with app.run_test(size=size) as pilot:
        title = await _keys_over_the_title(app, pilot)
        await pilot.pause()
        seen = " ".join(_panel_lines(app))
        for _ in range(12):
            await pilot.press("pagedown")
            await pilot.pause()
            seen += " ".join(_panel_lines(app))
        shown = set(seen.replace("▏", " ").split())
        assert {"f4", "f7", "f8", "f12", "alt+1", "alt+5", "Duplicate", "Delete"} <= shown, seen
        assert seen.index("f2") < seen.index("Delete"), seen  # the app's keys, not a field's
        await pilot.press("f1")
        await until(pilot, lambda: not app.screen.query(HelpPanel))
        await until(pilot, lambda: app.focused is title)


async def _keys_over_the_title(app, pilot):
    """The keys panel shown (F1) over Data Entity 1's title field, which had the focus, once
    the panel has taken the focus and lists the app's keys; the field."""
    from textual.widgets import Input, KeyPanel

    await until(pilot, lambda: app.current is not None)
    await pilot.press("alt+2")
    title = app.query_one("#entity1-form #title", Input)
    await until(pilot, lambda: app.focused is title)
    await pilot.press("f1")
    await until(pilot, lambda: isinstance(app.focused, KeyPanel) and "f2" in _keys_listed(app))
    return title


async def test_at_80x24_f1_shows_the_apps_keys_on_its_first_screen_not_its_own_scrolling_keys(
        make_app, offline_demo_file) -> None:
    """The panel has the focus, so its own ten scrolling keys (Scroll Up … Page Right) came
    first: at 80x24 its first screen held them and tab, copy and quit, each wrapped in a panel a
    third of the width, and not one of the app's actions."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _keys_over_the_title(app, pilot)
        await pilot.pause()
        first = " ".join(_panel_lines(app))
        assert "Verify Connection String" in first and "Save Changes" in first, first
        seen = first
        for _ in range(6):
            await pilot.press("pagedown")
            await pilot.pause()
            seen += " ".join(_panel_lines(app))
        assert "Scroll" not in seen and "Page Left" not in seen, seen
        assert "Go to Run" in seen, seen  # (PageDown still scrolls it)


async def test_the_palettes_keys_command_shows_the_keys_panel_as_f1_does(
        make_app, offline_demo_file) -> None:
    from textual.widgets import HelpPanel, KeyPanel

    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.current is not None)
        await pilot.press("ctrl+p", *"keys")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette) and
                    "Keys" in _listed(app))
        await pilot.press("enter")
        await until(pilot, lambda: bool(app.screen.query(HelpPanel)))
        await until(pilot, lambda: isinstance(app.focused, KeyPanel))
        assert "Scroll" not in " ".join(_panel_lines(app))


async def test_escape_hides_the_keys_panel_and_gives_the_focus_back(
        make_app, offline_demo_file) -> None:
    from textual.widgets import HelpPanel

    app = make_app(auto_describe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        title = await _keys_over_the_title(app, pilot)
        await until(pilot, lambda: app.focused is not title)
        await pilot.press("escape")
        await until(pilot, lambda: not app.screen.query(HelpPanel))
        await until(pilot, lambda: app.focused is title)


async def test_f1_typed_as_the_app_opens_at_80x24_gives_the_keys_panel_the_focus(
        make_app, offline_demo_file) -> None:
    """The page's first field is focused a frame after the app opens (the list is hidden at
    80x24): that deferred focus took it from the keys panel shown meanwhile, which then listed
    the field's thirty editing keys first and did not scroll by keys."""
    from textual import events
    from textual.widgets import KeyPanel

    app = make_app(auto_describe=False)
    app.post_message(events.Key("f1", None))  # queued before the app runs
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(5):
            await pilot.pause(0.1)
        assert isinstance(app.focused, KeyPanel), app.focused


def _footer_keys_cut(app) -> list[str]:
    """The footer's keys shown but running past the screen's right edge."""
    return [f"{key.key_display} {key.description}" for key in app.query("FooterKey")
            if key.display and key.region.width and key.region.right > app.size.width]


async def test_at_80x24_the_pairs_tables_exclude_key_leaves_the_footers_f_keys_whole(
        make_app, demo_file, sqlite_db) -> None:
    """The focused table's x Exclude comes first in the footer: it pushed f10 Actions past the
    edge, cut to 'f10'. The footer leaves out ^n New (F1 lists it) and every key shows whole."""
    from textual.widgets import DataTable

    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        app.query_one("#pairs", DataTable).focus()
        await until(pilot, lambda: "x" in [k.key for k in app.query("FooterKey")])
        await until(pilot, lambda: screen_lines(app)[-1].rstrip().endswith("f10 Actions"))
        footer = screen_lines(app)[-1]
        assert footer.split()[:4] == ["x", "Exclude", "f1", "Keys"], footer
        assert "^n New" not in footer and not _footer_keys_cut(app), footer


def _another_connection(demo_file, title: str):
    """A second connection file beside the demo's, titled ``title``."""
    other = demo_file.with_name("zz-other.toml")
    text = demo_file.read_text().replace('title = "Demo: Dynamics accounts to SQLite"',
                                         f'title = "{title}"')
    assert f'title = "{title}"' in text
    other.write_text(text)
    return other


async def test_typing_a_connections_title_in_the_palette_opens_it(make_app,
                                                                  offline_demo_file) -> None:
    other = _another_connection(offline_demo_file, "Contacts to Warehouse")
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.current is not None)
        assert app.current.path == offline_demo_file
        await pilot.press("ctrl+p", *"wareh")
        await until(pilot, lambda: _listed(app)[:1] == ["Contacts to Warehouse"])
        await pilot.press("enter")
        await until(pilot, lambda: app.current is not None and app.current.path == other)
        listed = app.query_one("ConnectionList")
        assert listed.get_option_at_index(listed.highlighted).id == str(other)


async def test_a_connection_is_found_by_its_file_name_too(make_app, offline_demo_file) -> None:
    other = _another_connection(offline_demo_file, "Contacts to Warehouse")
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p", *"zz-oth")
        await until(pilot, lambda: _listed(app)[:1] == ["Contacts to Warehouse"])
        await pilot.press("enter")
        await until(pilot, lambda: app.current is not None and app.current.path == other)


async def test_the_empty_palette_offers_commands_not_every_connection(make_app,
                                                                      offline_demo_file) -> None:
    _another_connection(offline_demo_file, "Contacts to Warehouse")
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+p")
        await until(pilot, lambda: isinstance(app.screen, CommandPalette) and _listed(app))
        assert "Create New Connection" in _listed(app)
        assert "Contacts to Warehouse" not in _listed(app)
