"""Schedule: how to run the connection unattended (cron, a systemd timer), ready to copy."""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static

from l2tui.config.model import Connection
from l2tui.paths import Paths, default_paths

UNITS = Path(__file__).resolve().parents[3] / "sample_connections" / "systemd"  # (a checkout's)
README_SECTION = 'l2tui\'s README, "Running unattended (cron, systemd)"'


def l2tui_command() -> list[str]:
    """This l2tui as a command line that works from anywhere: the ``l2tui`` script it was
    started as, else this Python with ``-m l2tui`` (a venv's python is not resolved: the link
    is what makes it the venv's)."""
    started = Path(sys.argv[0]) if sys.argv and sys.argv[0] else None
    if started is not None and started.name == "l2tui" and started.is_file():
        return [str(started.resolve())]
    return [str(Path(sys.executable).absolute()), "-m", "l2tui"]


def run_command(conn: Connection, paths: Paths) -> str:
    """``l2tui run NAME`` as cron would need it: the folders this app uses, where they are not
    the ones cron's environment gives (``--config-dir``, ``$L2TUI_DATA_DIR``)."""
    default = default_paths()
    words = l2tui_command()
    if paths.config != default.config:
        words += ["--config-dir", str(paths.config)]
    words += ["run", conn.argument]
    line = shlex.join(words)
    if (paths.state, paths.logs, paths.cache) != (default.state, default.logs, default.cache):
        line = f"L2TUI_DATA_DIR={shlex.quote(str(paths.state.parent))} {line}"
    return line


def schedule_lines(conn: Connection, paths: Paths, *, unsaved: bool) -> list[str]:
    """What the Schedule dialog says: the command, a crontab line (every 15 minutes, the
    password variables read from a file), the systemd timer, and where the README says more."""
    assert conn.path is not None
    name = conn.argument
    variables = list(dict.fromkeys(
        e.password_env for e in (conn.entity1, conn.entity2) if e.password_env))
    env_file = f"/etc/l2tui/{name}.env"
    command = run_command(conn, paths)
    lines: list[str] = []
    if unsaved:
        lines += ["The schedule runs the saved file: these changes are not saved yet "
                  "(Save Changes, ctrl+s).", ""]
    lines += ["Run it from a shell:", f"  {command}", "",
              "cron (crontab -e), every 15 minutes; only warnings, errors and conflicts reach "
              "cron's mail:"]
    read_env = f"set -a; . {env_file}; set +a; " if variables else ""
    lines += [f"  */15 * * * * {read_env}{command} >/dev/null"]
    if variables:
        lines += [f"{env_file} (mode 0600) holds one NAME='value' line per secret:"]
        lines += [f"  {variable}='…'" for variable in variables]
    units = f"{UNITS}/" if UNITS.is_dir() else "sample_connections/systemd/ of l2tui's source"
    lines += ["", f"systemd: copy the two units in {units} to /etc/systemd/system (their "
              "ExecStart= and User= say which l2tui runs, as which user), then:",
              f"  systemctl enable --now l2tui-run@{name}.timer", "",
              f"More: {README_SECTION}."]
    return lines


class ScheduleScreen(ModalScreen[None]):
    """The connection's schedule, as the guide's scheduler sets it: l2tui leaves it to cron or
    systemd, and shows the lines that do it."""

    BINDINGS = [Binding("escape", "close", "Close", id="schedule.close",
                        tooltip="Close the schedule")]

    def __init__(self, conn: Connection, paths: Paths, *, unsaved: bool) -> None:
        super().__init__()
        self.conn = conn
        self.lines = schedule_lines(conn, paths, unsaved=unsaved)

    def compose(self) -> ComposeResult:
        """Title, the lines, Close."""
        with Vertical(classes="dialog -details"):
            yield Label(f"Schedule — {self.conn.title}", classes="dialog-title")
            with VerticalScroll(id="schedule-scroll"):
                for line in self.lines:  # a command on a line of its own, to copy whole
                    if line.startswith("  "):
                        yield Static(line.strip(), markup=False, classes="schedule-command")
                    elif line:
                        yield Static(line, markup=False, classes="schedule-text")
            yield Button("Close", id="close")

    @property
    def text(self) -> str:
        """Everything it says, as lines (commands indented)."""
        return "\n".join(self.lines)

    def on_mount(self) -> None:
        """Focus the text for scrolling."""
        self.query_one("#schedule-scroll").focus()

    def on_button_pressed(self) -> None:
        """Close."""
        self.dismiss(None)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
