"""The bodies of the TUI's workers: verify, preview, describe, create table and run, on a copy of
a connection.

They run in worker threads, never touch a widget, and report only through the Bridge.
"""

from __future__ import annotations

import copy
import os
import threading
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from l2tui.config.model import Connection
from l2tui.errors import ConfigError, L2Error
from l2tui.paths import Paths
from l2tui.sync.engine import plan_mapping, repeated_match_keys, verify_entity
from l2tui.sync.events import RunReport
from l2tui.sync.state import RunRecord
from l2tui.tables import TablePlan, create_planned, plan_table
from l2tui.tui import messages
from l2tui.tui.bridge import Bridge
from l2tui.tui.messages import RunDetails

if TYPE_CHECKING:
    from l2tui.runner import Runner

Prompt = Callable[[str], str | None]
PREVIEW_ROWS = 50
MOST_ITEM_ERRORS = 20  # a run's details list its first item errors; its log has all
VERIFY_CANCELLED = "Verify cancelled"
LAST_RUN_LINES = 500  # the Run page shows the last lines of the latest run's log (its file: all)


def answer(secret: str) -> Prompt:
    """A prompt that answers with a password typed into the form."""
    def prompt(_text: str) -> str | None:
        return secret

    return prompt


def secret_hint(conn: Connection) -> Callable[[int], str]:
    """How to give an entity its password here, when none was typed or found: in its Password
    field (the command line's "run on a terminal to be asked" would puzzle in the app)."""
    def hint(index: int) -> str:
        where = f"type it into Password on the Data Entity {index} page"
        var = conn.entity(index).password_env
        if var and os.environ.get(var) == "":
            return f"${var} is set but empty; {where}"
        return f"{where}, or start l2tui with ${var} set" if var else \
            f"{where}, or name a Password variable"

    return hint


def snapshot(conn: Connection) -> Connection:
    """A copy a worker may use while the person keeps editing the original."""
    document, conn.document = conn.document, None
    try:
        return copy.deepcopy(conn)
    finally:
        conn.document = document


def _open(conn: Connection, index: int, paths: Paths, bridge: Bridge, prompt: Prompt | None,
          stop: threading.Event | None = None) -> Any:
    """Open an entity for a worker; with ``stop`` (a verify's), as ``l2tui verify`` opens it
    (``VERIFY_OPTIONS``), its waits for an answer ended by the stop."""
    from l2tui.providers import VERIFY_OPTIONS, open_entity

    paths.ensure()  # (as a run's: a sign-in writes the token cache)
    return open_entity(conn, index, paths, prompt=prompt, device_code=bridge.device_code,
                       secret_hint=secret_hint(conn), stop=stop,
                       options=VERIFY_OPTIONS if stop is not None else None)


def table_key(conn: Connection, index: int) -> tuple[str, ...]:
    """What a Create Table offer for entity ``index`` was made from: both entities' settings."""
    return tuple(value for i in (index, 3 - index) for value in (
        conn.entity(i).provider, conn.entity(i).connection_string, conn.entity(i).select,
        ",".join(conn.entity(i).primary_key)))


def verify(conn: Connection, indexes: tuple[int, ...], paths: Paths, bridge: Bridge,
           prompts: dict[int, Prompt], stop: threading.Event, *, mapping: bool = False) -> None:
    """Verify Connection String for each entity; one VerifyDone each. A SQL entity whose table
    is not there comes with the plan to create it (or why the other entity cannot give one).
    With ``mapping`` (the other entity verified too), once each verified ok, the mapping is
    checked against both as a run checks it: one MappingChecked. ``stop`` set (Esc) ends the
    wait for an answer: each entity not verified then is VERIFY_CANCELLED."""
    failed = False
    try:
        for index in indexes:
            path, verified = conn.path, conn.entity(index).connection_string
            select, key = conn.entity(index).select, tuple(conn.entity(index).primary_key)
            if stop.is_set():
                bridge.post(messages.VerifyDone(index, False, VERIFY_CANCELLED, path=path,
                                                connection_string=verified, select=select,
                                                primary_key=key))
                continue
            try:
                with _open(conn, index, paths, bridge, prompts.get(index), stop) as provider:
                    result = verify_entity(conn, index, provider)
                if stop.is_set():  # (what it says is the stop's: "asked to stop")
                    raise L2Error(VERIFY_CANCELLED)
                plan, why_not = _table_offer(conn, index, paths, bridge, prompts) \
                    if result.table_missing else (None, "")
                bridge.post(messages.VerifyDone(index, result.ok, result.message,
                                                tuple(result.details), tuple(result.warnings),
                                                path=path, connection_string=verified,
                                                table_missing=result.table_missing, plan=plan,
                                                why_not=why_not, key=table_key(conn, index),
                                                in_settings=result.in_settings,
                                                setting=result.setting,
                                                select=select, primary_key=key))
                failed = failed or not result.ok
            except L2Error as exc:
                failed = True
                bridge.post(messages.VerifyDone(index, False, VERIFY_CANCELLED if stop.is_set()
                                                else exc.message, path=path,
                                                connection_string=verified, select=select,
                                                primary_key=key))
        if mapping and not failed and not stop.is_set():
            checked = _mapping_checked(conn, paths, bridge, prompts, stop)
            bridge.post(messages.MappingChecked(False, VERIFY_CANCELLED, path=conn.path)
                        if stop.is_set() else checked)
    finally:
        bridge.post(messages.SignInEnded())


