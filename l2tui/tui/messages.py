"""Messages that carry worker results and run events back to the App (which owns all state)."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from textual.message import Message

from l2tui.sync.events import Event, Progress, RunReport
from l2tui.sync.state import RunRecord
from l2tui.tables import TablePlan


class Edited(Message):
    """A form changed the selected connection (it is now unsaved)."""


class ReadsChanged(Message):
    """What an entity reads changed (its provider, connection string or select): the columns
    loaded for the Mappings page may no longer be the ones a run reads."""


class SecretTyped(Message):
    """A password was typed into an entity's masked field (kept for the keyring, not the file)."""

    def __init__(self, index: int, secret: str) -> None:
        super().__init__()
        self.index = index
        self.secret = secret


class VerifyDone(Message):
    """Verify Connection String finished for one entity (of the file and string it names)."""

    def __init__(self, index: int, ok: bool, message: str, details: tuple[str, ...] = (),
                 warnings: tuple[str, ...] = (), *, path: Path | None = None,
                 connection_string: str = "", table_missing: bool = False,
                 plan: TablePlan | None = None, why_not: str = "",
                 key: tuple[str, ...] = (), in_settings: bool = False,
                 select: str = "", setting: str = "", primary_key: tuple[str, ...] = ()) -> None:
        super().__init__()
        self.index = index
        self.primary_key = primary_key  # the primary key verified
        self.in_settings = in_settings  # failed over a setting (a select), not the connection
        self.setting = setting  # that setting's key (select, primary_key, …), if known
        self.select = select  # the select statement verified
        self.table_missing = table_missing  # a SQL entity's table is not there
        self.plan = plan  # how Create Table would make it (from the other entity's columns)
        self.why_not = why_not  # why there is no plan
        self.key = key  # the settings the plan was made from (jobs.table_key)
        self.path = path
        self.connection_string = connection_string
        self.ok = ok
        self.message = message
        self.details = details
        self.warnings = warnings


class MappingChecked(Message):
    """Verify checked the mapping against both entities (of the file it names), as a run does:
    ok with what it matches by, or the key and message of what a run would refuse."""

    def __init__(self, ok: bool, message: str, warnings: tuple[str, ...] = (), *,
                 path: Path | None = None) -> None:
        super().__init__()
        self.ok = ok
        self.message = message
        self.warnings = warnings
        self.path = path


class PreviewReady(Message):
    """Preview Data read the first rows of one entity (``title`` names it; ``file_name``: the
    file Export CSV offers)."""

    def __init__(self, index: int, title: str, columns: list[Any], records: list[dict[str, Any]],
                 *, file_name: str) -> None:
        super().__init__()
        self.index = index
        self.title = title
        self.columns = columns
        self.records = records
        self.file_name = file_name


class ColumnsDescribed(Message):
    """describe() ran on both entities: the columns of each side, or why not."""

    def __init__(self, left: list[Any] | None, right: list[Any] | None, errors: list[str]) -> None:
        super().__init__()
        self.left = left
        self.right = right
        self.errors = errors


class TableCreated(Message):
    """Create Table ended: the DDL that ran (ok), or the one-line reason it did not; ``place``:
    the table and where it went."""

    def __init__(self, index: int, ok: bool, message: str, *, path: Path | None = None,
                 place: str = "") -> None:
        super().__init__()
        self.index = index
        self.ok = ok
        self.message = message
        self.path = path
        self.place = place  # the table and its SQLite file (``TablePlan.place``)


class RunEvent(Message):
    """One engine event (not progress) from a running sync."""

    def __init__(self, event: Event) -> None:
        super().__init__()
        self.event = event


class RunProgress(Message):
    """Progress of a running sync; a newer one of the same phase replaces a queued older one."""

    def __init__(self, event: Progress) -> None:
        super().__init__()
        self.event = event

    def can_replace(self, message: Message) -> bool:
        """Coalesce bursts: only the latest progress of a phase matters."""
        return isinstance(message, RunProgress) and message.event.phase == self.event.phase


class RunDone(Message):
    """A run ended (the worker returned its report)."""

    def __init__(self, report: RunReport, dry_run: bool) -> None:
        super().__init__()
        self.report = report
        self.dry_run = dry_run


class DeviceCodeShown(Message):
    """A device-code sign-in waits for the person: show the URL and the code."""

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__()
        self.info = info


class SignInEnded(Message):
    """The work that may have asked for a device-code sign-in has ended."""


@dataclass(frozen=True)
class LastRun:
    """The latest run of a connection's history, as its Run page shows it when this app has not
    run it: its history row, the last lines of its log and where that log is."""

    row: tuple[float, str, str]  # (started, outcome, summary), as the history shows it
    finished: bool  # it ended (not running elsewhere now, nor killed)
    lines: list[str]  # its log's last lines (none: no log, or it is gone)
    more: bool  # the log holds more lines before them
    log: Path | None  # its log file, where known
    gone: bool = False  # that log file is gone (or cannot be read)


class HistoryLoaded(Message):
    """The run history of a connection, read by a worker: (started, outcome, summary), newest
    first, and its latest run (None: never run)."""

    def __init__(self, path: Path | None, rows: list[tuple[float, str, str]],
                 last: LastRun | None = None) -> None:
        super().__init__()
        self.path = path
        self.rows = rows
        self.last = last


@dataclass(frozen=True)
class RunDetails:
    """One run of a connection's history, with the conflicts and item errors it met and its log
    folder."""

    connection: str
    record: RunRecord
    outcome: str  # how it ended, or running / unfinished (``run_outcome``)
    conflicts: list[dict[str, Any]]
    logs: Path
    item_errors: list[str] = field(default_factory=list)  # the first its log lists, as worded
    item_error_count: int = 0  # how many it had (its log's count; gone: the history's)


class RunDetailsLoaded(Message):
    """A run's details, read by a worker for the run chosen in the history (None: not found)."""

    def __init__(self, path: Path | None, details: RunDetails | None) -> None:
        super().__init__()
        self.path = path
        self.details = details
