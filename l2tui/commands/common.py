"""What the commands share: loading a connection and opening its entities for a terminal user."""

from __future__ import annotations

import contextlib
import getpass
import sys
from collections.abc import Iterator
from typing import Any

from l2tui.config.loader import require_complete
from l2tui.config.model import Connection
from l2tui.config.store import ConnectionStore
from l2tui.errors import ConnectError
from l2tui.paths import Paths
from l2tui.providers import entity_label, open_entity
from l2tui.providers.base import Provider


def load_complete(paths: Paths, name: str, entities: tuple[int, ...] = (1, 2)) -> Connection:
    """Load a connection, checked whole, and insist the entities used (both, by default) are
    configured."""
    conn = ConnectionStore(paths.connections).load(name)
    require_complete(conn, entities=entities)
    return conn


def on_terminal() -> bool:
    """A person at a terminal can answer: stdin and stderr are both a terminal."""
    return sys.stdin.isatty() and sys.stderr.isatty()


def terminal_prompt(message: str) -> str | None:
    """Ask for a secret on the terminal, only when one is attached."""
    if not on_terminal():
        return None
    try:
        return getpass.getpass(message)
    except (EOFError, KeyboardInterrupt):
        return None


def confirm(question: str, default: bool = False) -> bool:
    """Ask a yes/no question on the terminal (the caller checked there is one)."""
    print(question, end="", file=sys.stderr, flush=True)
    try:
        answer = input().strip().lower()
    except EOFError:
        return False
    return default if not answer else answer in ("y", "yes")


def show_device_code(flow: dict[str, Any]) -> None:
    """Tell the person where to sign in (device-code flow, the way to sign in over SSH)."""
    message = flow.get("message") or (
        f"To sign in, open {flow.get('verification_uri')} and enter the code {flow.get('user_code')}"
    )
    print(message, file=sys.stderr, flush=True)


def open_for_terminal(conn: Connection, index: int, paths: Paths,
                      options: dict[str, Any] | None = None) -> Provider:
    """Open entity 1 or 2 with the terminal's prompt and device-code display (the folders
    checked first, as a run's are: a sign-in writes the token cache); ``options``: the
    provider's (``VERIFY_OPTIONS``)."""
    paths.ensure()
    return open_entity(
        conn, index, paths,
        prompt=terminal_prompt,
        device_code=show_device_code if on_terminal() else None,
        options=options,
    )


class _Named(ConnectError):
    """A side out of reach, named already (by the block of the entity it belongs to)."""


@contextlib.contextmanager
def opened_for_terminal(conn: Connection, index: int, paths: Paths) -> Iterator[Provider]:
    """Entity 1 or 2 open for the block, as ``open_for_terminal`` opens it; a side that cannot
    be reached is named as a run names it (``entity 1 (Dynamics accounts): GET …``), once
    (the other entity, opened within the block, names its own)."""
    try:
        with open_for_terminal(conn, index, paths) as provider:
            yield provider
    except _Named:
        raise
    except ConnectError as exc:
        raise _Named(f"{entity_label(conn, index)}: {exc.message}") from exc
