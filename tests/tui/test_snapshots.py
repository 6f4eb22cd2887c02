"""SVG snapshots of each page at 80×24 and 120×40 (fixed theme, no cursor blink, fixed paths)."""

from __future__ import annotations

import os
import time
from collections.abc import Iterator

import pytest

from l2tui.providers.base import Column, ColumnType
from l2tui.sync.events import LogLine, PlanCounts, RunReport, RunStarted
from l2tui.tui.screens.preview import PreviewScreen
from l2tui.tui.widgets.mapping_editor import MappingEditor
from l2tui.tui.widgets.run_panel import RunPanel
from tests.tui.conftest import DEMO_TITLE, until

PAGES = ("connection", "entity1", "entity2", "mappings", "run")
SIZES = ((80, 24), (120, 40))
STARTED = 1_750_000_000.0  # a fixed time: the history shows it
ENGINE_SUMMARY = ("left: 0 created, 0 updated, 0 deleted, 0 errors; right: 300 created, "
                  "0 updated, 0 deleted, 0 errors; 0 conflicts (0 unresolved)")
SQL = "SELECT accountid, name, accountnumber, revenue FROM accounts WHERE revenue > 0"


@pytest.fixture
def shown_demo(offline_demo_file):
    """The offline demo with a SQL query on the right (the snapshots show its highlighting)."""
    text = offline_demo_file.read_text().replace('select = "accounts"', f'select = "{SQL}"')
    offline_demo_file.write_text(text)
    return offline_demo_file


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
@pytest.mark.parametrize("page", PAGES)
def test_page_snapshot(snap_compare, make_app, shown_demo, page: str, size: tuple[int, int]) -> None:
    app = make_app(auto_describe=False)

    async def show(pilot) -> None:
        app.action_page(page)
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show)


def _columns(read_only: bool) -> list[Column]:
    """Columns of the accounts as a side describes them (Dynamics has read-only ones)."""
    return [Column("accountid", ColumnType.GUID, key=True), Column("name"),
            Column("accountnumber"), Column("revenue", ColumnType.DECIMAL),
            Column("_transactioncurrencyid_value", ColumnType.GUID, read_only=read_only),
            Column("telephone1"), Column("phone"),
            Column("createdon", ColumnType.DATETIME, read_only=read_only)]


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_mappings_with_loaded_columns_snapshot(snap_compare, make_app, offline_demo_file,
                                               size: tuple[int, int]) -> None:
    # one pair by hand: its row has no "auto" mark
    offline_demo_file.write_text(offline_demo_file.read_text() + '[[mapping.columns]]\n'
                                 'left = "telephone1"\nright = "phone"\n')
    app = make_app(auto_describe=False)

    async def show(pilot) -> None:
        app.action_page("mappings")
        await pilot.pause()
        left = [c for c in _columns(read_only=True) if c.name != "phone"]
        app.query_one(MappingEditor).set_columns(left, _columns(read_only=False))
        await settled(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=show)


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_preview_snapshot(snap_compare, make_app, offline_demo_file, size: tuple[int, int]) -> None:
    app = make_app(auto_describe=False)
    columns = [Column("accountid", ColumnType.GUID, key=True), Column("name"),
               Column("revenue", ColumnType.DECIMAL)]
    rows = [{"accountid": f"00000000-0000-0000-0000-{i:012d}", "name": f"Account {i}",
             "revenue": i * 1000} for i in range(1, 8)]

    async def show(pilot) -> None:
        app.push_screen(PreviewScreen("Dynamics accounts", columns, rows))
        await pilot.pause()

    assert snap_compare(app, terminal_size=size, run_before=show)


async def settled(pilot, app, frames: int = 4, tries: int = 100) -> None:
    """Wait until a few frames in a row are the same (a scroll, a table's column widths and
    a focus move each land a refresh or more after the change that asked for them)."""
    shots: list[str] = []
    for _ in range(tries):
        await pilot.pause(0.05)
        shots = [*shots[-(frames - 1):], app.export_screenshot()]
        if len(shots) == frames and len(set(shots)) == 1:
            return
    raise AssertionError("the screen kept changing")


@pytest.fixture
def utc() -> Iterator[None]:
    """Local time is UTC (the run history shows local times)."""
    old = os.environ.get("TZ")
    os.environ["TZ"] = "UTC"
    time.tzset()
    yield
    if old is None:
        del os.environ["TZ"]
    else:
        os.environ["TZ"] = old
    time.tzset()


@pytest.mark.parametrize("size", SIZES, ids=lambda s: f"{s[0]}x{s[1]}")
def test_run_page_after_a_run_snapshot(snap_compare, make_app, offline_demo_file, utc,
                                       size: tuple[int, int]) -> None:
    app = make_app(auto_describe=False)
    report = RunReport(connection=DEMO_TITLE, outcome="success", started=STARTED,
                       finished=STARTED + 0.2, created_right=300, message=ENGINE_SUMMARY)

    async def show(pilot) -> None:
        await app.workers.wait_for_complete()  # the (empty) history, read when the app opened
        await pilot.pause()
        # fed while the page is hidden: a DataTable drawn between a new row and its next idle
        # keeps that row's first (too narrow) rendering, which would make this snapshot flaky
        panel = app.query_one(RunPanel)
        panel.start(DEMO_TITLE, dry_run=False)
        panel.event(RunStarted(connection=DEMO_TITLE, direction="left_to_right",
                               plan=PlanCounts(create_right=300)))
        panel.event(LogLine(message="the SQLite table accounts has no column 'revenue2': "
                                    "it is not carried (map it by hand on the Mappings page)",
                            level="warning"))
        panel.finish(report)
        started = next(iter(app.query_one("#run-history").columns.values()))
        await until(pilot, lambda: started.content_width == len("2025-06-15 15:06:40"))
        app.action_page("run")
        log = app.query_one("#run-log")
        await until(pilot, lambda: log.lines and app.focused is not None
                    and app.focused.id == "run-now")  # shown, Run Now focused
        await until(pilot, lambda: log.is_vertical_scroll_end)  # the log follows its last line
        await settled(pilot, app)

    assert snap_compare(app, terminal_size=size, run_before=show)
