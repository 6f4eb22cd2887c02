"""The real ``l2tui`` in a tmux terminal, walked through the seed's steps as a person would.

Every step waits for what the screen must show next (polling, with generous bounds for a loaded
machine) instead of sleeping: keys are sent only once the app shows it is ready for them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import signal
import subprocess
import sys
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.tui.conftest import make_accounts_table, needs_runner, sqlite_rows

pytestmark = [needs_runner, pytest.mark.skipif(shutil.which("tmux") is None, reason="no tmux")]
REPO = Path(__file__).resolve().parents[2]
WAIT = 45.0  # seconds a screen state may take to show on a loaded machine
POLL = 0.2
BORDER = re.compile(r"\x1b\[7m\x1b\[38;5;(\d+)m▊")  # a field's left border, and its colour
STYLE = re.compile(r"\x1b\[[0-9;]*m")
PROVIDERS = ("Data Provider for OData", "Data Provider for SQL Server",
             "Data Provider for PostgreSQL", "Data Provider for MySQL", "Data Provider for SQLite")


class Terminal:
    """One tmux server running one program; keys in, screen text out."""

    def __init__(self, command: str, width: int = 100, height: int = 30) -> None:
        self.socket = f"l2tui-test-{uuid.uuid4().hex[:8]}"
        self._tmux("new-session", "-d", "-s", "app", "-x", str(width), "-y", str(height), command)
        self.pid = int(self.pane("display", "-p", "#{pane_pid}") or 0)  # the program's

    def _tmux(self, *args: str) -> str:
        out = subprocess.run(["tmux", "-L", self.socket, *args], capture_output=True, text=True,
                             timeout=20, check=False)
        return out.stdout

    def pane(self, *args: str) -> str:
        """A tmux command on the app's pane (``display -p FORMAT``: its answer, one line)."""
        return self._tmux(*args[:1], "-t", "app", *args[1:]).strip()

    def keys(self, *keys: str) -> None:
        """Press keys by tmux name (C-n, Enter, Tab, F5), in order."""
        for key in keys:
            self._tmux("send-keys", "-t", "app", key)

    def type(self, text: str) -> None:
        """Type text into the focused field (tmux takes a trailing ';' escaped)."""
        for chunk in text.replace(";", ";\0").split("\0"):
            if chunk:
                literal = chunk[:-1] + "\\;" if chunk.endswith(";") else chunk
                self._tmux("send-keys", "-t", "app", "-l", literal)

    def screen(self) -> str:
        """The screen as a person sees it."""
        return self._tmux("capture-pane", "-p", "-t", "app")

    def focused(self) -> str:
        """The text of the field that has the focus: the lines whose border has the odd colour
        (the colour of most fields, counted as runs of lines, is the blurred one: a tall focused
        field may have more lines than the others together)."""
        lines = self._tmux("capture-pane", "-p", "-e", "-t", "app").splitlines()
        borders = [(m.group(1) if (m := BORDER.search(line)) else None, line) for line in lines]
        if not any(colour for colour, _ in borders):
            return ""
        runs = Counter(colour for i, (colour, _) in enumerate(borders)
                       if colour and (i == 0 or borders[i - 1][0] != colour))
        blurred = runs.most_common(1)[0][0]
        return "\n".join(STYLE.sub("", line) for colour, line in borders
                         if colour and colour != blurred)

    def wait_for_focus(self, text: str, timeout: float = WAIT) -> None:
        """Poll until the focused field shows ``text`` (the app moves focus after a refresh)."""
        deadline = time.monotonic() + timeout
        while text not in (focused := self.focused()):
            if time.monotonic() > deadline:
                raise AssertionError(f"the focus did not reach {text!r}; it is on:\n{focused}\n"
                                     f"the screen:\n{self.screen()}")
            time.sleep(POLL)

    def wait_until(self, shown: Callable[[str], bool], what: str, timeout: float = WAIT) -> str:
        """Poll the screen until ``shown(screen)`` holds; fail (never hang) after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            screen = self.screen()
            if shown(screen):
                return screen
            if time.monotonic() > deadline:
                raise AssertionError(f"{what}: not shown in {timeout:.0f}s; the screen:\n{screen}")
            time.sleep(POLL)

    def wait_for(self, text: str, timeout: float = WAIT) -> str:
        """Poll the screen until ``text`` shows."""
        return self.wait_until(lambda s: text in s, repr(text), timeout)

    def kill(self) -> None:
        """Stop the tmux server, and the program in it: the hang-up closes l2tui, but Textual
        8.2's shutdown can wait for ever on its output thread once the terminal is gone (a
        known defect, left in the session note); a test leaves no process behind."""
        self._tmux("kill-server")
        deadline = time.monotonic() + 5
        while self.pid and time.monotonic() < deadline:
            try:
                os.kill(self.pid, 0)
            except ProcessLookupError:
                return
            time.sleep(POLL)
        with contextlib.suppress(ProcessLookupError):
            if self.pid:
                os.kill(self.pid, signal.SIGKILL)


def header(screen: str) -> str:
    """The title line (connection title, "●" while unsaved)."""
    return screen.splitlines()[0] if screen else ""


def l2tui_command(isolated_dirs: dict[str, Path]) -> str:
    """The shell command that opens the real l2tui on this test's folders."""
    env = (f"env -u COLUMNS -u LINES L2TUI_CONFIG_DIR={isolated_dirs['config']} "
           f"L2TUI_DATA_DIR={isolated_dirs['data']} L2TUI_TEST_KEYRING={isolated_dirs['keyring']} "
           f"PYTHONPATH={REPO} PYTHON_KEYRING_BACKEND={os.environ.get('PYTHON_KEYRING_BACKEND', '')} "
           "TERM=xterm-256color")
    return f"{env} {sys.executable} -m l2tui"


