"""A connection running: its run shows on its own Run page alone, it is neither deleted nor
renamed until the run has ended, and SIGTERM or SIGHUP cancel it as Quit does."""

from __future__ import annotations

import contextlib
import fcntl
import os
import signal
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from l2tui.config.store import ConnectionStore
from l2tui.paths import Paths
from l2tui.runner import Runner
from l2tui.sync.events import LogLine, Progress, RunReport
from l2tui.sync.state import StateStore
from l2tui.tui import messages
from l2tui.tui.screens.confirm import ConfirmScreen
from l2tui.tui.widgets.connection_list import ConnectionList
from tests.tui.conftest import DEMO_SLUG, DEMO_TITLE, demo_toml, until

SIZE = (120, 40)
OTHER = "Other connection"
HOLD_AT_MOST = 20.0  # seconds


class HeldRun:
    """Stands for ``jobs.run``: reports some progress, then holds until let go (or cancelled),
    so that a test does what it likes while the run goes."""

    def __init__(self) -> None:
        self.go = threading.Event()
        self.steps = 0  # progress reported so far
        self.ended: str | None = None  # how it ended: success, or cancelled

    def __call__(self, conn: Any, paths: Paths, bridge: Any, cancel: threading.Event, *,
                 dry_run: bool, force: bool, prompts: Any) -> RunReport:
        started = time.time()
        bridge.post(messages.RunEvent(LogLine(message="held here")))
        deadline = time.monotonic() + HOLD_AT_MOST  # (a test that failed never lets it go)
        while not self.go.wait(0.02) and not cancel.is_set() and time.monotonic() < deadline:
            self.steps += 1
            bridge.post(messages.RunProgress(Progress(phase="read left", done=self.steps)))
        self.ended = "cancelled" if cancel.is_set() else "success"
        report = RunReport(connection=conn.title, outcome=self.ended, started=started,
                           finished=time.time())
        bridge.post(messages.RunDone(report, dry_run))
        return report


@pytest.fixture
def held(monkeypatch: pytest.MonkeyPatch) -> HeldRun:
    """Run Now runs a HeldRun."""
    run = HeldRun()
    monkeypatch.setattr("l2tui.tui.jobs.run", run)
    return run


@pytest.fixture
def other_file(paths: Paths, offline_demo_file: Path) -> Path:
    """A second connection, listed after the demo."""
    path = paths.connections / "other.toml"
    text = demo_toml("http://127.0.0.1:9/api/data/v9.2/accounts", Path("/srv/other.db"))
    path.write_text(text.replace(f'title = "{DEMO_TITLE}"', f'title = "{OTHER}"', 1),
                    encoding="utf-8")
    return path


def _phase(app: Any) -> str:
    return str(app.query_one("#run-phase").render())


def _log(app: Any) -> list[str]:
    return list(app.query_one("#run-log").texts)


async def _pick(pilot: Any, app: Any, key: str, title: str) -> None:
    """Move the list's highlight (up or down) to open another connection."""
    app.query_one(ConnectionList).focus()
    await pilot.press(key)
    await until(pilot, lambda: app.current is not None and app.current.title == title)


async def _running_then_other(pilot: Any, app: Any) -> None:
    """Run Now on the demo, then open the other connection's Run page."""
    await pilot.press("f5")
    await until(pilot, lambda: "held here" in _log(app))
    await _pick(pilot, app, "down", OTHER)
    await pilot.press("alt+5")


async def _ended(pilot: Any, app: Any, held: HeldRun) -> None:
    """Let the run end, and wait until the app has seen it end."""
    held.go.set()
    await until(pilot, lambda: not app.running)


async def test_another_connections_run_page_does_not_show_the_run(make_app, other_file,
                                                                  held) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _running_then_other(pilot, app)
        steps = held.steps
        await until(pilot, lambda: held.steps > steps + 5)  # (progress came meanwhile)
        await pilot.pause()
        assert _phase(app) == "not running" and _log(app) == []
        assert app.query_one("#run-cancel").disabled
        await _ended(pilot, app, held)


async def test_run_now_on_another_connection_says_which_one_is_running(make_app, other_file,
                                                                       held) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _running_then_other(pilot, app)
        await pilot.press("f5")
        await until(pilot, lambda: any("is in progress" in n.message for n in app._notifications),
                    timeout=5)
        [notice] = [n.message for n in app._notifications if "is in progress" in n.message]
        assert f"a run of '{DEMO_TITLE}' is in progress" in notice
        await _ended(pilot, app, held)


async def test_the_running_connection_shows_its_run_again_when_opened_again(
        make_app, other_file, held) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _running_then_other(pilot, app)
        await _pick(pilot, app, "up", DEMO_TITLE)
        await pilot.pause()
        assert _phase(app).startswith("read left: ") and "held here" in _log(app)
        assert not app.query_one("#run-cancel").disabled
        await _ended(pilot, app, held)


