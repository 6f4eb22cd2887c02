"""SQLite connections whose waits on another program's lock end when the run is asked to stop.

SQLite waits on a lock inside a statement (its busy timeout), where neither a stop nor
``Connection.interrupt`` reaches it. A stoppable connection waits in slices instead: SQLite's
timeout is one slice, and a statement (or commit) that failed as busy after waiting it out is
tried again until the whole timeout has passed, unless the run was asked to stop meanwhile.

A busy statement changed nothing (SQLite undoes a statement that fails; it is busy only where it
takes a lock, before it writes), and a commit that is busy leaves its transaction open to be
tried again. A busy error SQLite gives at once, without waiting (two transactions that would
wait on each other: one is to give way), is not tried again."""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

SLICE = 0.25
"""Seconds of one wait on a lock, after which a stop is looked at."""
_BUSY = 5  # SQLITE_BUSY


class _PatientCursor(sqlite3.Cursor):
    """A cursor whose statements wait on a lock as its connection's ``patiently`` does."""

    connection: StoppableConnection

    def execute(self, sql: str, parameters: Any = (), /) -> _PatientCursor:
        """``sqlite3.Cursor.execute``, waiting on a lock until the timeout or a stop."""
        run = super().execute
        self.connection.patiently(lambda: run(sql, parameters))
        return self

    def executemany(self, sql: str, seq_of_parameters: Iterable[Any], /) -> _PatientCursor:
        """``sqlite3.Cursor.executemany``, waiting on a lock until the timeout or a stop (the rows
        kept, to be given again)."""
        rows = seq_of_parameters if isinstance(seq_of_parameters, Sequence) \
            else list(seq_of_parameters)
        run = super().executemany
        self.connection.patiently(lambda: run(sql, rows))
        return self


class StoppableConnection(sqlite3.Connection):
    """A sqlite3 connection (made with ``timeout=SLICE``) that waits on a lock for ``patience``
    seconds in all, unless ``stop`` is set first."""

    stop: threading.Event = threading.Event()
    patience: float = 0.0

    def cursor(self, factory: Any = _PatientCursor) -> Any:  # type: ignore[override]
        """A cursor that waits on locks as this connection does."""
        return super().cursor(factory)

    def commit(self) -> None:
        """``sqlite3.Connection.commit``, waiting on readers until the timeout or a stop."""
        self.patiently(super().commit)

    def patiently(self, run: Callable[[], Any]) -> Any:
        """``run()``, tried again while it fails as busy after a whole slice's wait, until
        ``patience`` has passed or ``stop`` is set."""
        deadline = time.monotonic() + self.patience
        while True:
            began = time.monotonic()
            try:
                return run()
            except sqlite3.OperationalError as exc:
                now = time.monotonic()
                if (getattr(exc, "sqlite_errorcode", 0) or 0) & 0xFF != _BUSY \
                        or now - began < SLICE / 2 or now >= deadline or self.stop.is_set():
                    raise


def stoppable(stop: threading.Event, patience: float) -> type[StoppableConnection]:
    """The connection class (sqlite3's ``factory``) of a provider whose waits end at ``stop``,
    else after ``patience`` seconds."""
    return type("StoppableConnection", (StoppableConnection,),
                {"stop": stop, "patience": float(patience)})
