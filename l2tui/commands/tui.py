"""``l2tui`` with no command: open the connection manager."""

from __future__ import annotations

import argparse
import sys

from l2tui.config.store import ConnectionStore
from l2tui.errors import ConfigError
from l2tui.paths import Paths


def tui_command(args: argparse.Namespace, paths: Paths) -> int:
    """Open the Textual app on the connection folder; exit 2 for a NAME that names no
    connection, or without a terminal to draw on (a cron line that forgot ``run``)."""
    name = getattr(args, "name", None)
    if name:
        ConnectionStore(paths.connections).resolve(name)  # unknown: the other commands' error
    require_terminal("to run a connection without one: l2tui run NAME (see l2tui --help)")
    from l2tui.tui.app import run_app

    return run_app(paths, select=name)


def require_terminal(instead: str) -> None:
    """ConfigError (exit 2) unless a terminal is attached, saying what to do ``instead``."""
    # (Textual reads keys from stdin and draws on stderr; stdout piped means a script)
    if not all(stream.isatty() for stream in (sys.stdin, sys.stdout, sys.stderr)):
        raise ConfigError(f"the connection manager needs a terminal; {instead}")
