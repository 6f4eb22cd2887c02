"""A run's sign-in as the run sees it: asked to stop while it waits on a person."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from l2tui.errors import ConnectError
from l2tui.runner import Runner
from tests.sync.support import make_pair, sqlite_url


def test_a_stop_while_a_device_code_sign_in_waits_for_its_code_cancels_the_run_at_once(
        emulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or systemd's SIGTERM) while the code shown waits to be entered: the run ends as
    cancelled within moments, not once the code expires 15 minutes later."""
    emu = emulator_factory(rows=5, auth=True)
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.connection_string = (f"URL={emu.url('accounts')};"
                                           f"Authentication=device_code;Authority={emu.authority};")
    cancel = threading.Event()
    shown: list[str] = []

    def show(flow: dict[str, Any]) -> None:
        shown.append(flow["user_code"])
        threading.Timer(0.5, cancel.set).start()  # the person presses Ctrl-C instead

    started = time.monotonic()
    report = Runner(pair.paths).run(pair.conn, cancel=cancel, device_code=show)
    assert time.monotonic() - started < 10
    assert report.outcome == "cancelled", (report.outcome, report.message)
    assert len(shown) == 1, shown  # no new code for each request that was waiting on it


def test_a_device_code_left_to_expire_fails_the_run_without_showing_another_code(
        emulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody entered the code: the run fails with the identity provider's word (exit 3), not
    with a new code for each request that had waited on the sign-in (15 minutes more each)."""
    emu = emulator_factory(rows=5, auth=True)
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.connection_string = (f"URL={emu.url('accounts')};"
                                           f"Authentication=device_code;Authority={emu.authority};")
    shown: list[str] = []

    def show(flow: dict[str, Any]) -> None:
        shown.append(flow["user_code"])
        emu.idp.clock = lambda: time.time() + 3600  # the code's 15 minutes are over

    with pytest.raises(ConnectError, match="This device code has expired"):
        Runner(pair.paths).run(pair.conn, device_code=show)
    assert len(shown) == 1, shown