@pytest.fixture
def terminal(isolated_dirs: dict[str, Path]) -> Iterator[Terminal]:
    """The real l2tui in a 100×30 tmux terminal, on this test's folders."""
    term = Terminal(l2tui_command(isolated_dirs))
    try:
        yield term
    finally:
        term.kill()


def go_to(term: Terminal, page: str, shown: Callable[[str], bool]) -> None:
    """Open a page through the command palette; wait until the palette is gone and it shows."""
    term.keys("C-p")
    term.wait_for("Search for commands")
    term.type(f"go to {page.lower()}")
    term.wait_for(f"Go to {page}")
    term.keys("Enter")
    term.wait_until(lambda s: "Search for commands" not in s and shown(s), f"the {page} page")


def pick_provider(term: Terminal, provider: str, search: str) -> None:
    """Open the Data Provider list, type to search, choose; wait until the list closed on it."""
    term.keys("Enter")
    term.wait_until(lambda s: all(p in s for p in PROVIDERS), "the open provider list")
    term.keys(*search)  # one key at a time, as a person types into the open list
    term.keys("Enter")
    others = [p for p in PROVIDERS if p != provider]
    term.wait_until(lambda s: provider in s and not any(p in s for p in others),
                    f"{provider} chosen")
    term.wait_for_focus(provider)  # the list hands the focus back to the field after a refresh


def fill_entity(term: Terminal, index: int, title: str, provider: tuple[str, str], connstr: str, select: str,
                key: str) -> None:
    """Title, provider, connection string, select and key, tabbing through as a person does."""
    term.wait_for_focus(f"Data Entity {index}")  # the new entity's title, selected for typing over
    term.type(title)
    term.wait_for_focus(title)
    term.keys("Tab")
    pick_provider(term, *provider)
    term.keys("Tab")
    term.wait_until(lambda _s: "Data Provider for" not in term.focused(), "focus on the next field")
    term.type(connstr)
    term.wait_for_focus(connstr[-12:])
    # Verify, Preview, and Password, Password variable where the provider signs in (not SQLite)
    term.keys(*["Tab"] * (3 if provider[1] == "sqlite" else 5))
    term.wait_until(lambda _s: term.focused().count("\n") >= 4 and
                    connstr[-12:] not in term.focused(), "focus on the Select Statement")
    term.type(select)
    term.wait_for_focus(select[:12])
    term.keys("Tab")
    term.wait_for_focus("e.g. accountid")  # the empty Primary Key
    term.type(key)
    term.wait_for_focus(key)


