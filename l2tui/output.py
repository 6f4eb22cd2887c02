"""Standard output whose failures (a closed pipe, a full disk) are told apart from others."""

from __future__ import annotations

import errno
from collections.abc import Iterable
from typing import Any, TextIO


class OutputFailed(Exception):
    """Standard output could not be written: a closed pipe (``| head``), a full disk."""

    def __init__(self, error: OSError) -> None:
        super().__init__(error.strerror or str(error))
        self.error = error
        self.code: int | None = None  # the exit code of a command that ended before it said so


class GuardedOutput:
    """``sys.stdout`` whose failures are OutputFailed, told apart from an OSError of a file or
    a connection a command uses; the rest is the stream's own."""

    def __init__(self, stream: TextIO) -> None:
        self.stream = stream

    def write(self, text: str) -> int:
        try:
            return self.stream.write(text)
        except OSError as exc:
            raise OutputFailed(exc) from exc
        except UnicodeEncodeError as exc:  # (a locale that is not UTF-8: the text is not cut)
            shown = exc.object[exc.start:exc.end]
            raise OutputFailed(OSError(errno.EILSEQ, (
                f"its encoding ({exc.encoding}) cannot hold {shown!r}; use a UTF-8 locale "
                "(LANG=C.UTF-8) or set PYTHONIOENCODING=utf-8"))) from exc

    def writelines(self, lines: Iterable[str]) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        try:
            self.stream.flush()
        except OSError as exc:
            raise OutputFailed(exc) from exc

    def __getattr__(self, name: str) -> Any:
        return getattr(self.stream, name)
