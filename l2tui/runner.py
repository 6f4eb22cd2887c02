"""Runs a connection: one run at a time (a lock), a log file per run, history, events."""

from __future__ import annotations

import contextlib
import errno
import fcntl
import io
import itertools
import json
import os
import re
import shutil
import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, replace
from pathlib import Path
from typing import IO, Any, TypeVar

from l2tui.config.files import make_folder, open_unfollowed
from l2tui.config.loader import require_complete
from l2tui.config.model import Connection
from l2tui.errors import AlreadyRunning, ConfigError, GuardRefused, L2Error, RunError
from l2tui.memory import return_large_buffers
from l2tui.paths import Paths
from l2tui.providers import entity_errors, open_entity, reaching
from l2tui.providers.base import Provider
from l2tui.sync.apply import UNRECORDED
from l2tui.sync.engine import Engine, Options, Rebaseline
from l2tui.sync.events import (
    Conflict,
    Event,
    EventSink,
    ItemError,
    LogLine,
    Progress,
    RunFinished,
    RunReport,
    RunStarted,
    Throttle,
    fan_out,
    ignore,
)
from l2tui.sync.state import (
    KEEP_DAYS,
    KEEP_RUNS,
    RunRecord,
    StateReader,
    StateStore,
    UnusableState,
    damaged,
    set_aside,
    state_error,
)
from l2tui.sync.summaries import (
    ITEM_ERROR,
    conflict_text,
    counts_text,
    item_error_text,
    seconds_text,
)

__all__ = ["RunRecord", "Runner"]

_T = TypeVar("_T")


def _record_failed(state: StateStore, started: float, message: str,
                   finished: float | None) -> int:
    """Record a run that failed before the engine recorded one; its number. A killed run
    before it is still to be compared: the state's mark says so, as the history will no
    longer."""
    run = state.start_run(started)
    if not state.dry and state.last_run_crashed(run):
        state.put(UNRECORDED, str(run))
    state.finish_run(run, "failed", {}, message, finished)
    return run


