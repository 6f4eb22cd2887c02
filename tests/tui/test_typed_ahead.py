"""Verify, Preview, Run Now and Dry Run act on the values the fields show when the key is
pressed, even when the keys typed just before it arrive in one burst (a paste, a fast typist,
tmux send-keys): a password typed then F2 at once is used whole, not as it stood after its
first character."""

from __future__ import annotations

from typing import Any

import pytest
from textual import events
from textual.widgets import Input

from l2tui.tui.screens.preview import PreviewScreen
from tests.tui.conftest import DEMO_SLUG, demo_toml, make_accounts_table, sqlite_rows, until

SIZE = (120, 40)


@pytest.fixture
def signs_in(paths, emulator_factory, sqlite_db, monkeypatch) -> Any:
    """An emulator that wants a user name and password; the demo connection names the user, its
    password is not stored anywhere (it is typed into the form)."""
    emu = emulator_factory(rows=5, auth=True)
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    text = demo_toml("x", sqlite_db).replace("URL=x;Authentication=none;", emu.connection_string())
    (paths.connections / f"{DEMO_SLUG}.toml").write_text(text, encoding="utf-8")
    make_accounts_table(sqlite_db)
    return emu


async def type_then(pilot: Any, text: str, key: str) -> None:
    """Type ``text`` into Data Entity 1's Password field, then press ``key``: all the keys sent
    at once, as a terminal delivers a burst (Pilot's ``press`` waits after each key)."""
    app = pilot.app
    await pilot.press("alt+2")
    app.query_one("#entity1-form #password").focus()
    await pilot.pause()
    for name, char in [(c, c) for c in text] + [(key, None)]:
        event = events.Key(name, char)
        event.set_sender(app)
        app._driver.send_message(event)
    await pilot.pause()


@pytest.mark.parametrize("key", ["f2", "f3", "f5", "f6"])
async def test_an_action_pressed_right_after_typing_uses_the_whole_password(
        make_app, signs_in, sqlite_db, key) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await type_then(pilot, signs_in.password, key)
        await app.workers.wait_for_complete()
        await pilot.pause()
        if key == "f2":
            hint = str(app.query_one("#entity1-form #f-connstr .field-hint").render())
            assert hint.startswith("✓"), hint
        elif key == "f3":
            assert isinstance(app.screen, PreviewScreen)
        elif key == "f5":
            assert sqlite_rows(sqlite_db) == 5
        else:
            await until(pilot, lambda: "Run now?" in " ".join(
                str(s.render()) for s in app.screen.query("Static")))


@pytest.mark.parametrize("start, key, field", [("#password", "tab", "#password-env"),
                                               ("#password-env", "shift+tab", "#password")])
async def test_keys_typed_right_after_tab_go_to_the_next_field(
        make_app, offline_demo_file, start, key, field) -> None:
    """Tab then letters in one burst: the letters reach the field Tab moved to, not the one it
    left (a variable name typed on after a password was appended to the password)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        form = app.query_one("#entity1-form")
        form.query_one(start).focus()
        await pilot.pause()
        for name, char in [("a", "a"), ("b", "b"), (key, None), ("x", "x"), ("y", "y")]:
            event = events.Key(name, char)
            event.set_sender(app)
            app._driver.send_message(event)
        await until(pilot, lambda: form.query_one(field, Input).value == "xy", 10)
        assert form.query_one(start, Input).value == "ab"


async def _burst(pilot: Any, keys: list[tuple[str, str | None]]) -> None:
    """Send ``keys`` at once, as a terminal delivers keys typed fast over SSH (one packet)."""
    for name, char in keys:
        event = events.Key(name, char)
        event.set_sender(pilot.app)
        pilot.app._driver.send_message(event)


async def _settled(pilot: Any) -> None:
    """Let the app handle every key sent (and what each edit sets off)."""
    for _ in range(5):
        await pilot.pause(0.1)


@pytest.mark.parametrize("field", ["#conn-title", "#max-delete"])
async def test_a_backspace_in_a_burst_deletes_where_it_was_typed_in_a_field(
        make_app, offline_demo_file, field) -> None:
    """Letters, backspace, letters in one burst: the backspace deletes the letter typed just
    before it, not one typed after it (Textual runs a field's own keys only once they have
    gone up to the app, and the letters after them were typed first)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        form = app.query_one("#connection-form")
        box = form.query_one(field, Input)
        box.focus()
        box.value = ""
        await pilot.pause()
        await _burst(pilot, [("a", "a"), ("b", "b"), ("backspace", None), ("c", "c"),
                             ("left", None), ("x", "x"), ("d", "d")])
        await _settled(pilot)
        assert box.value == "axdc"


async def test_a_backspace_in_a_burst_deletes_where_it_was_typed_in_the_select(
        make_app, offline_demo_file) -> None:
    """The select statement's editor keeps a burst's order too (backspace and arrows)."""
    from textual.widgets import TextArea

    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        area = app.query_one("#entity2-form #select", TextArea)
        area.text = ""
        area.focus()
        await pilot.pause()
        keys = [(c, c) for c in "accxy"] + [("backspace", None), ("backspace", None)]
        keys += [(c, c) for c in "ounts"] + [("home", None), ("x", "x")]
        await _burst(pilot, keys)
        await _settled(pilot)
        assert area.text == "xaccounts"


async def test_a_page_key_typed_before_the_app_has_started_shows_its_page(
        make_app, offline_demo_file) -> None:
    """Alt+4 typed at once after ``l2tui NAME`` (a slow SSH link delivers it before the first
    frame): the connection opens in on_mount, before any key is handled, so the key is not
    dropped as one typed with nothing open would be."""
    app = make_app(auto_describe=False)
    app.post_message(events.Key("alt+4", None))  # queued before the app runs
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#pages").active == "mappings")


@pytest.mark.parametrize("size", [(80, 24), SIZE])
async def test_two_page_keys_in_a_burst_end_on_the_second_page(
        make_app, offline_demo_file, size) -> None:
    """Alt+2 then alt+3 at once: the second page is shown with its first field focused. The
    first page's deferred focus (kept at the top of its page) took the focus back and showed
    the first page again; the Connection page shown as the app opens (80x24) did the same to
    a page key typed right after."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=size) as pilot:
        await _settled(pilot)
        await _burst(pilot, [("alt+2", None), ("alt+3", None)])
        await _settled(pilot)
        assert app.query_one("#pages").active == "entity2"
        assert app.focused is app.query_one("#entity2-form #title")
