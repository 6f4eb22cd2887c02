"""``l2tui demo``: the bundled Dynamics emulator synced into a SQLite file, then the TUI."""

from __future__ import annotations

import argparse
import sys
import threading
from pathlib import Path
from typing import Any

from l2tui.commands.run import stopping_on_signals, summary
from l2tui.commands.tui import require_terminal
from l2tui.config.model import Connection, Direction, Entity
from l2tui.config.store import ConnectionStore
from l2tui.errors import ConfigError, RunError
from l2tui.paths import Paths
from l2tui.runner import Runner
from l2tui.tables import create_target_table

TITLE = "Demo: Dynamics accounts to SQLite"


def demo_command(args: argparse.Namespace, paths: Paths) -> int:
    """Start the emulator, write the demo connection, run it, print the summary (then the TUI)."""
    from l2tui.emulator import Emulator

    if not getattr(args, "headless", False):  # (before the demo syncs: it ends in the app)
        require_terminal("without one, l2tui demo --headless runs the demo and prints its summary")
    paths.ensure()
    refuse_while_running(paths)
    rows = int(getattr(args, "rows", 500) or 500)
    port = int(getattr(args, "port", 0) or 0)
    emu = Emulator(rows=rows, seed=1, auth=False, port=port)
    try:
        emu.start()
    except (OSError, OverflowError) as exc:  # (a port past 65535: OverflowError)
        from l2tui.emulator.cli import listen_error

        raise ConfigError(listen_error(emu.host, port, exc)) from None
    with emu:
        conn = demo_connection(paths, emu)
        remove_demo_database(paths)  # this emulator is new: the last demo's rows are not its
        prepare_table(conn, paths)
        # the sync stops between batches on Ctrl-C, SIGTERM or SIGHUP, as `l2tui run` does
        cancel = threading.Event()
        print(f"Emulator: {emu.base_url} ({rows} accounts); SQLite: {demo_database(paths)}",
              file=sys.stderr)
        with stopping_on_signals(cancel):  # (reset: so are the pairs of its sync state)
            report = Runner(paths).run(conn, reset=True, cancel=cancel)
        print(summary(report))
        if getattr(args, "headless", False):
            return 0 if report.ok else 1
        try:
            from l2tui.tui.app import run_app
        except ImportError:
            print("The TUI is not available in this build; the summary above is the demo.",
                  file=sys.stderr)
            return 0 if report.ok else 1
        return int(run_app(paths, select=conn.slug, emulator=emu) or 0)


def refuse_while_running(paths: Paths) -> None:
    """RunError when another demo is running its sync: starting afresh would delete the SQLite
    file it is writing (and rewrite its connection's emulator address)."""
    store = ConnectionStore(paths.connections)
    path = store.path_for(TITLE)
    if not path.is_file():
        return
    try:
        conn = store.load(str(path))
    except ConfigError:
        return  # (a demo file broken by hand: written anew below)
    holder = Runner(paths).running(conn)
    if holder is not None:
        raise RunError(f"'{TITLE}' is already running (PID {holder}); the demo starts afresh "
                       "once it has ended, and nothing was changed")


def demo_database(paths: Paths) -> Path:
    """The demo's SQLite file, in the data folder."""
    return paths.state.parent / "demo.db"


def remove_demo_database(paths: Paths) -> None:
    """Delete the demo's SQLite file (and its journal files), so a demo starts afresh."""
    database = demo_database(paths)
    for path in (database, *(database.with_name(database.name + end)
                             for end in ("-wal", "-shm", "-journal"))):
        try:
            path.unlink(missing_ok=True)
        except OSError as exc:  # (a data folder made read-only, a folder of that name)
            raise ConfigError(f"cannot replace the demo's database {path}: "
                              f"{exc.strerror or exc} (choose another data folder with "
                              "$L2TUI_DATA_DIR)") from None


def demo_connection(paths: Paths, emu: Any) -> Connection:
    """The demo connection file, written (or its two addresses rewritten: the emulator's port
    changes, and so does the demo's SQLite file with the data folder)."""
    store = ConnectionStore(paths.connections)
    path = store.path_for(TITLE)
    url = emu.connection_string("accounts")
    database = f"Data Source={demo_database(paths)};"
    if path.exists():
        conn = store.load(str(path))
        conn.entity1.connection_string = url
        conn.entity2.provider = "sqlite"
        conn.entity2.connection_string = database
    else:
        conn = Connection(
            title=TITLE,
            entity1=Entity(title="Dynamics accounts (emulator)", provider="odata",
                           connection_string=url, primary_key=["accountid"]),
            entity2=Entity(title="SQLite accounts", provider="sqlite",
                           connection_string=database,
                           select="accounts", primary_key=["accountid"]),
            direction=Direction.LEFT_TO_RIGHT,
        )
    store.save(conn)
    return conn


def prepare_table(conn: Connection, paths: Paths) -> None:
    """Create the SQLite table from the emulator's columns when it does not exist yet."""
    create_target_table(conn, 2, paths)