class Runner:
    """The service the front ends call: run a connection (its state reset first, if asked), read
    its history."""

    def __init__(self, paths: Paths) -> None:
        self.paths = paths

    # -- running -------------------------------------------------------------------------

    def run(self, conn: Connection, *, dry_run: bool = False, force: bool = False,
            full: bool = False, reset: bool = False, sink: EventSink = ignore,
            cancel: threading.Event | None = None,
            prompt: Callable[[str], str | None] | None = None,
            device_code: Callable[[dict[str, Any]], None] | None = None,
            batch_size: int | None = None,
            secret_hint: Callable[[int], str] | None = None) -> RunReport:
        """Run ``conn`` once and return its report; never prints.

        Raises ConfigError (bad mapping, exit 2), ConnectError (exit 3) or RunError (another run
        holds the lock, the deletion guard refused; exit 1). A run that ends with item errors or
        unresolved conflicts returns a report whose ``ok`` is False. ``cancel`` stops the run
        between batches, leaving a consistent state. ``secret_hint`` is as ``open_entity``'s.
        """
        require_complete(conn)
        self.paths.ensure()
        cancel = cancel or threading.Event()  # (the providers' retry waits end with it too)
        return_large_buffers()  # page bodies are megabytes: keep them off the heap (glibc)
        started = time.time()
        def unlogged(message: str) -> int | None:
            return self._record_unlogged(conn, started, message, dry_run)

        with self._lock(conn, unopened=unlogged) as held, \
                self._unfound_state_kept(conn, held, dry_run), \
                self._log_file(conn, started, unlogged) as (log, log_name):
            to_log = _log_writer(log)
            events = fan_out(Throttle(sink), to_log)

            def open_state(dry: bool = False) -> StateStore:
                """The connection's state, naming this run's log in the runs it records."""
                return StateStore(self.paths.state_db(conn.slug), dry=dry, log=log_name)

            try:
                try:
                    state = open_state(dry_run)
                except UnusableState as unusable:
                    if not (reset and not dry_run and unusable.damaged):
                        raise self._hinted(conn, unusable, dry_reset=reset and dry_run) from None
                    state = self._start_over(conn, unusable, open_state, events)
            except L2Error as unusable:
                # a damaged or locked state: the run's log says so too (the caller says it once)
                to_log(LogLine(message=unusable.message, level="error"))
                raise
            providers: list[Provider] = []
            engine: Engine | None = None
            began, ended = started, None  # the run's start and end as its history has them
            recorded = False  # a run stopped before the engine began one is recorded here
            number: int | None = None  # the run's number in the history, once recorded
            try:
                if reset:
                    state = self._reset(conn, state, open_state, events)
                for index in (1, 2):
                    with entity_errors(conn, index), reaching(conn, index):  # (entityN.connection_string)
                        providers.append(open_entity(
                            conn, index, self.paths, prompt=prompt,
                            device_code=device_code,
                            log=lambda message: events(LogLine(message=message)), stop=cancel,
                            secret_hint=secret_hint,
                        ))
                options = Options(dry_run=dry_run, force=force, full=full,
                                  batch_size=batch_size)
                # one start and one end for the report and the history: the run's work begins
                # here (not the sign-in before, which may wait on a person, nor the imports)
                began = time.time()
                engine = Engine(conn, providers[0], providers[1], state, options=options,
                                sink=events, cancel=cancel, started=began)
                try:
                    report = engine.run()
                except Rebaseline as change:
                    state.close()  # nothing was written
                    state = open_state(dry=True)
                    try:
                        self._check_rematch(conn, providers, state, change, options, events,
                                            cancel)
                    except (L2Error, sqlite3.Error) as stopped:
                        # the planning pass is not a run of its own: the run it stopped (refused,
                        # or failed) is the one the history keeps, as failed; nothing was written
                        state.close()
                        ended = time.time()
                        # (a state that cannot record it: the run's own error is the one to say)
                        with contextlib.suppress(L2Error, sqlite3.Error):
                            state = open_state()
                            number = _record_failed(
                                state, began, self._failure(conn, stopped).message, ended)
                        recorded = True
                        raise
                    state.close()
                    state = open_state()
                    engine = Engine(conn, providers[0], providers[1], state,
                                    options=replace(options, checked=True), sink=events,
                                    cancel=cancel, started=began)
                    report = engine.run()
            except KeyboardInterrupt:  # a second Ctrl-C: the log still says how the run ended
                events(LogLine(message="run interrupted mid-batch; the next run goes on from "
                                       "the last batch written", level="error"))
                raise
            except (L2Error, sqlite3.Error) as caught:
                exc = self._failure(conn, caught)
                if ended is None and engine is not None:
                    ended = engine.finished  # as its history says (None: not recorded)
                report = RunReport(connection=conn.title, outcome="failed",
                                   started=started if engine is None else began,
                                   finished=time.time() if ended is None else ended,
                                   message=exc.message)
                if not recorded:
                    number = getattr(engine, "run_id", None)
                if not recorded and number is None:
                    # (a side that could not be reached or described, a mapping that does not
                    # fit): in the history too, so that the latest run a monitor reads is this one
                    with contextlib.suppress(sqlite3.Error):
                        number = _record_failed(state, report.started, exc.message,
                                                report.finished)
                events(RunFinished(report=report))
                exc.run = number  # (which run of the history it stopped, for --json)
                if isinstance(exc, ConfigError) and conn.path:
                    located = exc.at(str(conn.path))  # which file to mend
                    located.run = number
                    raise located from None
                if exc is not caught:
                    raise exc from None
                raise
            finally:
                for provider in providers:
                    with contextlib.suppress(Exception):
                        provider.close()
                state.close()
            events(RunFinished(report=report))
            return report

    def _record_unlogged(self, conn: Connection, started: float, message: str,
                         dry: bool) -> int | None:
        """Record a run that could not open its lock or write its log as failed with
        ``message`` (so that the latest run a monitor reads is this one), if the state can be
        written; its number (a dry run makes no state to record itself in: None)."""
        if dry and not self._state_found(conn):
            return None
        try:
            state = StateStore(self.paths.state_db(conn.slug), dry=dry)
        except L2Error:
            return None
        try:
            return _record_failed(state, started, message, time.time())
        except sqlite3.Error:
            return None
        finally:
            state.close()

    def _state_files(self, slug: str) -> list[Path]:
        """The state file of a connection's file name ``slug``, its WAL and its shared-memory
        index."""
        path = self.paths.state_db(slug)
        return [Path(f"{path}{suffix}") for suffix in ("", "-wal", "-shm")]

    def _state_found(self, conn: Connection) -> bool:
        """Whether any of the connection's state files is there (a symbolic link too)."""
        return any(os.path.lexists(path) for path in self._state_files(conn.slug))

    @contextlib.contextmanager
    def _unfound_state_kept(self, conn: Connection, held: _Held, dry: bool) -> Iterator[None]:
        """Within a run holding the lock (``held``): a dry run that does not end (refused by a
        check, a side out of reach, interrupted) leaves no state it did not find, nor the lock
        file it made: it was never run. Found when the lock was taken, no other run can have
        written it since; a dry run that ends keeps its plan in the history, as always."""
        if not dry or self._state_found(conn):
            yield
            return
        try:
            yield
        except BaseException as exc:
            for path in self._state_files(conn.slug):
                with contextlib.suppress(FileNotFoundError):
                    path.unlink()
            held.remove = held.made
            if isinstance(exc, L2Error):
                exc.run = None  # (the run it names is not kept)
            raise

    def _failure(self, conn: Connection, caught: L2Error | sqlite3.Error) -> L2Error:
        """The error a run stopped with (an sqlite3 error is the state store's: a full disk, a
        damaged file)."""
        if isinstance(caught, L2Error):
            return caught
        return self._hinted(conn, state_error(self.paths.state_db(conn.slug), caught))

    @staticmethod
    def _hinted(conn: Connection, error: L2Error, *, dry_reset: bool = False) -> L2Error:
        """A damaged state's error saying how to start over (``dry_reset``: that a dry run with
        --reset does not); any other error as it is."""
        if not (isinstance(error, UnusableState) and error.damaged):
            return error
        dry = "a dry run leaves it where it is; without --dry-run, " if dry_reset else ""
        hinted = UnusableState(f"{error.message} ({dry}l2tui run {conn.argument} --reset starts "
                               "over, keeping the old file beside it)")
        hinted.damaged, hinted.run = True, error.run
        return hinted

    def _reset(self, conn: Connection, state: StateStore, open_state: Callable[[], StateStore],
               events: EventSink) -> StateStore:
        """Forget the state's pairs, cursors and signature (a dry run: until its end); a state
        found damaged on the way is moved aside for a new one. The state to run on."""
        try:
            state.reset()
            state.commit()
        except sqlite3.DatabaseError as exc:
            if state.dry or not damaged(exc):
                raise
            state.close()
            return self._start_over(conn, state_error(state.path, exc), open_state, events)
        events(LogLine(message="the state was reset: matching both sides by key"))
        return state

    def _start_over(self, conn: Connection, unusable: L2Error,
                    open_state: Callable[[], StateStore], events: EventSink) -> StateStore:
        """Move a damaged state aside (asked to reset it) and open a new one in its place,
        saying where the old one went."""
        path = self.paths.state_db(conn.slug)
        try:
            aside = set_aside(path)
        except OSError as exc:
            raise ConfigError(f"cannot move the damaged sync state {path} aside: "
                              f"{exc.strerror or exc}") from None
        events(LogLine(message=f"{unusable.message}: moved aside to {aside}; starting over, "
                               "matching both sides by key", level="warning"))
        return open_state()

    @staticmethod
    def _check_rematch(conn: Connection, providers: list[Provider], dry: StateStore,
                       change: Rebaseline, options: Options, events: EventSink,
                       cancel: threading.Event | None) -> None:
        """After a change of mapping, select or match key: plan the re-match as a dry run (not
        recorded: the run that follows is, noting the change), and refuse it (GuardRefused) when
        it would create or delete more than ``max_delete_ratio`` of the pairs synced before on a
        side: new settings that find few of the old pairs again (a wrong match key, a select that
        hides rows) would otherwise write over rows, or delete those it no longer shows."""
        pairs = change.pairs
        events(LogLine(message=f"{change.changed} since the last run: planning the new match "
                               "first (nothing is written yet)", level="warning"))
        plan = Engine(conn, providers[0], providers[1], dry,
                      options=replace(options, dry_run=True, checked=True, planning=True),
                      sink=_progress_and_warnings(events), cancel=cancel).run().plan
        if plan is None:
            return
        ratio = conn.max_delete_ratio
        writes = {side: (getattr(plan, f"create_{side}"), getattr(plan, f"delete_{side}"))
                  for side in ("left", "right")}
        if any(created + deleted > ratio * pairs for created, deleted in writes.values()):
            counts = ", ".join(f"on the {side} {created} created and {deleted} deleted"
                               for side, (created, deleted) in writes.items())
            raise GuardRefused(
                f"{change.changed}, and the new settings find too few of the {pairs} pairs "
                f"synced before: {counts} (more than max_delete_ratio "
                f"{ratio:.0%}); nothing was written (check the settings, or run with --force)",
                guard="Changed settings")

    # -- history and state -------------------------------------------------------------

    def _recorded(self, conn: Connection, ask: Callable[[StateReader], _T], never: _T) -> _T:
        """``ask`` of the connection's state, read-only; ``never`` when none is made yet (never
        run). A state that cannot be looked for (a file in the state folder's place) is a
        StateError, as a run finds it, not "never run"; a symbolic link there is the reader's to
        refuse; a damaged one's error says how to start over."""
        path = self.paths.state_db(conn.slug)
        try:
            path.lstat()
        except FileNotFoundError:
            return never
        except OSError as exc:
            raise state_error(path, exc) from None
        try:
            state = StateReader(path)
        except UnusableState as unusable:
            raise self._hinted(conn, unusable) from None
        try:
            return ask(state)
        finally:
            state.close()

    def history(self, conn: Connection, limit: int = 50, *, real: bool = False,
                run: int | None = None) -> list[RunRecord]:
        """The connection's latest runs, newest first (empty before the first run; ``real``:
        no dry run among them; ``run``: that run alone, if the history holds it)."""
        return self._recorded(conn, lambda state: state.runs(limit, real=real, run=run), [])

    def has_run(self, conn: Connection, run: int) -> bool:
        """Whether the connection's history holds run ``run``."""
        return self._recorded(conn, lambda state: state.has_run(run), False)

    def conflicts(self, conn: Connection, run: int | None = None) -> list[dict[str, Any]]:
        """Recorded conflicts with both sides' values (of one run, or all)."""
        return self._recorded(conn, lambda state: state.conflicts(run), [])

    def item_errors(self, conn: Connection, record: RunRecord, most: int
                    ) -> tuple[list[str], int] | None:
        """The first ``most`` item errors the run's log lists, as every front end words them
        (``error on the right for AC-001: …``, also those of a log an older l2tui wrote), and
        how many it lists in all (None: the run has no log file, or it is gone or cannot be
        read)."""
        try:
            with self._open_log(conn, record) as log:
                return None if log is None else \
                    _item_errors(io.TextIOWrapper(log, encoding="utf-8", errors="replace"), most)
        except OSError:
            return None

    def log_tail(self, conn: Connection, record: RunRecord, most: int
                 ) -> tuple[list[str], bool] | None:
        """The last ``most`` lines of the run's log and whether it holds more before them (a
        long log is read from its end, never whole); None: the run has no log file, or it is
        gone or cannot be read."""
        try:
            with self._open_log(conn, record) as log:
                return None if log is None else _last_lines(log, most)
        except OSError:
            return None

    def log_path(self, conn: Connection, record: RunRecord) -> Path | None:
        """Where the run's log file is (None: the run names none, or not one of l2tui's)."""
        if not record.log or not _LOG_NAME.fullmatch(record.log):
            return None
        return self.paths.run_logs(conn.slug) / record.log

    @contextlib.contextmanager
    def _open_log(self, conn: Connection, record: RunRecord) -> Iterator[IO[bytes] | None]:
        """The run's log file opened to read (None: ``log_path`` names none; OSError: gone,
        unreadable, a link)."""
        path = self.log_path(conn, record)
        if path is None:
            yield None
            return
        with open(open_unfollowed(path, os.O_RDONLY), "rb") as log:
            yield log

    def move_state(self, conn: Connection, old_slug: str) -> None:
        """Carry the state (pairs, cursors, history) and run logs of a connection whose file was
        renamed from ``old_slug``, so it goes on where it was. A state left under the new name
        (by a connection deleted long ago) gives way; RunError while a run of it holds the lock.
        """
        if old_slug == conn.slug:
            return
        with self._lock(conn, slug=old_slug):
            for source, target in zip(self._state_files(old_slug),
                                      self._state_files(conn.slug), strict=True):
                if source.exists():
                    os.replace(source, target)
                else:
                    target.unlink(missing_ok=True)
            logs = self.paths.run_logs(old_slug)
            if logs.is_dir() and not self.paths.run_logs(conn.slug).exists():
                logs.rename(self.paths.run_logs(conn.slug))
            self.lock_path(conn, slug=old_slug).unlink(missing_ok=True)

    def drop_state(self, conn: Connection) -> str | None:
        """Forget a deleted connection's pairs, cursors, history and run logs, so that a
        connection saved later under its name starts afresh; RunError while it runs, a
        ConfigError naming a state file that cannot be removed (a folder in its place). A log
        folder that cannot be removed does not stop it: the one line saying so is returned."""
        with self._lock(conn):
            for path in [*self._state_files(conn.slug), self.lock_path(conn)]:
                try:
                    path.unlink(missing_ok=True)
                except OSError as exc:
                    raise ConfigError(f"cannot remove the sync state file {path}: "
                                      f"{exc.strerror or exc}") from None
            return self._drop_logs(conn)

    def _drop_logs(self, conn: Connection) -> str | None:
        """Remove a deleted connection's log folder, never through a symbolic link (one in its
        place, or in it, is not followed); why it could not be, or None."""
        folder = self.paths.run_logs(conn.slug)
        if folder.is_symlink():
            return (f"its run logs were not deleted: {folder} is a symbolic link, which l2tui "
                    "does not follow (remove it)")
        try:
            shutil.rmtree(folder)
        except FileNotFoundError:  # (it never ran, or its folder was removed by hand)
            return None
        except OSError as exc:
            return (f"its run logs were not deleted: cannot remove {exc.filename or folder}: "
                    f"{exc.strerror or exc}")
        return None

    def lock_path(self, conn: Connection, slug: str | None = None) -> Path:
        """The lock file of a connection (or of the file name ``slug`` it had)."""
        return self.paths.state / f"{slug or conn.slug}.lock"

    def running(self, conn: Connection) -> str | None:
        """The PID of the process running ``conn`` now (as text), or None when none does."""
        try:
            fd = os.open(self.lock_path(conn), os.O_RDONLY)
        except (FileNotFoundError, NotADirectoryError):  # (no state folder: none runs it)
            return None
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _pid_in(fd)
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)

    @contextlib.contextmanager
    def _lock(self, conn: Connection, slug: str | None = None,
              unopened: Callable[[str], int | None] | None = None) -> Iterator[_Held]:
        """Hold the connection's lock (RunError while another process holds it). A lock file
        that cannot be opened (a folder in its place, a folder made read-only) is a setup
        problem (ConfigError, exit 2); a symbolic link in its place is refused (RunError), its
        target untouched. Either way a run is recorded as failed by ``unopened``. The lock file
        is removed at the end when asked (``_Held.remove``), while still held."""
        path = self.lock_path(conn, slug)
        while True:
            fd, made = self._lock_file(path, unopened)
            try:
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    raise AlreadyRunning(f"'{conn.title}' is already running (PID "
                                         f"{_pid_in(fd)})") from None
                if _still_at(fd, path):
                    break
            except BaseException:
                os.close(fd)
                raise
            # (the run that held it removed it as it ended: the file there now is the lock)
            os.close(fd)
        held = _Held(made)
        try:
            os.ftruncate(fd, 0)
            os.pwrite(fd, str(os.getpid()).encode(), 0)
            try:
                yield held
            finally:
                if held.remove:
                    with contextlib.suppress(OSError):
                        path.unlink()
                os.ftruncate(fd, 0)
                fcntl.flock(fd, fcntl.LOCK_UN)
        finally:
            os.close(fd)

    @staticmethod
    def _lock_file(path: Path, unopened: Callable[[str], int | None] | None) -> tuple[int, bool]:
        """The lock file, open (made if none was there), and whether it was made now; see
        ``_lock`` for a lock file that cannot be opened."""
        try:
            make_folder(path.parent)
            try:
                return open_unfollowed(path, os.O_RDWR | os.O_CREAT | os.O_EXCL), True
            except FileExistsError:
                return open_unfollowed(path, os.O_RDWR | os.O_CREAT), False
        except OSError as exc:  # (a folder made read-only, a full disk, a symbolic link there)
            message = f"cannot open the lock file {path}: {exc.strerror or exc}" + (
                "; nothing was run" if unopened is not None else "")  # (a run's; not a delete's)
            linked = exc.errno == errno.ELOOP and os.path.islink(path)
            unusable = RunError(message) if linked else ConfigError(message)
            unusable.run = None if unopened is None else unopened(message)
            raise unusable from None

    @contextlib.contextmanager
    def _log_file(self, conn: Connection, started: float,
                  unlogged: Callable[[str], int | None]) -> Iterator[tuple[IO[str], str]]:
        """A new log file for one run, and its name: its start and process id, and a number
        where runs of one process start within a second (the app runs a connection as often as
        asked). A log folder that cannot be written is a setup problem (ConfigError, exit 2),
        the run recorded as failed by ``unlogged`` (its number, or None)."""
        folder = self.paths.run_logs(conn.slug)
        stamp = time.strftime("%Y%m%d-%H%M%S", time.localtime(started))
        try:
            make_folder(folder)
            for number in itertools.count(1):
                name = f"{stamp}-{os.getpid()}{'' if number == 1 else f'-{number}'}.log"
                with contextlib.suppress(FileExistsError):  # (taken: the next number)
                    fd = os.open(folder / name, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
                    break
        except OSError as exc:
            unusable = ConfigError(f"cannot write the run log in {folder}: "
                                   f"{exc.strerror or exc}; nothing was run")
            unusable.run = unlogged(unusable.message)
            raise unusable from None
        _let_go_of_logs(folder, name, time.time())
        handle = os.fdopen(fd, "a", encoding="utf-8")
        try:
            yield handle, name
        finally:
            with contextlib.suppress(OSError):  # (a full disk: the run's own error is reported)
                handle.close()


@dataclass
class _Held:
    """A connection's lock, held: whether its file was made by this hold, and whether to remove
    it as the hold ends (another process that opened it meanwhile then opens the one there)."""

    made: bool
    remove: bool = False


def _still_at(fd: int, path: Path) -> bool:
    """Whether the open file ``fd`` is still the one at ``path`` (not removed or replaced)."""
    try:
        there = os.stat(path, follow_symlinks=False)
    except FileNotFoundError:
        return False
    mine = os.fstat(fd)
    return (there.st_dev, there.st_ino) == (mine.st_dev, mine.st_ino)


_LOG_NAME = re.compile(r"\d{8}-\d{6}-\d+(-\d+)?\.log")
# an item error's line in a run log, after its time (not a line a message went on to); an older
# l2tui wrote its key after its side as stored: 'error on the right ["k"]: …'
_ITEM_ERROR_LINE = re.compile(rf"\d\d:\d\d:\d\d ({ITEM_ERROR}(left|right) )")


def _let_go_of_logs(folder: Path, current: str, now: float) -> None:
    """Delete the run logs older than KEEP_DAYS but the latest KEEP_RUNS (as the state lets go
    of their runs); files l2tui did not name are left alone, and a file it cannot delete too."""
    try:
        # oldest first: a name starts with its run's start, to the second
        names = sorted(n for n in os.listdir(folder) if _LOG_NAME.fullmatch(n) and n != current)
    except OSError:
        return
    for name in names[:max(0, len(names) - (KEEP_RUNS - 1))]:
        with contextlib.suppress(OSError):
            path = folder / name
            if path.stat().st_mtime < now - KEEP_DAYS * 86400:
                path.unlink()


def _item_errors(lines: Iterable[str], most: int) -> tuple[list[str], int]:
    """The first ``most`` item-error lines of a run log (without their time, as
    ``item_error_text`` words them) and their count."""
    first: list[str] = []
    count = 0
    for line in lines:
        found = _ITEM_ERROR_LINE.match(line)
        if found:
            count += 1
            if count <= most:
                first.append(_reworded(found, line.rstrip("\n")))
    return first, count


TAIL_CHUNK = 64 * 1024
TAIL_BYTES = 4 * 1024 * 1024  # the most of a log's end read for its last lines


def _last_lines(log: IO[bytes], most: int) -> tuple[list[str], bool]:
    """The last ``most`` lines of a log, read backwards a chunk at a time (at most
    ``TAIL_BYTES``), and whether the log holds more before them."""
    end = at = log.seek(0, os.SEEK_END)
    data = b""
    while at > 0 and data.count(b"\n") <= most and end - at < TAIL_BYTES:
        step = min(TAIL_CHUNK, at)
        at -= step
        log.seek(at)
        data = log.read(step) + data
    lines = data.decode("utf-8", errors="replace").splitlines()
    if at > 0:  # (read from within the file: its first line may be the end of one)
        lines = lines[1:]
    return lines[-most:], at > 0 or len(lines) > most


def _reworded(found: re.Match[str], line: str) -> str:
    """An item error's line of a run log without its time; one an older l2tui wrote (its key as
    stored: ``error on the right ["k"]: …``) in today's words."""
    if not line.startswith("[", found.end()):
        return line[found.start(1):]
    try:
        _, end = json.JSONDecoder().raw_decode(line, found.end())
    except ValueError:
        return line[found.start(1):]
    if not line.startswith(": ", end):
        return line[found.start(1):]
    return item_error_text(found[2], line[found.end():end], line[end + 2:])


def _progress_and_warnings(sink: EventSink) -> EventSink:
    """The events of a planning pass worth showing: its progress, warnings and errors."""

    def emit(event: Event) -> None:
        if isinstance(event, Progress) or (isinstance(event, LogLine) and event.level != "info"):
            sink(event)

    return emit


def _pid_in(fd: int) -> str:
    """The PID a lock file holds ('?' while its holder has not written it yet)."""
    return os.pread(fd, 32, 0).decode(errors="replace").strip() or "?"


def _log_writer(handle: IO[str]) -> EventSink:
    """An EventSink writing one line per event (no values of secrets: events carry none). A
    log that can no longer be written (a full disk) is given up: the run goes on, and says its
    own error if the disk stops it too."""
    last_progress: dict[str, float] = {}
    failed: list[OSError] = []

    def write(event: Event) -> None:
        stamp = time.strftime("%H:%M:%S", time.localtime(event.at))
        line = _describe(event, last_progress)
        if line and not failed:
            try:
                handle.write(f"{stamp} {line}\n")
                handle.flush()
            except OSError as exc:
                failed.append(exc)

    return write


def _describe(event: Event, last_progress: dict[str, float]) -> str | None:
    if isinstance(event, RunStarted):
        return f"run started: {event.connection} ({event.direction}){' dry run' if event.dry_run else ''}"
    if isinstance(event, Progress):
        if event.at - last_progress.get(event.phase, 0.0) < 5:
            return None
        last_progress[event.phase] = event.at
        return f"{event.phase}: {event.done}" + (f"/{event.total}" if event.total else "")
    if isinstance(event, LogLine):
        return f"{event.level}: {event.message}"
    if isinstance(event, Conflict):
        return conflict_text(event.key, event.resolution, event.left, event.right,
                             policy=event.policy)
    if isinstance(event, ItemError):
        return item_error_text(event.side, event.key, event.message)
    if isinstance(event, RunFinished):
        r = event.report
        # (a cancelled run's message is "cancelled": what it wrote until then is told instead)
        said = counts_text(asdict(r)) if r.outcome == "cancelled" else r.message
        return f"run finished: {r.outcome} in {seconds_text(r.seconds)}; {said}"
    return None
