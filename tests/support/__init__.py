"""Helpers shared by tests of several layers."""

from __future__ import annotations

import sqlite3
from pathlib import Path


def rows_in_the_file_alone(path: Path, table: str) -> int:
    """How many rows ``table`` has in a SQLite database file, its WAL not read."""
    db = sqlite3.connect(f"file:{path}?immutable=1", uri=True)
    try:
        return int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    finally:
        db.close()