def test_a_person_creates_maps_saves_and_runs_a_connection(terminal: Terminal, emulator, tmp_path) -> None:
    db = tmp_path / "crm.db"
    make_accounts_table(db)
    terminal.wait_for("No connections yet")  # the empty folder's hint
    terminal.keys("C-n")
    terminal.wait_until(lambda s: "New Connection" in header(s), "the new connection, opened")
    terminal.wait_for_focus("New Connection")  # its title, selected for typing over
    terminal.type("CRM accounts to SQLite")
    terminal.wait_until(lambda s: "CRM accounts to SQLite ●" in header(s), "the typed title")
    go_to(terminal, "Data Entity 1", lambda s: "Data Entity Title" in s)
    fill_entity(terminal, 1, "Dynamics accounts", ("Data Provider for OData", "odata"),
                emulator.connection_string("accounts"),
                "$select=accountid,name,accountnumber,revenue", "accountid")
    go_to(terminal, "Data Entity 2",
          lambda s: "Data Entity Title" in s and "Dynamics accounts" not in s)
    fill_entity(terminal, 2, "SQLite accounts", ("Data Provider for SQLite", "sqlite"),
                f"Data Source={db};", "accounts", "accountid")
    terminal.keys("C-s")
    screen = terminal.wait_until(lambda s: "Not saved" in s or ("CRM accounts to SQLite" in header(s)
                                                                and "●" not in header(s)),
                                 "the saved connection (no unsaved marker)")
    assert "Not saved" not in screen, screen
    saved = (Path(os.environ["L2TUI_CONFIG_DIR"]) / "crm-accounts-to-sqlite.toml").read_text()
    assert 'provider = "odata"' in saved and 'provider = "sqlite"' in saved, saved
    assert saved.count('primary_key = ["accountid"]') == 2, saved
    go_to(terminal, "Mappings", lambda s: "Enable Auto Mapping" in s)
    # the columns were described, and the match key's row shows its mark, not only the legend
    terminal.wait_until(lambda s: any("★" in line and "accountid" in line
                                      for line in s.splitlines()), "the match key's ★")
    terminal.keys("F5")
    terminal.wait_for("success", timeout=60)
    assert sqlite_rows(db) == 50


def test_alt_and_a_digit_opens_a_page_and_types_nothing(offline_demo_file, terminal: Terminal) -> None:
    """xterm and tmux send alt+3 as ESC 3: a page key, not a character (Textual alone reads
    it as the '£' macOS's Option+3 types, into the focused field)."""
    terminal.wait_for("Connection Title")
    terminal.keys("M-2")
    terminal.wait_for_focus("Dynamics accounts")  # Data Entity 1's title, focused
    terminal.keys("M-3")
    terminal.wait_for_focus("SQLite accounts")
    terminal.keys("M-1")
    screen = terminal.wait_for("Deletion guard")
    assert "●" not in header(screen), screen  # nothing was typed into a field
    assert not any(sign in screen for sign in "¡™£"), screen


def test_sigterm_during_a_run_records_it_cancelled_and_gives_the_terminal_back(
        isolated_dirs, emulator_factory, tmp_path) -> None:
    from l2tui.config.store import ConnectionStore
    from l2tui.paths import resolve_paths
    from l2tui.runner import Runner
    from tests.tui.conftest import DEMO_SLUG, demo_toml

    emu = emulator_factory(rows=20_000, auth=False)
    emu.faults.delay_next(1000, 0.5)  # a slow service: the run lasts seconds
    db = tmp_path / "crm.db"
    make_accounts_table(db)
    paths = resolve_paths().ensure()
    (paths.connections / f"{DEMO_SLUG}.toml").write_text(demo_toml(emu.base_url + "accounts", db))
    status = tmp_path / "status"  # how the app ended, as its shell saw it
    term = Terminal(f"{l2tui_command(isolated_dirs)}; echo $? > {status}")
    try:
        term.pane("set-option", "remain-on-exit", "on")  # (to read the screen it leaves)
        term.wait_for("Connection Title")
        term.keys("F5")
        term.wait_for("read left")
        conn = ConnectionStore(paths.connections).load(DEMO_SLUG)
        pid = Runner(paths).running(conn)  # the app's, as the lock of its run holds it
        assert pid and pid.isdigit(), pid
        os.kill(int(pid), signal.SIGTERM)
        term.wait_until(lambda _s: status.exists() and status.read_text().strip(), "the app's end")
        screen = term.screen()
    finally:
        term.kill()
    assert status.read_text().strip() == "0"  # (killed by SIGTERM: 143)
    assert "Connection Title" not in screen, screen  # the terminal's own screen, given back
    assert Runner(paths).history(conn)[0].outcome == "cancelled"



def test_a_hang_up_closes_the_app_every_time(offline_demo_file, isolated_dirs) -> None:
    """tmux's end is a dropped SSH session's: the program gets SIGHUP and, its process group
    orphaned, SIGCONT. The app closed, or stayed waiting for ever on its output thread: two
    times in three on this machine, so three hang-ups in a row."""
    for _ in range(3):
        term = Terminal(l2tui_command(isolated_dirs))
        try:
            term.wait_for("Connection Title")
            term._tmux("kill-server")
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:
                try:
                    os.kill(term.pid, 0)
                except ProcessLookupError:
                    break
                time.sleep(POLL)
            else:
                raise AssertionError("l2tui still runs 10 s after its terminal hung up")
        finally:
            term.kill()
