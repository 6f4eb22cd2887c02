"""``l2tui run NAME``: run a connection headless, with a progress line and a summary."""

from __future__ import annotations

import _thread
import argparse
import contextlib
import json
import os
import signal
import sqlite3
import sys
import threading
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import asdict
from typing import Any, TextIO

from l2tui.commands.common import (
    confirm,
    load_complete,
    on_terminal,
    show_device_code,
    terminal_prompt,
)
from l2tui.config.model import Connection
from l2tui.errors import ConfigError, L2Error
from l2tui.output import OutputFailed
from l2tui.paths import Paths
from l2tui.runner import Runner
from l2tui.sync.events import (
    Conflict,
    Event,
    EventSink,
    ItemError,
    LogLine,
    Progress,
    RunReport,
)
from l2tui.sync.summaries import (
    SIDE_LABELS,
    conflict_text,
    count_text,
    iso_time,
    item_error_text,
    planned_lines,
    seconds_text,
)


def run_command(args: argparse.Namespace, paths: Paths) -> int:
    """Run a connection once; exit 0 done, 1 errors or unresolved conflicts, 2 config, 3 connect.

    With --json, a run that cannot start or stops with an error prints a JSON answer too (a
    script reading stdout always gets one), with what the history recorded of the run when it
    got that far; stderr keeps the one-line message."""
    return answering_json(args, lambda: load_complete(paths, args.name),
                          lambda conn: _run(conn, args, paths),
                          recorded=lambda conn, run: recorded_run(paths, conn, run))


def answering_json(args: argparse.Namespace, load: Callable[[], Connection],
                   command: Callable[[Connection], int], *,
                   recorded: Callable[[Connection, int], dict[str, Any] | None] | None = None,
                   ) -> int:
    """``command`` on the connection ``load`` gives; with --json, an error (an unknown
    connection too) is also printed on stdout as ``failure_dict``, then raised (with the run
    of the history it stopped, as ``recorded`` reads it, where the error names one)."""
    title = args.name
    conn: Connection | None = None
    try:
        conn = load()
        title = conn.title
        return command(conn)
    except L2Error as exc:
        if getattr(args, "json", False):
            record = None if recorded is None or conn is None or exc.run is None else \
                recorded(conn, exc.run)
            with contextlib.suppress(BrokenPipeError):  # (no reader: the exit code says it)
                print(json.dumps(failure_dict(title, exc, record), indent=2), flush=True)
        raise


def recorded_run(paths: Paths, conn: Connection, run: int) -> dict[str, Any] | None:
    """Run ``run`` of the connection's history as ``history --json`` gives it (None: not
    there, or the state cannot be read)."""
    from l2tui.commands.history import record_dict  # (history's commands answer as run does)

    try:
        records = Runner(paths).history(conn, 1, run=run)
    except (L2Error, sqlite3.Error):
        return None
    if not records:
        return None
    return record_dict(records[0], None, paths.run_logs(conn.slug))


def _run(conn: Connection, args: argparse.Namespace, paths: Paths) -> int:
    as_json = bool(getattr(args, "json", False))
    reset = bool(getattr(args, "reset", False))
    asks = reset and not getattr(args, "yes", False) and not getattr(args, "dry_run", False)
    if asks:
        if not on_terminal():
            raise ConfigError("--reset needs a confirmation on a terminal, or --yes")
        if not confirm(f"Forget the sync state of '{conn.title}'? The next run matches "
                        "both sides by key again. [y/N] "):
            print("Not reset; nothing was run.", file=sys.stderr)
            return 0
    cancel = threading.Event()
    hidden: Counter[str] = Counter()
    sink = _sink(sys.stderr, quiet=as_json, hidden=hidden)
    report: RunReport | None = None
    try:
        with stopping_on_signals(cancel):
            report = Runner(paths).run(
                conn, dry_run=bool(args.dry_run), force=bool(args.force), full=bool(args.full),
                reset=reset, sink=sink, cancel=cancel, prompt=terminal_prompt,
                device_code=show_device_code if on_terminal() else None,
            )
    finally:
        _end_progress(sys.stderr)
        # (the run that stopped with an error: the error's)
        run = report.details.get("run") if report else getattr(sys.exc_info()[1], "run", None)
        record = None if run is None or not (hidden or as_json) else \
            recorded_run(paths, conn, run)
        if hidden:
            _say_hidden(hidden, conn, None if record is None else record.get("log"))
    code = 0 if report.ok else 1
    # (a reader gone, `| head`: the exit code still says how the run went)
    try:
        if as_json:
            print(json.dumps(report_dict(report, record), indent=2, default=str), flush=True)
        else:
            print("\n".join([summary(report), *planned_lines(report)]), flush=True)
    except OutputFailed as exc:
        exc.code = code
        raise
    except BrokenPipeError:  # (a standard output not guarded: the command called directly)
        pass
    return code


