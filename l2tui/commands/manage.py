"""Commands that manage connection files: list, show, new, edit, paths, set-password."""

from __future__ import annotations

import argparse
import contextlib
import getpass
import json
import os
import shlex
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

from l2tui.commands.common import confirm, on_terminal
from l2tui.commands.history import last_run, last_run_dict
from l2tui.commands.inspect import format_table, natural_widths, table_width
from l2tui.config.files import write_atomically
from l2tui.config.loader import parse_connection
from l2tui.config.model import DIRECTION_LABELS
from l2tui.config.secrets import NoKeyring, keyring_set
from l2tui.config.specs import find_spec
from l2tui.config.store import (
    ConnectionStore,
    StoreEntry,
    connection_text,
    read_connection_file,
    read_connection_text,
)
from l2tui.errors import ConfigError, L2Error
from l2tui.paths import Paths
from l2tui.runner import Runner


def store_for(paths: Paths) -> ConnectionStore:
    """The connection store of the configured folder."""
    return ConnectionStore(paths.connections)


def list_command(args: argparse.Namespace, paths: Paths) -> int:
    """Print one line per connection and its latest run; broken files are listed with their
    error (on stderr too). With --json, one object per file on stdout."""
    try:
        entries = store_for(paths).entries()
    except L2Error as exc:
        if args.json:  # (on stdout too, as run, history and conflicts --json answer an error)
            print(json.dumps({"ok": False, "message": str(exc), "exit_code": exc.exit_code},
                             indent=2, ensure_ascii=False))
        raise
    if args.json:
        return _list_json(entries, Runner(paths))
    if not entries:
        print(f"No connections in {paths.connections} (create one with: l2tui new TITLE)")
        return 0
    runner = Runner(paths)
    rows: list[list[str]] = []
    for entry in entries:
        conn = entry.connection
        if conn is None:
            rows.append(["(broken)", "-", "-", "-", "-", entry.path.name])
            print(f"l2tui: {entry.error}", file=sys.stderr)
            continue
        rows.append([conn.title, DIRECTION_LABELS[conn.direction], conn.entity1.provider or "-",
                     conn.entity2.provider or "-", last_run(runner, conn), entry.path.name])
    print(_list_table(rows, table_width()))
    return 2 if any(entry.connection is None for entry in entries) else 0


LIST_HEADER = ["TITLE", "DIRECTION", "ENTITY 1", "ENTITY 2", "LAST RUN", "FILE"]
FILE_FLOOR, TITLE_FLOOR = 12, 12


def _list_table(rows: list[list[str]], width: int) -> str:
    """``list``'s table fitted to ``width``: the file name gives up width first (cut at its
    end: its start still names the connection), and is left out when it does not fit even
    cut to FILE_FLOOR (a broken file's title then names it); then the title does, down to
    TITLE_FLOOR; then the direction and providers; the last run last."""
    header = LIST_HEADER
    widths = natural_widths(header, rows)
    if sum(widths[:-1]) + min(widths[-1], FILE_FLOOR) + 2 * (len(header) - 1) > width:
        header = header[:-1]
        rows = [[f"{row[0]} {row[-1]}" if row[0] == "(broken)" else row[0], *row[1:-1]]
                for row in rows]
    floors = [TITLE_FLOOR, 8, 8, 8, 8, FILE_FLOOR][:len(header)]
    order = [[5], [0], [1, 2, 3], [4]] if len(header) == 6 else [[0], [1, 2, 3], [4]]
    return format_table(header, rows, width, floors=floors, order=order, rule=False)


def _list_json(entries: list[StoreEntry], runner: Runner) -> int:
    """``list --json``: each connection's settings in brief and its latest run (as ``history
    --json`` gives it); a broken file as its path and error. Exit 2 if a file is broken."""
    listed: list[dict[str, Any]] = []
    for entry in entries:
        conn = entry.connection
        if conn is None:
            listed.append({"file": str(entry.path), "error": str(entry.error)})
            print(f"l2tui: {entry.error}", file=sys.stderr)
            continue
        listed.append({"title": conn.title, "name": entry.path.stem, "file": str(entry.path),
                       "direction": conn.direction.value, "entity1": conn.entity1.provider or None,
                       "entity2": conn.entity2.provider or None, **last_run_dict(runner, conn)})
    print(json.dumps(listed, indent=2, ensure_ascii=False))
    return 2 if any("error" in item for item in listed) else 0


def show_command(args: argparse.Namespace, paths: Paths) -> int:
    """Print a connection file as TOML (it never holds a secret: the loader refuses one)."""
    store = store_for(paths)
    path = store.resolve(args.name)
    read_connection_file(path)  # validate first: a broken file is exit 2 with its message
    sys.stdout.write(path.read_text(encoding="utf-8-sig"))
    return 0


