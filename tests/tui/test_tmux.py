"""The real ``l2tui`` in a tmux terminal, walked through the seed's steps as a person would."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.tui.conftest import make_accounts_table, needs_runner, sqlite_rows

pytestmark = [needs_runner, pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux")]
REPO = Path(__file__).resolve().parents[2]


class Terminal:
    """One tmux server running one program; keys in, screen text out."""

    def __init__(self, command: str, width: int = 100, height: int = 30) -> None:
        self.socket = f"l2tui-test-{uuid.uuid4().hex[:8]}"
        self._tmux("new-session", "-d", "-s", "app", "-x", str(width), "-y", str(height), command)

    def _tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                             timeout=10, check=False)
        return out.stdout

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name (C-n, Enter, Tab, F5)."""
        for key in keys:
            self._tmux("send-keys", "-t", "app", key)
            time.sleep(0.15)

    def type(self, text: str) -> None:
        """Type text one key at a time, as a person does (a burst can outrun a focus change)."""
        time.sleep(0.2)
        for char in text:
            # a lone ';' is tmux's command separator: escape it
            self._tmux("send-keys", "-t", "app", "-l", "\\;" if char == ";" else char)
            time.sleep(0.01)
        time.sleep(0.2)

    def screen(self) -> str:
        """The screen as a person sees it."""
        return self._tmux("capture-pane", "-p", "-t", "app")

    def wait_for(self, text: str, timeout: float = 20.0) -> str:
        """Poll the screen until ``text`` shows."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            screen = self.screen()
            if text in screen:
                return screen
            time.sleep(0.1)
        raise AssertionError(f"{text!r} did not appear; the screen:\n{self.screen()}")

    def kill(self) -> None:
        """Stop the tmux server (and the program in it)."""
        self._tmux("kill-server")


@pytest.fixture
def terminal(isolated_dirs: dict[str, Path]) -> Iterator[Terminal]:
    """The real l2tui in a 100×30 tmux terminal, on this test's folders."""
    env = (f"env -u COLUMNS -u LINES L2TUI_CONFIG_DIR={isolated_dirs['config']} L2TUI_DATA_DIR={isolated_dirs['data']} "
           f"L2TUI_TEST_KEYRING={isolated_dirs['keyring']} PYTHONPATH={REPO} "
           f"PYTHON_KEYRING_BACKEND={os.environ.get('PYTHON_KEYRING_BACKEND', '')} "
           "TERM=xterm-256color")
    term = Terminal(f"{env} {sys.executable} -m l2tui")
    try:
        yield term
    finally:
        term.kill()


def go_to(term: Terminal, page: str) -> None:
    """Open a page through the command palette."""
    term.keys("C-p")
    term.wait_for("Search for commands")
    term.type(f"go to {page}")
    term.wait_for(f"Go to {page}")
    term.keys("Enter")
    time.sleep(0.3)


def fill_entity(term: Terminal, title: str, provider: str, connstr: str, select: str, key: str) -> None:
    """Title, provider (typed to search), connection string, select and key, tabbing through."""
    term.type(title)
    term.keys("Tab", "Enter")
    term.keys(*provider)  # one key at a time, as a person types into the open list
    term.keys("Enter", "Tab")
    term.type(connstr)
    term.keys("Tab", "Tab", "Tab", "Tab", "Tab")  # Verify, Preview, Password, Password variable
    term.type(select)
    term.keys("Tab")
    term.type(key)


def test_a_person_creates_maps_saves_and_runs_a_connection(terminal: Terminal, emulator, tmp_path) -> None:
    db = tmp_path / "crm.db"
    make_accounts_table(db)
    terminal.wait_for("Connections")
    terminal.keys("C-n")
    terminal.wait_for("created new-connection.toml")
    terminal.type("CRM accounts to SQLite")
    go_to(terminal, "Data Entity 1")
    fill_entity(terminal, "Dynamics accounts", "odata", emulator.connection_string("accounts"),
                "$select=accountid,name,accountnumber,revenue", "accountid")
    go_to(terminal, "Data Entity 2")
    fill_entity(terminal, "SQLite accounts", "sqlite", f"Data Source={db};", "accounts", "accountid")
    terminal.keys("C-s")
    terminal.wait_for("saved crm-accounts-to-sqlite.toml")
    saved = (Path(os.environ["L2TUI_CONFIG_DIR"]) / "crm-accounts-to-sqlite.toml").read_text()
    assert 'provider = "odata"' in saved and 'provider = "sqlite"' in saved, saved
    go_to(terminal, "Mappings")
    terminal.wait_for("★")
    terminal.keys("F5")
    terminal.wait_for("success", timeout=60)
    assert sqlite_rows(db) == 50