def report_dict(report: RunReport, record: dict[str, Any] | None = None) -> dict[str, Any]:
    """A report as plain JSON data (for --json and scripts), with its run's number, log file
    (as ``record``, the run in the history, gives it), exit code and whether it was a dry run
    (one cancelled reads "cancelled"), as ``failure_dict`` and ``history --json`` have them."""
    data = asdict(report)
    planned = data["details"].pop("planned", None)
    updates = data["details"].pop("planned_updates", None)
    if planned is not None and data["plan"] is not None:  # a dry run's writes, by match key
        data["plan"]["items"] = planned
        if updates is not None:  # (its updates with the values each would set)
            data["plan"]["updates"] = updates
    data["ok"] = report.ok
    data["started"], data["finished"] = iso_time(report.started), iso_time(report.finished)
    data["seconds"] = round(report.seconds, 3)
    data["run"] = report.details.get("run")
    data["log"] = None if record is None else record.get("log")
    data["exit_code"] = 0 if report.ok else 1
    data["dry_run"] = report.dry_run
    return data


def failure_dict(connection: str, exc: L2Error,
                 record: dict[str, Any] | None = None) -> dict[str, Any]:
    """A run that stopped with an error, as --json prints it (the exit code is the error's).
    A run the history recorded (``record``, as ``record_dict`` gives it) adds what it says:
    its number, start and end, log, and counts (also each at the top, as a report has them)."""
    recorded = {} if record is None else {**record.get("counts", {}), **record}
    return {"connection": connection, **recorded, "outcome": "failed", "ok": False,
            "message": str(exc), "exit_code": exc.exit_code}




def summary(report: RunReport) -> str:
    """The lines a person reads after a run (a dry run's say so, cancelled or not)."""
    dry = report.dry_run
    head = {"success": "Done", "dry_run": "Dry run (nothing written)", "errors": "Finished with errors",
            "conflicts": "Finished with unresolved conflicts",
            "cancelled": "Cancelled dry run (nothing written)" if dry else "Cancelled"}
    lines = [f"{head.get(report.outcome, report.outcome)}: {report.connection} "
             f"({seconds_text(report.seconds)})"]
    if report.details.get("rematched"):
        lines.append(f"  the mapping, a select or the match key changed: both sides matched by key "
                     f"again ({report.details['rematched']:,} pairs synced before)")
    verb = "would be " if dry else ""
    for side, label in SIDE_LABELS:
        c, u, d, e = (getattr(report, f"{k}_{side}") for k in ("created", "updated", "deleted",
                                                                  "errors"))
        lines.append(f"  {label}: {c:,} {verb}created, {u:,} {verb}updated, {d:,} {verb}deleted, "
                     f"{count_text(e, 'error')}")
    alone = "".join(f"; only on {label}, left alone: {getattr(report, f'only_{side}'):,}"
                    for side, label in SIDE_LABELS if getattr(report, f"only_{side}"))
    lines.append(f"  unchanged: {report.unchanged:,}{alone}; conflicts: {report.conflicts:,} "
                 f"({report.details.get('unresolved', 0):,} unresolved)")
    if report.details.get("refused"):  # a dry run past the deletion guard
        lines.append(f"  {report.details['refused']}")
    return "\n".join(lines)


