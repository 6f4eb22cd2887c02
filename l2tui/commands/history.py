"""``l2tui history`` and ``l2tui conflicts``: what earlier runs did, read from the state."""

from __future__ import annotations

import argparse
import json
import sqlite3
import sys
from pathlib import Path
from typing import Any

from l2tui.commands.inspect import format_table, table_width
from l2tui.commands.run import answering_json
from l2tui.config.model import Connection
from l2tui.config.store import ConnectionStore
from l2tui.errors import ConfigError
from l2tui.paths import Paths
from l2tui.runner import Runner
from l2tui.sync.normalize import exact_json
from l2tui.sync.side import match_values
from l2tui.sync.state import RunRecord, StateError
from l2tui.sync.summaries import (
    COUNTS,
    RULES,
    differences,
    iso_time,
    key_text,
    local_time,
    outcome_label,
    record_text,
    run_outcome,
)

RESOLUTIONS = {"left_wins": "Data Entity 1 (left) won", "right_wins": "Data Entity 2 (right) won",
               "skipped": "skipped: both kept, reported again at the next run",
               "left_wins_failed": "Data Entity 1 (left) won, but its write was not made: "
               "not settled (the next run writes it again)",
               "right_wins_failed": "Data Entity 2 (right) won, but its write was not made: "
               "not settled (the next run writes it again)"}
SETTLED_LATER = {"skipped": "skipped: both kept",
                 "left_wins_failed": "Data Entity 1 (left) won, but its write was not made",
                 "right_wins_failed": "Data Entity 2 (right) won, but its write was not made"}
"""How a conflict recorded as not settled reads once a later run settled it (its write made, its
sides made alike, or the item gone): then "; settled by run N"."""


def history_command(args: argparse.Namespace, paths: Paths) -> int:
    """Print a connection's latest runs, newest first: a table, or JSON with --json (an error
    too, as ``run --json`` prints it)."""
    return answering_json(args, lambda: _recorded(args.name, paths),
                          lambda conn: _history(conn, args, paths))


def _recorded(name: str, paths: Paths) -> Connection:
    """The connection whose records to show; a file that does not load is said on stderr, and
    its records are shown all the same (what a run recorded does not depend on the file)."""
    conn, error = ConnectionStore(paths.connections).load_recorded(name)
    if error is not None:
        print(f"l2tui: {error} (the runs it recorded are shown all the same)", file=sys.stderr)
    return conn


def _history(conn: Connection, args: argparse.Namespace, paths: Paths) -> int:
    runner = Runner(paths)
    records = runner.history(conn, args.limit)
    holder = runner.running(conn)  # (the newest run's, if it has no end yet)
    if args.json:
        logs = paths.run_logs(conn.slug)
        print(json.dumps([record_dict(r, holder if i == 0 else None, logs)
                          for i, r in enumerate(records)], indent=2))
        return 0
    if not records:
        print(f"No runs of '{conn.title}' yet (start one with: l2tui run {conn.argument})")
        return 0
    rows = [[str(r.id), local_time(r.started),
             _outcome(r, run_outcome(r, holder if i == 0 else None)), record_text(r)]
            for i, r in enumerate(records)]
    # cut to a terminal's width; piped to a file or a script, the lines stay whole
    print(format_table(["RUN", "STARTED", "OUTCOME", "SUMMARY"], rows, table_width()))
    print(f"logs: {paths.run_logs(conn.slug)}", file=sys.stderr)
    return 0


def latest_run(runner: Runner, conn: Connection) -> tuple[RunRecord, str | None] | None:
    """A connection's latest run that was not a dry run (what a monitor watches: the one cron
    made) and the PID of the process running the connection now, if one does; None: never
    run. A state that cannot be read raises StateError or sqlite3.Error."""
    records = runner.history(conn, 1, real=True)
    if not records:
        return None
    return records[0], runner.running(conn)


def last_run(runner: Runner, conn: Connection) -> str:
    """A connection's latest run in a few words: when it started and how it ended, or never."""
    try:
        latest = latest_run(runner, conn)
    except (StateError, sqlite3.Error):
        return "(sync state unreadable)"
    if latest is None:
        return "never"
    record, holder = latest
    return f"{local_time(record.started)} {outcome_label(run_outcome(record, holder))}"


def last_run_dict(runner: Runner, conn: Connection) -> dict[str, Any]:
    """A connection's latest run as JSON data: ``last_run`` (``record_dict``, or null when it
    never ran), and ``state_error`` when its sync state cannot be read."""
    try:
        latest = latest_run(runner, conn)
    except (StateError, sqlite3.Error) as exc:
        return {"last_run": None, "state_error": str(exc).splitlines()[0] if str(exc) else
                type(exc).__name__}
    return {"last_run": None if latest is None else
            record_dict(*latest, runner.paths.run_logs(conn.slug))}