def _mapping_checked(conn: Connection, paths: Paths, bridge: Bridge,
                     prompts: dict[int, Prompt], stop: threading.Event) -> messages.MappingChecked:
    """The mapping checked against both entities with the run's own ``plan_mapping`` (and the
    match-key values a side holds more than once), as ``l2tui verify`` checks it."""
    try:
        with _open(conn, 1, paths, bridge, prompts.get(1), stop) as left, \
                _open(conn, 2, paths, bridge, prompts.get(2), stop) as right:
            plan = plan_mapping(conn, left, right)
            warnings = (*plan.warnings, *repeated_match_keys(conn, plan, left, right))
    except ConfigError as exc:
        text = f"{exc.key}: {exc.detail}" if exc.key else exc.detail
        return messages.MappingChecked(False, text, path=conn.path)
    except L2Error as exc:
        return messages.MappingChecked(False, _short(exc), path=conn.path)
    pairs = len(plan.pairs)
    text = (f"{pairs} column pair{'s' if pairs != 1 else ''}, matched by "
            + ", ".join(p.label for p in plan.match))
    return messages.MappingChecked(True, text, warnings, path=conn.path)


def _table_offer(conn: Connection, index: int, paths: Paths, bridge: Bridge,
                 prompts: dict[int, Prompt]) -> tuple[TablePlan | None, str]:
    """The plan to create entity ``index``'s missing table, or why there is none."""
    try:
        return plan_table(conn, index, paths, _opener(bridge, prompts)), ""
    except L2Error as exc:
        return None, _short(exc)


def _short(exc: L2Error) -> str:
    """An error without the connection file it names (the file is the one shown)."""
    return str(getattr(exc, "detail", exc.message))


def _opener(bridge: Bridge, prompts: dict[int, Prompt]) -> Callable[[Connection, int, Paths], Any]:
    return lambda conn, index, paths: _open(conn, index, paths, bridge, prompts.get(index))


def create_table(conn: Connection, plan: TablePlan, paths: Paths, bridge: Bridge,
                 prompts: dict[int, Prompt]) -> None:
    """Create Table: run the planned CREATE TABLE; TableCreated says how it went."""
    try:
        try:
            ddl = create_planned(conn, plan, paths, _opener(bridge, prompts))
        except L2Error as exc:
            bridge.post(messages.TableCreated(plan.index, False, _short(exc), path=conn.path,
                                              place=plan.place))
            return
        bridge.post(messages.TableCreated(plan.index, True, ddl, path=conn.path,
                                          place=plan.place))
    finally:
        bridge.post(messages.SignInEnded())


def preview(conn: Connection, index: int, paths: Paths, bridge: Bridge, prompt: Prompt | None) -> None:
    """Preview Data: the first rows of one entity."""
    try:
        with _open(conn, index, paths, bridge, prompt) as provider:
            columns, records = provider.preview(PREVIEW_ROWS)
        title = conn.entity(index).title
        shown = f"Data Entity {index}: {title}" if title else f"Data Entity {index}"
        bridge.post(messages.PreviewReady(index, shown, list(columns), list(records),
                                          file_name=f"{conn.slug}-entity{index}.csv"))
    finally:
        bridge.post(messages.SignInEnded())


