"""Device-code sign-in: the URL and code are shown while the sign-in waits, then the work goes on."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

import pytest

from l2tui.tui.screens.device_code import DeviceCodeScreen
from l2tui.tui.widgets.fields import Field
from tests.tui.conftest import DEMO_SLUG, demo_toml, until

SIZE = (120, 40)


@pytest.fixture
def signing_in(paths, emulator_factory, sqlite_db, monkeypatch) -> Any:
    """An emulator that requires sign-in, and the demo connection signing in with a device code."""
    emu = emulator_factory(rows=5, auth=True)
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    connstr = f"{emu.url('accounts')};Authentication=device_code;Authority={emu.authority}"
    text = demo_toml("x", sqlite_db).replace("URL=x;Authentication=none;", f"URL={connstr};")
    (paths.connections / f"{DEMO_SLUG}.toml").write_text(text, encoding="utf-8")
    return emu


@asynccontextmanager
async def waiting_sign_in(app: Any, pilot: Any, emu: Any) -> AsyncIterator[None]:
    """Verify Data Entity 1 until its device-code dialog shows; approve whatever still waits after.

    A sign-in left waiting would hold the worker thread, and with it the app's exit.
    """
    await pilot.press("alt+2", "f2")
    try:
        await until(pilot, lambda: isinstance(app.screen, DeviceCodeScreen))
        yield
    finally:
        for code in emu.idp.pending_device_codes():
            emu.idp.approve_device_code(code)
        await app.workers.wait_for_complete()


async def test_the_device_code_dialog_shows_the_url_and_code_while_the_sign_in_waits(
        make_app, signing_in) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot, waiting_sign_in(app, pilot, signing_in):
        [code] = signing_in.idp.pending_device_codes()
        assert str(app.screen.query_one("#device-code").render()) == code
        body = " ".join(str(s.render()) for s in app.screen.query(".dialog-body"))
        assert "https://login.fake.test/devicelogin" in body


async def test_the_dialog_closes_and_verify_succeeds_once_the_code_is_approved(
        make_app, signing_in) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        async with waiting_sign_in(app, pilot, signing_in):
            signing_in.idp.approve_device_code(signing_in.idp.pending_device_codes()[0])
        await until(pilot, lambda: not isinstance(app.screen, DeviceCodeScreen))
        hint = str(app.query_one("#entity1-form #f-connstr .field-hint").render())
        assert hint.startswith("✓"), hint
        assert app.query_one("#entity1-form #f-connstr", Field).problem is None


@pytest.fixture
def user_sign_in(paths, emulator_factory, sqlite_db, monkeypatch) -> Any:
    """The guide's connection: Data Entity 1 signs in as a user (User=, no password given yet)."""
    emu = emulator_factory(rows=5, auth=True)
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    connstr = (f"{emu.url('accounts')};Authentication=microsoft_modern_crm;"
               f"User={emu.username};Authority={emu.authority}")
    text = demo_toml("x", sqlite_db).replace("URL=x;Authentication=none;", f"URL={connstr};")
    (paths.connections / f"{DEMO_SLUG}.toml").write_text(text, encoding="utf-8")
    return emu


async def test_verify_without_a_password_points_at_the_password_field(make_app, user_sign_in) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "f2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        hint = str(app.query_one("#entity1-form #f-connstr .field-hint").render())
        assert hint.startswith("✗ no password for alice@contoso.com"), hint
        assert "type it into Password on the Data Entity 1 page" in hint
        assert "run on a terminal" not in hint


async def test_run_now_without_a_password_points_at_the_password_field(make_app, user_sign_in) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        said = " ".join(n.message for n in app._notifications)
        assert "type it into Password on the Data Entity 1 page" in said, said
        assert "run on a terminal" not in said


async def test_a_password_typed_after_a_failed_verify_clears_its_no_password_result(
        make_app, user_sign_in) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "f2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        connstr = app.query_one("#entity1-form #f-connstr", Field)
        assert connstr.shown.startswith("✗ no password"), connstr.shown
        app.query_one("#entity1-form #password").focus()
        await pilot.press(*"Passw0rd!")
        await pilot.pause()
        assert "no password" not in connstr.shown, connstr.shown