def _outcome(record: RunRecord, ended: str) -> str:
    """How a run ended, for people; a dry run that did not end as one says it was dry."""
    label = outcome_label(ended)
    return f"{label} (dry run)" if record.dry and ended != "dry_run" else label


def record_dict(record: RunRecord, holder: str | None, logs: Path) -> dict[str, Any]:
    """A run of the history as JSON data (``log``: its log file in ``logs``, where known; a run
    without an end while ``holder``, a PID, holds its lock is ``running``, ``pid`` that
    process; see ``run_outcome``)."""
    seconds = None if record.finished is None else round(record.finished - record.started, 3)
    running = not record.outcome and bool(holder)
    pid = holder if running else None
    # a run that ended has every count, as its line in the history shows them (one that failed
    # before it began, a side out of reach, recorded none: it wrote nothing); a run not ended
    # (running, or killed) has none yet
    counts = record.counts if record.finished is None else \
        {**dict.fromkeys((*COUNTS, "unchanged"), 0), **record.counts}
    return {"run": record.id, "started": iso_time(record.started),
            "finished": None if record.finished is None else iso_time(record.finished),
            "seconds": seconds, "outcome": "running" if running else run_outcome(record, None),
            "pid": int(pid) if pid and pid.isdigit() else None, "dry_run": record.dry,
            "counts": counts, "message": record.message,
            "log": str(logs / record.log) if record.log else None}


def conflicts_command(args: argparse.Namespace, paths: Paths) -> int:
    """Print the recorded conflicts (of one run, or all), oldest first, with both sides' values;
    JSON with --json (an error too, as ``run --json`` prints it)."""
    return answering_json(args, lambda: _recorded(args.name, paths),
                          lambda conn: _conflicts(conn, args, paths))


def _conflicts(conn: Connection, args: argparse.Namespace, paths: Paths) -> int:
    runner = Runner(paths)
    if args.run:
        require_run(runner, conn, args.run)
    conflicts = runner.conflicts(conn, args.run)
    if args.json:
        print(exact_json([{**c, "at": iso_time(c["at"])} for c in conflicts], indent=2,
                         ensure_ascii=False))
        return 0
    if not conflicts:
        where = f"run {args.run} of '{conn.title}'" if args.run else f"'{conn.title}'"
        dry = bool(args.run) and any(r.dry for r in runner.history(conn, 1, run=args.run))
        # (a dry run's conflicts were shown by the run, and are not kept: saying "none" of it
        # would read as if the plan had met none)
        print(f"No conflicts recorded for {where}: a dry run keeps none (its output showed "
              f"them; l2tui run {conn.argument} --dry-run shows them again)." if dry
              else f"No conflicts recorded for {where}.")
        return 0
    for conflict in conflicts:
        print("\n".join(conflict_lines(conflict)))
    return 0


def require_run(runner: Runner, conn: Connection, run: int) -> None:
    """ConfigError (exit 2) unless run ``run`` is in the connection's history."""
    if runner.has_run(conn, run):
        return
    latest = runner.history(conn, 1)
    known = (f"its latest run is {latest[0].id}; see l2tui history {conn.argument}" if latest
             else "it has not run yet")
    raise ConfigError(f"no run {run} of '{conn.title}' ({known})")


def conflict_lines(conflict: dict[str, Any]) -> list[str]:
    """A conflict: when, which item, how it was settled, and the values that differ."""
    key = key_text(match_values(conflict["key"]))
    resolution = RESOLUTIONS.get(conflict["resolution"], conflict["resolution"])
    if conflict.get("settled_by"):
        resolution = (f"{SETTLED_LATER.get(conflict['resolution'], conflict['resolution'])}; "
                      f"settled by run {conflict['settled_by']}")
    if conflict.get("policy") in RULES and conflict["resolution"] != "skipped":
        resolution = f"{RULES[conflict['policy']]}, {resolution}"  # (the rule it was settled by)
    lines = [f"run {conflict['run']}, {local_time(conflict['at'])}: {key}: {resolution}"]
    left, right = conflict["left"], conflict["right"]
    if left is None or right is None:
        gone = "Data Entity 1 (left)" if left is None else "Data Entity 2 (right)"
        lines.append(f"  deleted on {gone}; the other side edited it")
        edited, side = (right, "right") if left is None else (left, "left")
        if edited is not None:  # its values as the edit left them (gone, if the deletion won)
            lines.append(f"  {side}: {exact_json(edited, ensure_ascii=False)}")
        return lines
    if len(left) != len(right):  # not pairwise (a column mapped twice): both in full
        return [*lines, f"  left: {exact_json(left)}", f"  right: {exact_json(right)}"]
    return [*lines, *(f"  {name}: left {_shown(lvalue)}, right {_shown(rvalue)}"
                      for name, lvalue, rvalue in differences(left, right))]


def _shown(value: Any) -> str:
    return "(empty)" if value is None else exact_json(value, ensure_ascii=False)
