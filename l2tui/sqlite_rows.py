"""Many rows into SQLite as multi-row ``INSERT … VALUES (…), (…), …`` statements.

``executemany`` lets go of the GIL for each row's step and takes it back after; while another
thread computes, every take-back waits up to the interpreter's switch interval, so a 5,000-row
batch written beside a busy reader can take many seconds. One statement binding many rows steps
once: the GIL is let go for the whole insert, which then runs beside the thread that reads.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from itertools import chain
from typing import Any

# SQLITE_MAX_VARIABLE_NUMBER: 32,766 since SQLite 3.32, 999 before
MAX_VARIABLES = 32_766 if sqlite3.sqlite_version_info >= (3, 32) else 999


def insert_rows(execute: Callable[[str, tuple[Any, ...]], object], head: str, tail: str,
                width: int, rows: Sequence[Sequence[Any]]) -> None:
    """Run ``{head} VALUES (?, …), … {tail}`` over ``rows`` of ``width`` values, in as few
    statements as SQLite's variable limit allows (statement texts repeat: SQLite caches them)."""
    per = max(1, MAX_VARIABLES // max(1, width))
    marks = "(" + ", ".join("?" * width) + ")"
    texts: dict[int, str] = {}
    for start in range(0, len(rows), per):
        part = rows[start:start + per]
        count = len(part)
        text = texts.get(count)
        if text is None:
            text = texts[count] = f"{head} VALUES {', '.join([marks] * count)}{tail}"
        execute(text, tuple(chain.from_iterable(part)))