def new_command(args: argparse.Namespace, paths: Paths) -> int:
    """Create a connection file from scratch or from another connection's settings."""
    store = store_for(paths)
    template = None
    if args.from_file:
        template = read_connection_file(store.resolve(args.from_file))
    conn = store.create(args.title, template=template)
    print(f"Created {conn.path}")
    return 0


def edit_command(args: argparse.Namespace, paths: Paths) -> int:
    """Edit a connection file in $VISUAL or $EDITOR (else vi), as ``crontab -e`` does.

    The file is edited as a private copy beside it and replaced only by text that loads: on a
    terminal a bad edit can be edited again; otherwise it is refused and the file stays as it was.
    A broken file can be edited too (that is how it is mended).
    """
    store = store_for(paths)
    path = store.resolve(args.name)
    original = read_connection_text(path)
    editor = _editor_command()
    try:
        fd, name = tempfile.mkstemp(prefix=f".{path.stem}.", suffix=".edit.toml",
                                    dir=path.parent)
    except OSError as exc:  # (a folder l2tui may not write: the file could not be saved either)
        raise ConfigError(f"cannot edit {path}: no copy to edit can be made beside it "
                          f"({exc.strerror or exc})") from None
    copy = Path(name)
    kept = False
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            handle.write(original)
        while True:
            edited = _edited(editor, copy, path)
            try:
                text = connection_text(edited)
                if text == original:
                    print(f"No changes to {path}", file=sys.stderr)
                    return 0
                conn = parse_connection(text, path)
                store.check_title_free(conn.title, own=path)
                break
            except ConfigError as exc:
                error = exc.at(str(path))
                if not on_terminal():
                    raise ConfigError(f"{error}; the file is unchanged") from None
                print(f"l2tui: {error}", file=sys.stderr)
                if not confirm("Edit again? [Y/n] ", default=True):
                    print(f"{path} is unchanged; the edit was dropped", file=sys.stderr)
                    return 2
        try:
            write_atomically(path, text, through_link=True)
        except OSError as exc:  # (a file made immutable, a full disk): the edit is not lost
            kept = True
            raise ConfigError(f"cannot write {path}: {exc.strerror or exc}; the edit is kept "
                              f"in {copy}") from None
        print(f"Saved {path}", file=sys.stderr)
        return 0
    finally:
        if not kept:
            with contextlib.suppress(OSError):
                copy.unlink()


def _editor_command() -> list[str]:
    """$VISUAL, else $EDITOR, else vi on a terminal, as words (a command line such as
    ``code --wait``)."""
    name = "VISUAL" if os.environ.get("VISUAL") else "EDITOR"
    value = os.environ.get(name)
    if not value:
        if not on_terminal():  # (vi off a terminal prints escape codes and fails)
            raise ConfigError("no editor: set $VISUAL or $EDITOR (vi, the one used otherwise, "
                              "needs a terminal)")
        value = "vi"
    try:
        words = shlex.split(value)
    except ValueError as exc:  # (an unbalanced quote)
        raise ConfigError(f"${name} cannot be read as a command ({exc}): {value}") from None
    if not words:
        raise ConfigError(f"${name} names no command; set it to your editor")
    return words


def _edited(editor: list[str], copy: Path, path: Path) -> bytes:
    """Run the editor on the copy; its bytes afterwards."""
    try:
        code = subprocess.call([*editor, str(copy)])
    except OSError as exc:
        raise ConfigError(f"cannot start the editor {editor[0]!r} ({exc.strerror}); set $EDITOR",
                          file=str(path)) from None
    if code != 0:
        raise ConfigError(f"the editor exited with code {code}; the file is unchanged",
                          file=str(path))
    return copy.read_bytes()


def paths_command(args: argparse.Namespace, paths: Paths) -> int:
    """Print where l2tui keeps its files."""
    for label, value in (
        ("connections", paths.connections),
        ("state", paths.state),
        ("logs", paths.logs),
        ("token cache", paths.token_cache),
    ):
        print(f"{label + ':':13} {value}")
    return 0


def set_password_command(args: argparse.Namespace, paths: Paths) -> int:
    """Ask for an entity's password or client secret and keep it in the OS keyring."""
    store = store_for(paths)
    conn = store.load(args.name)
    provider = conn.entity(args.entity).provider
    spec = find_spec(provider) if provider else None
    if spec is not None and not spec.takes_password:
        raise ConfigError(f"entity{args.entity} ({provider}) takes no password: it has nothing to "
                          "sign in to", file=str(conn.path))
    if not sys.stdin.isatty():
        secret = sys.stdin.readline().rstrip("\n")
    else:
        secret = getpass.getpass(f"Password for {conn.title} / entity {args.entity}: ")
    if not secret:
        raise ConfigError("no password given")
    try:
        keyring_set(conn.slug, args.entity, secret)
    except NoKeyring as exc:
        raise ConfigError(f"{exc}; name an environment variable with password_env instead",
                          file=str(conn.path)) from None
    print(f"Stored the password of {conn.title} / entity {args.entity} in the keyring")
    return 0
