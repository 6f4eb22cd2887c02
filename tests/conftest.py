"""Shared fixtures: isolated folders, a test keyring, the Dynamics emulator, PostgreSQL, the CLI."""

from __future__ import annotations

import fcntl
import gc
import os
import pty
import select
import signal
import socket
import struct
import subprocess
import sys
import termios
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parent.parent

# Secrets go to a file-backed test keyring (this machine has no OS keyring service); the
# backend is importable by CLI subprocesses through PYTHONPATH (see run_cli).
os.environ["PYTHON_KEYRING_BACKEND"] = "tests.support.keyring_backend.FileKeyring"
# The machine's CA-bundle variables override `verify=` in requests; tests bring their own.
for _name in ("REQUESTS_CA_BUNDLE", "CURL_CA_BUNDLE"):
    os.environ.pop(_name, None)
# A signal ignored here is ignored by every process the tests start (an ignored disposition
# outlives exec): started by `nohup`, or as a background job of a script, the tests of Ctrl-C,
# SIGHUP and SIGTERM would see l2tui ignore them, as it rightly does when so started.
for _signal in (signal.SIGINT, signal.SIGHUP, signal.SIGTERM):
    if signal.getsignal(_signal) == signal.SIG_IGN:
        signal.signal(_signal, signal.SIG_DFL)


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    """Collect the garbage once, then freeze what is left: pytest's own cleanup then collects
    five more times, each a full pass over a test process's heap (~0.5 s after the TUI tests
    alone), and pytest-xdist interrupts a worker not done 5 s after it is told to stop (a
    KeyboardInterrupt inside a garbage collection, reported as an unraisable exception)."""
    gc.collect()
    gc.freeze()


@pytest.fixture(autouse=True)
def isolated_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, Path]:
    """Every test gets its own config, data and keyring: a developer's files never leak in."""
    dirs = {
        "config": tmp_path / "config",
        "data": tmp_path / "data",
        "keyring": tmp_path / "keyring.json",
    }
    monkeypatch.setenv("L2TUI_CONFIG_DIR", str(dirs["config"]))
    monkeypatch.setenv("L2TUI_DATA_DIR", str(dirs["data"]))
    monkeypatch.setenv("L2TUI_TEST_KEYRING", str(dirs["keyring"]))
    monkeypatch.delenv("L2TUI_AUTHORITY_REWRITE", raising=False)
    return dirs


@pytest.fixture
def open_umask() -> Iterator[None]:
    """This process's umask 000 for the test (files and folders made as asked, nothing taken
    away), then as it was."""
    old = os.umask(0)
    try:
        yield
    finally:
        os.umask(old)


@pytest.fixture
def config_dir(isolated_dirs: dict[str, Path]) -> Path:
    """The (empty) connection folder of this test."""
    return isolated_dirs["config"]


@pytest.fixture
def emulator() -> Iterator[Any]:
    """A Dynamics 365 emulator on 127.0.0.1 with 50 accounts, no sign-in required."""
    from l2tui.emulator import Emulator

    with Emulator(rows=50, seed=1, auth=False) as emu:
        yield emu


@pytest.fixture
def emulator_factory() -> Iterator[Callable[..., Any]]:
    """Start emulators with chosen options; all are stopped after the test."""
    from l2tui.emulator import Emulator

    started: list[Any] = []

    def start(**options: Any) -> Any:
        emu = Emulator(**{"seed": 1, **options})
        emu.__enter__()
        started.append(emu)
        return emu

    yield start
    for emu in reversed(started):
        emu.__exit__(None, None, None)


def postgresql_url() -> str:
    """The throwaway PostgreSQL that scripts/test starts (a SQLAlchemy URL); without one the
    test is skipped (failed on CI)."""
    url = os.environ.get("L2TUI_TEST_PG_URL")
    if not url:
        if os.environ.get("CI"):
            pytest.fail("L2TUI_TEST_PG_URL is not set: run the tests with scripts/test")
        pytest.skip("no PostgreSQL: run the tests with scripts/test")
    return url


@pytest.fixture(scope="session")
def pg_url() -> str:
    """The throwaway PostgreSQL that scripts/test starts (``postgresql_url``)."""
    return postgresql_url()


CliRunner = Callable[..., subprocess.CompletedProcess[str]]


@pytest.fixture
def run_cli(isolated_dirs: dict[str, Path]) -> CliRunner:
    """Run the real ``l2tui`` command line in a subprocess; returns the completed process."""

    def run(*args: str, input: str | None = None, env: dict[str, str] | None = None,
            timeout: float = 60) -> subprocess.CompletedProcess[str]:
        full_env = {**os.environ, "PYTHONPATH": str(REPO), **(env or {})}
        return subprocess.run(
            [sys.executable, "-m", "l2tui", *args],
            capture_output=True, text=True, input=input, env=full_env, timeout=timeout,
            cwd=str(REPO),
        )

    return run


TerminalRunner = Callable[..., tuple[int, str]]


@pytest.fixture
def run_on_terminal(isolated_dirs: dict[str, Path]) -> TerminalRunner:
    """Run the real ``l2tui`` on a pseudo-terminal (its stdin, stdout and stderr), typing each of
    ``answers`` when a ``[y/N]`` (or ``[Y/n]``) question shows; returns the exit code and everything shown.
    ``columns``: the terminal's width (else none is set)."""

    def run(*args: str, answers: Sequence[str] = (), timeout: float = 60,
            columns: int | None = None) -> tuple[int, str]:
        main, child = pty.openpty()
        if columns is not None:
            fcntl.ioctl(child, termios.TIOCSWINSZ, struct.pack("HHHH", 24, columns, 0, 0))
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        if columns is not None:  # (the terminal's size, not a COLUMNS the test session was given)
            for name in ("COLUMNS", "LINES"):
                env.pop(name, None)
        proc = subprocess.Popen([sys.executable, "-m", "l2tui", *args], stdin=child,
                                stdout=child, stderr=child, cwd=str(REPO), env=env)
        os.close(child)
        shown, pending, asked = b"", list(answers), 0
        deadline = time.monotonic() + timeout
        try:
            while time.monotonic() < deadline:
                if select.select([main], [], [], 0.1)[0]:
                    try:
                        chunk = os.read(main, 4096)
                    except OSError:  # the program closed its terminal
                        break
                    if not chunk:
                        break
                    shown += chunk
                    if pending and shown.count(b"[y/N]") + shown.count(b"[Y/n]") > asked:
                        asked += 1
                        os.write(main, pending.pop(0).encode() + b"\n")
                elif proc.poll() is not None:
                    break
            else:
                raise AssertionError(f"l2tui {' '.join(args)} still running; it showed:\n"
                                     f"{shown.decode(errors='replace')}")
            return proc.wait(timeout=10), shown.decode(errors="replace")
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            os.close(main)

    return run


@pytest.fixture
def silent_port() -> Iterator[int]:
    """A port on 127.0.0.1 that takes no connection and refuses none, as a host out of reach:
    it listens but never accepts, its queue filled first, so a connection to it waits until its
    connect timeout."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(0)
    port = server.getsockname()[1]
    fillers = []
    for _ in range(3):  # (the queue holds one: the rest wait, and so will the next)
        filler = socket.socket()
        filler.setblocking(False)
        filler.connect_ex(("127.0.0.1", port))
        fillers.append(filler)
    try:
        yield port
    finally:
        for sock in (*fillers, server):
            sock.close()
