"""The Actions pane's buttons are enabled only when they can act (at 120×40 and 80×24)."""

from __future__ import annotations

import pytest
from textual.widgets import Button

from l2tui.tui.widgets.actions import ACTIONS
from tests.tui.conftest import until

SIZES = ((120, 40), (80, 24))
NEED_A_CONNECTION = {"act-save", "act-verify", "act-preview", "act-run", "act-dry-run", "act-schedule",
                     "act-duplicate", "act-delete"}


def _enabled(app) -> set[str]:
    """The ids of the Actions pane's enabled buttons."""
    return {button_id for button_id, _, _ in ACTIONS
            if not app.query_one(f"#{button_id}", Button).disabled}


async def _show_actions(pilot, app) -> None:
    """Bring the Actions pane back where it folds away (80×24: F10)."""
    if app.screen.has_class("-narrow"):
        await pilot.press("f10")
    await until(pilot, lambda: app.query_one("#actions-pane").region.width > 0)


sizes = pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")


@sizes
async def test_with_no_connection_open_only_create_new_connection_is_enabled(
        make_app, size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await _show_actions(pilot, app)
        assert app.current is None
        assert _enabled(app) == {"act-new"}


@sizes
async def test_opening_a_connection_enables_the_buttons_that_need_one(
        make_app, size: tuple[int, int]) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await _show_actions(pilot, app)
        await pilot.click("#act-new")
        await until(pilot, lambda: app.current is not None)
        assert _enabled(app) == {"act-new"} | NEED_A_CONNECTION


async def test_with_a_broken_file_highlighted_only_create_and_delete_are_enabled(
        make_app, offline_demo_file, paths) -> None:
    (paths.connections / "broken.toml").write_text("title = \n")
    app = make_app()
    async with app.run_test(size=SIZES[0]) as pilot:
        app.query_one("#connections").focus()
        await pilot.press("home")
        await until(pilot, lambda: app.current is None)
        assert _enabled(app) == {"act-new", "act-delete"}


async def test_tab_goes_through_the_actions_buttons_without_stopping_on_the_pane(
        make_app, offline_demo_file) -> None:
    from l2tui.tui.widgets.actions import ActionsPane

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        chain = app.screen.focus_chain
        assert not any(isinstance(widget, ActionsPane) for widget in chain)
        assert any(getattr(widget, "id", None) == "act-run" for widget in chain)
