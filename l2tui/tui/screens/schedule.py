"""Schedule: how to run the connection unattended (cron, a systemd timer), ready to copy."""

from __future__ import annotations

import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, ScrollableContainer, Vertical, VerticalScroll
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


@dataclass(frozen=True)
class Block:
    """Lines to copy whole (a command, the variables file): ``name`` says which, in "copied …"."""

    name: str
    lines: tuple[str, ...]

    @property
    def text(self) -> str:
        """The lines as they are copied (no indent, no trailing newline)."""
        return "\n".join(self.lines)


Part = str | Block  # a sentence ("" : a gap) or lines to copy


def schedule_parts(conn: Connection, paths: Paths, *, unsaved: bool) -> list[Part]:
    """What the Schedule dialog says: the command, a crontab line (every 15 minutes, the
    password variables read from a file), the systemd timer, and where the README says more."""
    assert conn.path is not None
    name = conn.argument
    variables = list(dict.fromkeys(
        e.password_env for e in (conn.entity1, conn.entity2) if e.password_env))
    env_file = f"/etc/l2tui/{name}.env"
    command = run_command(conn, paths)
    parts: list[Part] = []
    if unsaved:
        parts += ["The schedule runs the saved file: these changes are not saved yet "
                  "(Save Changes, ctrl+s).", ""]
    parts += ["Run it from a shell:", Block("the command", (command,)), "",
              "cron (crontab -e), every 15 minutes; only warnings, errors and conflicts reach "
              "cron's mail:"]
    read_env = f"set -a; . {env_file}; set +a; " if variables else ""
    parts += [Block("the crontab line", (f"*/15 * * * * {read_env}{command} >/dev/null",))]
    if variables:
        parts += [f"{env_file} (mode 0600) holds one NAME='value' line per secret:",
                  Block(f"the lines of {env_file}",
                        tuple(f"{variable}='…'" for variable in variables))]
    units = f"{UNITS}/" if UNITS.is_dir() else "sample_connections/systemd/ of l2tui's source"
    parts += ["", f"systemd: copy the two units in {units} to /etc/systemd/system (their "
              "ExecStart= and User= say which l2tui runs, as which user), then:",
              Block("the systemctl command", (f"systemctl enable --now l2tui-run@{name}.timer",)),
              "", f"More: {README_SECTION}."]
    return parts


def schedule_text(parts: list[Part]) -> str:
    """The dialog's text as lines, the lines to copy indented by two spaces."""
    return "\n".join(part if isinstance(part, str) else "\n".join(f"  {line}" for line in part.lines)
                     for part in parts)


class ScheduleScreen(ModalScreen[None]):
    """The connection's schedule, as the guide's scheduler sets it: l2tui leaves it to cron or
    systemd, and shows the lines that do it, each block with a Copy button (OSC 52: the
    terminal's clipboard, also over SSH where the terminal allows it). Long lines are not
    wrapped but scroll sideways, so that a selection in the terminal copies them whole."""

    BINDINGS = [Binding("escape", "close", "Close", id="schedule.close",
                        tooltip="Close the schedule"),
                 Binding("left", "sideways(-8)", "Scroll left", show=False),
                 Binding("right", "sideways(8)", "Scroll right", show=False)]

    def __init__(self, conn: Connection, paths: Paths, *, unsaved: bool) -> None:
        super().__init__()
        self.conn = conn
        self.parts = schedule_parts(conn, paths, unsaved=unsaved)
        self.blocks = [part for part in self.parts if isinstance(part, Block)]

    def compose(self) -> ComposeResult:
        """Title, the sentences and the blocks to copy, Close."""
        with Vertical(classes="dialog -details"):
            yield Label(f"Schedule — {self.conn.title}", classes="dialog-title")
            with VerticalScroll(id="schedule-scroll"):
                for part in self.parts:
                    if isinstance(part, Block):
                        yield from self._block(part)
                    elif part:
                        yield Static(part, markup=False, classes="schedule-text")
            yield Button("Close", id="close")

    def _block(self, block: Block) -> ComposeResult:
        """Lines to copy, unwrapped (they scroll sideways), and their Copy button."""
        number = self.blocks.index(block)
        with Horizontal(classes="schedule-block"):
            with ScrollableContainer(classes="schedule-lines", can_focus=False):
                for line in block.lines:
                    yield Static(line, markup=False, classes="schedule-command")
            yield Button("Copy", id=f"copy-{number}", classes="schedule-copy", compact=True,
                         tooltip=f"Copy {block.name} to the clipboard")

    @property
    def text(self) -> str:
        """Everything it says, as lines (the lines to copy indented)."""
        return schedule_text(self.parts)

    def on_mount(self) -> None:
        """Focus the text for scrolling."""
        self.query_one("#schedule-scroll").focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Copy a block, or Close."""
        if event.button.id == "close":
            self.dismiss(None)
            return
        block = self.blocks[int(str(event.button.id).removeprefix("copy-"))]
        self.app.copy_to_clipboard(block.text)
        self.notify(f"copied {block.name} to the clipboard", title="Schedule")

    def action_sideways(self, columns: int) -> None:
        """Scroll the long lines sideways, all together: at once, so that the next key of a burst
        (a key held down) scrolls on from there (a deferred scroll starts each from the same
        place)."""
        for lines in self.query(".schedule-lines"):
            lines.scroll_relative(x=columns, animate=False, immediate=True)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