def describe(conn: Connection, paths: Paths, bridge: Bridge, prompts: dict[int, Prompt]) -> None:
    """The columns of both entities (for the Mappings page)."""
    found: list[list[Any] | None] = []
    errors: list[str] = []
    try:
        for index in (1, 2):
            try:
                with _open(conn, index, paths, bridge, prompts.get(index)) as provider:
                    found.append(list(provider.describe()))
            except L2Error as exc:
                found.append(None)
                errors.append(f"Data Entity {index}: {exc.message}")
        bridge.post(messages.ColumnsDescribed(found[0], found[1], errors))
    finally:
        bridge.post(messages.SignInEnded())


def run(conn: Connection, paths: Paths, bridge: Bridge, cancel: threading.Event, *,
        dry_run: bool, force: bool, prompts: dict[int, Prompt]) -> RunReport:
    """Run Now (or a dry run) through the runner; the report is returned and posted."""
    from l2tui.runner import Runner

    def prompt(text: str) -> str | None:
        for index, answer in prompts.items():
            if f"entity {index}" in text:
                return answer(text)
        return None

    try:
        report = Runner(paths).run(conn, dry_run=dry_run, force=force, sink=bridge,
                                   cancel=cancel, prompt=prompt if prompts else None,
                                   device_code=bridge.device_code,
                                   secret_hint=secret_hint(conn))
    finally:
        bridge.post(messages.SignInEnded())
    bridge.post(messages.RunDone(report, dry_run))
    return report


def history(conn: Connection, paths: Paths) -> messages.HistoryLoaded:
    """Earlier runs of a connection, newest first: (started, outcome, summary); a run without
    an end is running or unfinished, as ``l2tui history`` says (``run_outcome``). With the
    latest of them and the last lines of its log, for the Run page."""
    from l2tui.sync.summaries import record_text, run_outcome

    try:
        from l2tui.runner import Runner

        runner = Runner(paths)
        records = runner.history(conn)
        holder = runner.running(conn)
        rows = [(r.started, run_outcome(r, holder if i == 0 else None), record_text(r))
                for i, r in enumerate(records)]
        last = _last_run(runner, conn, records[0], rows[0]) if records else None
    except Exception:  # no runner yet, or an unreadable state file: no history to show
        return messages.HistoryLoaded(conn.path, [])
    return messages.HistoryLoaded(conn.path, rows, last)


def _last_run(runner: Runner, conn: Connection, record: RunRecord,
              row: tuple[float, str, str]) -> messages.LastRun:
    """The latest run with the last ``LAST_RUN_LINES`` lines of its log."""
    tail = runner.log_tail(conn, record, LAST_RUN_LINES)
    lines, more = tail or ([], False)
    log = runner.log_path(conn, record)
    return messages.LastRun(row, record.finished is not None, lines, more, log,
                            gone=tail is None and log is not None)


def run_details(conn: Connection, paths: Paths, started: float) -> RunDetails | None:
    """The run of ``conn`` that started at ``started``, with its conflicts, the first of its
    item errors and where its log is (None: no longer in the history, or the state cannot be
    read)."""
    from l2tui.sync.summaries import run_outcome

    try:
        from l2tui.runner import Runner

        runner = Runner(paths)
        # (among the runs shown, and those a cron run may have added since)
        records = runner.history(conn, 500)
        index = next((i for i, r in enumerate(records) if r.started == started), None)
        if index is None:
            return None
        record = records[index]
        ended = run_outcome(record, runner.running(conn) if index == 0 else None)
        conflicts = runner.conflicts(conn, record.id)
        logged = runner.item_errors(conn, record, MOST_ITEM_ERRORS)
    except Exception:  # an unreadable state file: nothing to show
        return None
    errors, count = logged or ([], int(record.counts.get("errors_left") or 0) +
                               int(record.counts.get("errors_right") or 0))
    return RunDetails(conn.title, record, ended, conflicts, paths.run_logs(conn.slug), errors,
                      count)


def running(conn: Connection, paths: Paths) -> str | None:
    """The PID of the process running ``conn`` now, as its lock says (``Runner.running``)."""
    from l2tui.runner import Runner

    return Runner(paths).running(conn)


def move_state(conn: Connection, old_slug: str, paths: Paths) -> None:
    """A renamed connection's sync state and logs follow its file (``Runner.move_state``)."""
    from l2tui.runner import Runner

    Runner(paths).move_state(conn, old_slug)


def drop_state(conn: Connection, paths: Paths) -> str | None:
    """A deleted connection's sync state and run logs go with it (``Runner.drop_state``); why
    its logs could not, or None."""
    from l2tui.runner import Runner

    return Runner(paths).drop_state(conn)