async def test_a_run_that_ends_while_another_connection_is_open_shows_its_end_there_later(
        make_app, other_file, held) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _running_then_other(pilot, app)
        await _ended(pilot, app, held)
        assert _phase(app) == "not running"  # (the other connection's page)
        await _pick(pilot, app, "up", DEMO_TITLE)
        await pilot.pause()
        assert _phase(app).startswith("success") and "held here" in _log(app)


@contextlib.contextmanager
def run_elsewhere(paths: Paths) -> Iterator[None]:
    """The demo's lock held as ``l2tui run`` holds it in another process (PID 4242), with the
    sync state and history that run writes."""
    state = StateStore(paths.state_db(DEMO_SLUG))
    state.start_run()
    state.close()
    lock = Runner(paths).lock_path(ConnectionStore(paths.connections).load(DEMO_SLUG))
    fd = os.open(lock, os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242", 0)
        yield
    finally:
        os.close(fd)


def _notice(app: Any, title: str) -> str | None:
    return next((n.message for n in app._notifications if n.title == title), None)


async def test_delete_is_refused_while_the_connection_runs_here(make_app, offline_demo_file,
                                                                held) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: "held here" in _log(app))
        await pilot.press("f8")
        await until(pilot, lambda: _notice(app, "Not deleted") is not None, timeout=5)
        assert "is running (in this app)" in str(_notice(app, "Not deleted"))
        assert not isinstance(app.screen, ConfirmScreen) and offline_demo_file.exists()
        await _ended(pilot, app, held)


async def test_delete_is_refused_while_another_process_runs_the_connection(
        make_app, offline_demo_file, paths) -> None:
    app = make_app()
    with run_elsewhere(paths):
        async with app.run_test(size=SIZE) as pilot:
            await pilot.press("f8")
            await until(pilot, lambda: _notice(app, "Not deleted") is not None, timeout=5)
            assert "is running (PID 4242)" in str(_notice(app, "Not deleted"))
            assert not isinstance(app.screen, ConfirmScreen)
    assert offline_demo_file.exists() and paths.state_db(DEMO_SLUG).exists()


async def test_a_delete_confirmed_after_a_run_began_is_refused(make_app, offline_demo_file,
                                                               paths) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        with run_elsewhere(paths):
            await pilot.click("#yes")
            await until(pilot, lambda: _notice(app, "Not deleted") is not None, timeout=5)
    assert offline_demo_file.exists() and paths.state_db(DEMO_SLUG).exists()


async def test_a_new_title_is_not_saved_while_the_connection_runs(make_app, offline_demo_file,
                                                                  paths) -> None:
    app = make_app()
    with run_elsewhere(paths):
        async with app.run_test(size=SIZE) as pilot:
            app.query_one("#conn-title").value = "Renamed while running"
            await until(pilot, lambda: app.workspace.dirty)
            await pilot.press("ctrl+s")
            await until(pilot, lambda: _notice(app, "Not saved: it is running"), timeout=5)
            assert app.workspace.dirty
    assert offline_demo_file.exists() and DEMO_TITLE in offline_demo_file.read_text()
    assert not (paths.connections / "renamed-while-running.toml").exists()


@pytest.fixture
def signals_noted() -> Iterator[list[int]]:
    """SIGTERM and SIGHUP sent to this process are noted here, unless the app catches them (so
    that one it does not catch fails the test rather than end the test run)."""
    noted: list[int] = []
    before = {s: signal.signal(s, lambda signum, _frame: noted.append(signum))
              for s in (signal.SIGTERM, signal.SIGHUP)}
    yield noted
    for signum, handler in before.items():
        signal.signal(signum, handler)


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["TERM", "HUP"])
async def test_a_signal_during_a_run_cancels_it_and_closes_the_app(
        make_app, offline_demo_file, held, signals_noted, signum) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: "held here" in _log(app))
        os.kill(os.getpid(), signum)
        await until(pilot, lambda: app.return_code is not None, timeout=5)
    deadline = time.monotonic() + 5
    while held.ended is None and time.monotonic() < deadline:
        time.sleep(0.02)
    assert (app.return_code, held.ended, signals_noted) == (0, "cancelled", [])



async def test_a_run_log_past_its_limit_still_points_to_the_log_file_when_opened_again(
        make_app, other_file, held) -> None:
    from l2tui.tui.widgets.run_panel import LOG_LINES, RunPanel

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: "held here" in _log(app))
        for n in range(LOG_LINES + 10):
            app.query_one(RunPanel).add(f"error on the right for [{n}]")
        await _pick(pilot, app, "down", OTHER)
        await _pick(pilot, app, "up", DEMO_TITLE)
        await pilot.press("alt+5")
        await pilot.pause()
        assert "log file" in str(app.query_one("#run-log").border_title)
        await _ended(pilot, app, held)
