"""Fixtures of the sync tests: an emulator with a few accounts and a SQLite or PostgreSQL table."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import postgresql_url
from tests.sync.support import Pair, make_pair, sqlite_url

DATABASES = ["sqlite", "postgresql"]


def database_url(kind: str, tmp_path: Path) -> str:
    """A SQLAlchemy URL of the right-hand database (PostgreSQL, MySQL/MariaDB only when
    configured)."""
    if kind == "mysql":
        url = os.environ.get("L2TUI_TEST_MYSQL_URL")
        if not url:
            pytest.skip("no MySQL/MariaDB: set L2TUI_TEST_MYSQL_URL")
        return url
    return sqlite_url(tmp_path / "right.db") if kind == "sqlite" else postgresql_url()


@pytest.fixture(params=DATABASES)
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """SQLite always, PostgreSQL when L2TUI_TEST_PG_URL names one."""
    return database_url(request.param, tmp_path)


@pytest.fixture
def emu() -> Iterator[Any]:
    """An emulator with 20 accounts, no sign-in."""
    from l2tui.emulator import Emulator

    with Emulator(rows=20, seed=3, auth=False) as emulator:
        yield emulator


@pytest.fixture
def pair(emu: Any, tmp_path: Path) -> Pair:
    """Emulator accounts → a SQLite table, left to right."""
    return make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
