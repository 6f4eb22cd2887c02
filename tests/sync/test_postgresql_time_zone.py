"""Datetimes written to PostgreSQL whatever time zone its server (or database, or role) gives a
session: a naive datetime is UTC to l2tui, and so to its session."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import pytest
import sqlalchemy as sa

from tests.conftest import postgresql_url
from tests.sync.support import make_pair


@pytest.fixture
def tokyo_url() -> str:
    """The test PostgreSQL, its sessions starting in Tokyo (UTC+9), as a server whose
    ``TimeZone`` is set so starts them."""
    url = sa.make_url(postgresql_url())
    return url.update_query_dict({"options": "-c TimeZone=Asia/Tokyo"}).render_as_string(
        hide_password=False)


def test_a_dataverse_time_written_into_a_timestamp_column_is_its_utc_time_and_runs_settle(
        emu: Any, tokyo_url: str) -> None:
    table = f"accounts_{uuid.uuid4().hex[:8]}"
    pair = make_pair(emu, tokyo_url, table)
    try:
        with pair.engine.begin() as c:
            c.exec_driver_sql(f"ALTER TABLE {table} ADD COLUMN modifiedon timestamp")
        key = next(iter(pair.left()))
        modified = next(r["modifiedon"] for r in emu.store.rows("accounts")
                        if r["accountid"] == key)
        assert pair.run().created_right == 20
        with pair.engine.connect() as c:
            stored = c.exec_driver_sql(
                f"SELECT modifiedon FROM {table} WHERE accountid = '{key}'").scalar_one()
        assert stored.replace(tzinfo=UTC) == _utc(modified)
        again = pair.run(full=True)
        assert again.plan is not None and again.plan.writes == 0
    finally:
        pair.table.drop(pair.engine)


def _utc(value: Any) -> datetime:
    """The emulator's modifiedon (a datetime or its ISO text) as an aware UTC datetime."""
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)
