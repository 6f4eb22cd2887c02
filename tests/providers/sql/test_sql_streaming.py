"""A full read streams pages: memory stays bounded by the page, not the table."""

from __future__ import annotations

import tracemalloc

import pytest

from tests.providers.sql.conftest import Database

ROWS = 100_000
PAYLOAD = 200  # characters per row


def _fill(db: Database) -> None:
    """100,000 rows made by the server itself (fast), each with a PAYLOAD-character text."""
    db.run(f"CREATE TABLE big (id INTEGER PRIMARY KEY, payload VARCHAR({PAYLOAD}))")
    pad = "x" * (PAYLOAD - 8)
    if db.provider == "postgresql":
        db.run("INSERT INTO big SELECT i, lpad(i::text, 8, '0') || "
               f"'{pad}' FROM generate_series(0, {ROWS - 1}) AS i")
    else:
        db.run(f"WITH RECURSIVE s(i) AS (SELECT 0 UNION ALL SELECT i + 1 FROM s WHERE i < {ROWS - 1}) "
               f"INSERT INTO big SELECT i, printf('%08d', i) || '{pad}' FROM s")


@pytest.mark.parametrize("backend", ["sqlite_db", "pg_db"])
def test_reading_100000_rows_keeps_memory_well_below_the_table_size(
        backend: str, request: pytest.FixtureRequest) -> None:
    db: Database = request.getfixturevalue(backend)
    _fill(db)
    provider = db.open("big", page_size=1000)
    provider.describe()
    count = 0
    last = -1
    tracemalloc.start()
    try:
        for page in provider.read():
            count += len(page.records)
            last = page.records[-1]["id"]
    finally:
        _, peak = tracemalloc.get_traced_memory()
        tracemalloc.stop()
    provider.close()
    assert count == ROWS and last == ROWS - 1
    table_bytes = ROWS * PAYLOAD
    assert peak < table_bytes / 10, f"peak {peak:,} bytes for a {table_bytes:,}-byte table"
