"""Fixtures of the TUI tests: a config folder holding the demo connection, the app, helpers."""

from __future__ import annotations

import sqlite3
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from l2tui.paths import Paths, resolve_paths

DEMO_TITLE = "Demo: Dynamics accounts to SQLite"
DEMO_SLUG = "demo-dynamics-accounts-to-sqlite"
DEMO_SELECT = "$select=accountid,name,accountnumber,revenue"


def demo_toml(url: str, db: Path, select: str = DEMO_SELECT) -> str:
    """The demo connection: the emulator's accounts (left) to a SQLite file (right)."""
    return f'''title = "{DEMO_TITLE}"
direction = "left_to_right"
conflict_resolution = "left_wins"
deletions = "propagate"
max_delete_ratio = 0.2

[entity1]
title = "Dynamics accounts"
provider = "odata"
connection_string = "URL={url};Authentication=none;"
select = "{select}"
primary_key = ["accountid"]

[entity2]
title = "SQLite accounts"
provider = "sqlite"
connection_string = "Data Source={db};"
select = "accounts"
primary_key = ["accountid"]

[mapping]
auto = true
'''


def sqlite_rows(db: Path, sql: str = "SELECT COUNT(*) FROM accounts") -> Any:
    """One value from the SQLite file (the right side of the demo)."""
    with sqlite3.connect(db) as con:
        return con.execute(sql).fetchone()[0]


def make_accounts_table(db: Path) -> None:
    """An empty SQLite accounts table with the emulator's column names."""
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, "
                    "accountnumber TEXT, revenue NUMERIC)")


@pytest.fixture
def paths(isolated_dirs: dict[str, Path]) -> Paths:
    """The isolated l2tui folders of this test."""
    return resolve_paths().ensure()


@pytest.fixture
def sqlite_db(tmp_path: Path) -> Path:
    """Where the demo's right side lives."""
    return tmp_path / "demo.db"


@pytest.fixture
def demo_file(paths: Paths, emulator: Any, sqlite_db: Path) -> Path:
    """The demo connection, pointing at a running emulator (50 accounts) and a SQLite file."""
    path = paths.connections / f"{DEMO_SLUG}.toml"
    path.write_text(demo_toml(emulator.base_url + "accounts", sqlite_db), encoding="utf-8")
    return path


@pytest.fixture
def offline_demo_file(paths: Paths) -> Path:
    """The demo connection with fixed, unreachable addresses (for snapshots: nothing varies)."""
    path = paths.connections / f"{DEMO_SLUG}.toml"
    text = demo_toml("http://127.0.0.1:9/api/data/v9.2/accounts", Path("/srv/l2tui/demo.db"))
    path.write_text(text, encoding="utf-8")
    return path


@pytest.fixture
def make_app(paths: Paths) -> Callable[..., Any]:
    """An L2App on the isolated folders, with cursor blink off."""
    from l2tui.tui.app import L2App

    def make(**options: Any) -> L2App:
        options.setdefault("cursor_blink", False)
        return L2App(paths, **options)

    return make


def runner_available() -> bool:
    """Whether l2tui.runner has landed."""
    try:
        import l2tui.runner  # noqa: F401
    except ImportError:
        return False
    return True


needs_runner = pytest.mark.skipif(not runner_available(), reason="l2tui.runner is not built yet")


def screen_lines(app: Any, widget: Any = None) -> list[str]:
    """The screen as text lines, as a person sees it (only ``widget``'s region, if given)."""
    lines = [strip.text for strip in app.screen._compositor.render_strips()]
    if widget is None:
        return lines
    region = widget.region
    return [line[region.x:region.right] for line in lines[region.y:region.bottom]]


async def until(pilot: Any, holds: Callable[[], object], timeout: float = 30.0) -> None:
    """Let the app work until ``holds()`` is true (fail after ``timeout`` seconds, never hang)."""
    deadline = time.monotonic() + timeout
    while not holds():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f}s waiting for {holds}")
        await pilot.pause(0.05)
