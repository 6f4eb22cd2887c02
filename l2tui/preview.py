"""The first rows of an entity as text: the one way the command line (``l2tui preview``) and the
app (Preview Data, its Export CSV) name the columns, write each cell and write CSV."""

from __future__ import annotations

import csv
import errno
import io
import json
import math
from datetime import date, datetime, time, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any, TextIO

from l2tui.config.files import write_atomically
from l2tui.providers.base import Column, Record


def column_names(columns: list[Column], rows: list[Record]) -> list[str]:
    """The columns in the entity's order, then any other key a row holds."""
    names = [c.name for c in columns]
    for row in rows:
        names.extend(k for k in row if k not in names)
    return names


def cell_text(value: Any) -> str:
    """A value as a table or CSV cell: JSON for a dict or list, hex for bytes, ISO for times."""
    if value is None:
        return ""
    if isinstance(value, dict | list):
        return json_text(value)
    shown = jsonable(value)
    return (shown if isinstance(shown, str) else str(value)).replace("\n", "⏎")


def write_csv(stream: TextIO, names: list[str], rows: list[Record]) -> None:
    """The rows as CSV: a header of ``names``, then a line of cells per row."""
    writer = csv.writer(stream)
    writer.writerow(names)
    for row in rows:
        writer.writerow([cell_text(row.get(n)) for n in names])


def save_csv(path: Path, names: list[str], rows: list[Record]) -> None:
    """Write the rows as CSV to ``path`` atomically (temp file and rename: never half a file),
    mode 0600; OSError when its folder is not there (none is made) or cannot be written."""
    if not path.parent.is_dir():
        raise FileNotFoundError(errno.ENOENT, f"no folder {path.parent}")
    text = io.StringIO(newline="")
    write_csv(text, names, rows)
    write_atomically(path, text.getvalue())


def json_text(value: Any) -> str:
    """A value as JSON text (never NaN or Infinity, which JSON has not: see ``jsonable``)."""
    return json.dumps(jsonable(value), ensure_ascii=False, allow_nan=False)


def jsonable(value: Any) -> Any:
    """A value as JSON takes it: text for a decimal, a time, a duration, bytes (hex), a float
    that is no number ("NaN", "Infinity", "-Infinity") and what JSON has no type for."""
    if value is None or isinstance(value, str | bool | int):
        return value
    if isinstance(value, float):
        return value if math.isfinite(value) else str(Decimal(value))
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, datetime | date | time):
        return value.isoformat()
    if isinstance(value, timedelta):
        return _duration(value)
    if isinstance(value, bytes | bytearray | memoryview):
        return bytes(value).hex()
    return str(value)


def _duration(value: timedelta) -> str:
    """A duration as ``[-]H:MM:SS[.ffffff]``, hours past 24 (as MySQL writes a TIME)."""
    sign = "-" if value < timedelta(0) else ""
    micro = abs(value) // timedelta(microseconds=1)
    seconds, micro = divmod(micro, 1_000_000)
    minutes, seconds = divmod(seconds, 60)
    hours, minutes = divmod(minutes, 60)
    fraction = f".{micro:06d}" if micro else ""
    return f"{sign}{hours}:{minutes:02d}:{seconds:02d}{fraction}"