@contextlib.contextmanager
def stopping_on_signals(cancel: threading.Event) -> Iterator[None]:
    """Within the block, the first Ctrl-C (or SIGTERM: systemd stop, a cron timeout; or SIGHUP:
    the SSH session dropped, unless nohup ignores it) sets ``cancel``, so the run stops cleanly
    between batches; the second interrupts. The handlers before are put back at its end (only
    the main thread handles signals: elsewhere nothing changes)."""
    lost: list[KeyboardInterrupt] = []  # an interrupt a finaliser swallowed, not raised again yet

    def handler(signum: int, frame: Any) -> None:
        if cancel.is_set():
            lost.clear()
            raise KeyboardInterrupt
        cancel.set()
        again = "Ctrl-C" if signum == signal.SIGINT else signal.Signals(signum).name
        with contextlib.suppress(OSError):  # (after SIGHUP the terminal may be gone)
            _end_progress(sys.stderr)  # (a progress line drawn on a terminal: end it)
            print(f"l2tui: stopping after the current batch ({again} again to interrupt)",
                  file=sys.stderr, flush=True)

    def unraisable(info: Any) -> None:
        """The second signal's KeyboardInterrupt raised while Python finalises an object (a
        generator closed as it is collected, waiting on its reading thread) would be printed
        as "Exception ignored in …" with a traceback, and lost: it is said nowhere and raised
        again in the main thread once the finaliser is left (by a thread of its own, which this
        hook does not wait for: from here it would land in the hook; SIGTERM's handler is always
        this one), or as the block ends."""
        if isinstance(info.exc_value, KeyboardInterrupt):
            lost.append(info.exc_value)
            _thread.start_new_thread(_thread.interrupt_main, (signal.SIGTERM,))
        else:
            hook(info)

    # (a signal this process was started ignoring stays ignored: SIGHUP under nohup, SIGINT in
    # a shell script's background job, which Ctrl-C at the script is not meant for)
    signals = (signal.SIGTERM, *(s for s in (signal.SIGINT, signal.SIGHUP)
                                 if signal.getsignal(s) is not signal.SIG_IGN))
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    hook = sys.unraisablehook
    previous = {s: signal.signal(s, handler) for s in signals}
    sys.unraisablehook = unraisable
    try:
        yield
        if lost:
            raise KeyboardInterrupt
    finally:
        sys.unraisablehook = hook
        for signum, replaced in previous.items():
            signal.signal(signum, replaced)


_progress_shown = {"on": False}
SHOWN = 20  # item errors, and conflicts, a run says on stderr (its log has every one)


def _end_progress(stream: TextIO) -> None:
    """End the progress line drawn on a terminal (one that hung up takes nothing: it was said
    to no one, and the run ends as it would)."""
    if _progress_shown["on"]:
        _progress_shown["on"] = False
        with contextlib.suppress(OSError):
            stream.write("\n")
            stream.flush()


def _line_width(stream: TextIO) -> int:
    """How much of a terminal line the progress may fill: 39 characters, less on a terminal
    narrower than 40 columns (a longer line wraps, and each redraw would leave a line behind)."""
    try:
        columns = os.get_terminal_size(stream.fileno()).columns
    except (OSError, ValueError):  # (no terminal size to ask for)
        columns = 0
    return min(39, columns - 1) if columns > 1 else 39


def _say_hidden(hidden: Counter[str], conn: Connection, log: str | None) -> None:
    """How many item errors and conflicts the run's stderr left out (past the first ``SHOWN``
    of each), and where they all are."""
    where = f": {log}" if log else f" (l2tui history {conn.argument} names it)"
    for kind, count in hidden.items():
        with contextlib.suppress(OSError):
            print(f"l2tui: … and {count_text(count, f'more {kind}')}; the run's log has every "
                  f"one{where}", file=sys.stderr, flush=True)


def _sink(stream: TextIO, quiet: bool, hidden: Counter[str] | None = None) -> EventSink:
    """Progress as one redrawn line on a terminal; warnings, errors and conflicts as lines (the
    first ``SHOWN`` item errors and conflicts; those past them counted in ``hidden``: cron mails
    stderr at each run, and the run's log has every one)."""
    tty = stream.isatty()
    shown: Counter[str] = Counter()
    counting = threading.Lock()

    def past_the_first(kind: str) -> bool:
        with counting:
            shown[kind] += 1
            if shown[kind] <= SHOWN or hidden is None:
                return False
            hidden[kind] += 1
            return True

    def emit(event: Event) -> None:
        # lines no one can read any more (a reader gone: `2>&1 | head`, a journal restarted; a
        # full disk) are given up, not the run: its log has them
        with contextlib.suppress(OSError):
            show(event)

    def show(event: Event) -> None:
        if isinstance(event, Progress):
            if tty and not quiet:
                total = f"/{event.total}" if event.total else ""
                width = _line_width(stream)
                stream.write("\r" + f"{event.phase}: {event.done}{total} "[:width].ljust(width))
                stream.flush()
                _progress_shown["on"] = True
            return
        line = None
        if isinstance(event, LogLine) and event.level != "info":
            line = f"{event.level}: {event.message}"
        elif isinstance(event, ItemError):
            if past_the_first("item error"):
                return
            line = item_error_text(event.side, event.key, event.message)
        elif isinstance(event, Conflict):
            if past_the_first("conflict"):
                return
            line = conflict_text(event.key, event.resolution, event.left, event.right,
                                 policy=event.policy)
        if line:
            _end_progress(stream)
            print(line, file=stream, flush=True)

    return emit
