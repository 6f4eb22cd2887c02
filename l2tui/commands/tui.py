"""``l2tui`` with no command: open the connection manager."""

from __future__ import annotations

import argparse

from l2tui.paths import Paths


def tui_command(args: argparse.Namespace, paths: Paths) -> int:
    """Open the Textual app on the connection folder."""
    from l2tui.tui.app import run_app

    return run_app(paths, select=getattr(args, "name", None))
