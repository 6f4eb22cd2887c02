"""Errors that carry a one-line message and the exit code the command line returns for them."""

from __future__ import annotations


class L2Error(Exception):
    """Base of every error l2tui reports to a person: one line, no traceback."""

    exit_code = 1
    run: int | None = None  # a run that got far enough to be in the history: its number

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(L2Error):
    """Bad input or configuration: a file, key or value that is not what was expected."""

    exit_code = 2

    def __init__(self, message: str, *, file: str | None = None, key: str | None = None,
                 line: int | None = None) -> None:
        where = ""
        if file:
            where = file + (f":{line}" if line else "")
        if key:
            where = f"{where}: {key}" if where else key
        super().__init__(f"{where}: {message}" if where else message)
        self.file = file
        self.key = key
        self.line = line
        self.detail = message

    def within(self, entity: int) -> ConfigError:
        """This error raised by a data entity's provider, its key named in the connection
        (``select`` → ``entity1.select``); a key already named so, or none, stays."""
        if not self.key or "." in self.key or self.key.startswith(("entity", "mapping")):
            return self
        return ConfigError(self.detail, file=self.file, key=f"entity{entity}.{self.key}",
                           line=self.line)

    def at(self, file: str | None) -> ConfigError:
        """This error with the connection file it is about (if it names none yet)."""
        if self.file or not file:
            return self
        return ConfigError(self.detail, file=file, key=self.key, line=self.line)


class ConnectError(L2Error):
    """Cannot connect to a data source or sign in."""

    exit_code = 3


class RunError(L2Error):
    """A run finished with errors or unresolved conflicts, or could not start."""

    exit_code = 1


class AlreadyRunning(RunError):
    """Another process runs the connection now (it holds the connection's lock)."""


class GuardRefused(RunError):
    """A guard (``guard`` names it) refused the run before it wrote what it guards against;
    ``--force`` (the TUI's "Run anyway") passes it."""

    def __init__(self, message: str, guard: str) -> None:
        super().__init__(message)
        self.guard = guard


class NotAvailable(L2Error):
    """A command whose capability is not built yet."""

    exit_code = 2
