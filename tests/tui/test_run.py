"""Run Now, Dry Run and Cancel: the run in a worker, fed back as Messages, rows checked in SQLite."""

from __future__ import annotations

import asyncio
import re
import sqlite3
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import requests
from textual.widgets import TabbedContent

from l2tui.config.store import ConnectionStore
from l2tui.paths import Paths
from l2tui.runner import Runner
from l2tui.tui import messages
from l2tui.tui.screens.confirm import ChoiceScreen, ConfirmScreen
from tests.tui.conftest import (
    DEMO_SLUG,
    demo_toml,
    needs_runner,
    screen_lines,
    sqlite_rows,
    until,
)

SIZE = (120, 40)
pytestmark = needs_runner


def prepare(paths: Paths) -> None:
    """Create the demo's SQLite table from the emulator's columns, as `l2tui demo` does."""
    from l2tui.commands.demo import prepare_table
    from l2tui.config.store import ConnectionStore

    prepare_table(ConnectionStore(paths.connections).load(DEMO_SLUG), paths)


@pytest.fixture(scope="module")
def big_emulator() -> Iterator[Any]:
    """An emulator of 100,000 accounts, shared by this module's tests (they only read it)."""
    from l2tui.emulator import Emulator

    with Emulator(rows=100_000, seed=1, auth=False) as emu:
        yield emu


@pytest.fixture
def big_demo(paths: Paths, big_emulator: Any, sqlite_db: Path) -> Path:
    """The demo connection against the emulator of 100,000 accounts."""
    path = paths.connections / f"{DEMO_SLUG}.toml"
    path.write_text(demo_toml(big_emulator.base_url + "accounts", sqlite_db), encoding="utf-8")
    prepare(paths)
    return path


def start_now(app: Any, key: str) -> None:
    """Press a key as a terminal would, without waiting for the app to settle: the pilot's press
    then waits for the process to go idle (up to 1 s, twice), which a run's CPU work prevents, so
    a pressed F5 returned 2 s later, after a 100,000-row run of 1.6 s had ended."""
    app.simulate_key(key)


async def _until(predicate, timeout: float = 30.0) -> None:
    """Wait (briefly yielding to the app) until predicate() holds."""
    for _ in range(int(timeout / 0.02)):
        if predicate():
            return
        await asyncio.sleep(0.02)
    raise AssertionError("timed out")


async def test_run_now_copies_the_accounts_into_sqlite(make_app, demo_file, paths, sqlite_db) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sqlite_rows(sqlite_db) == 50
        assert app.query_one("#pages").active == "run"
        assert str(app.query_one("#run-phase").render()).startswith("success")
        assert app.query_one("#run-history").row_count == 1


async def test_run_now_while_a_field_shows_a_problem_runs_nothing_and_says_which(
        make_app, demo_file, paths, sqlite_db) -> None:
    """A deletion guard typed as "0,05" is not taken: the run would go with the guard it had
    (0.2), as Save Changes refuses to save it."""
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#max-delete").value = "0,05"
        await pilot.pause()
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert sqlite_rows(sqlite_db) == 0
        assert app.query_one("#run-history").row_count == 0
        assert any(n.title == "Not run: fix the marked fields" and "Deletion guard" in n.message
                   for n in app._notifications)


def _words(text: str) -> str:
    return " ".join(text.split())


def _fits(log: Any) -> bool:
    """Whether every line of the log is within its width, with no horizontal scrollbar."""
    width = log.scrollable_content_region.width
    return all(len(line.text.rstrip()) <= width for line in log.lines) and \
        not log.show_horizontal_scrollbar


async def _run_to_the_end(pilot: Any, app: Any) -> str:
    """Run Now and wait for the run's summary; the summary."""
    await pilot.press("f5")
    await app.workers.wait_for_complete()
    await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
    return str(app.query_one("#run-phase").render())


async def test_the_run_log_wraps_a_long_line_to_its_width(make_app, demo_file, paths) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        summary = await _run_to_the_end(pilot, app)
        log = app.query_one("#run-log")
        assert len(summary) > log.scrollable_content_region.width
        assert _fits(log)
        assert _words(summary) in _words(" ".join(line.text for line in log.lines))


async def test_the_run_log_wraps_again_when_the_pane_narrows(make_app, demo_file, paths) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f9", "f10")  # both side panes hidden: the log is at its widest
        summary = await _run_to_the_end(pilot, app)
        log = app.query_one("#run-log")
        wide = log.scrollable_content_region.width
        await pilot.press("f9", "f10")
        await until(pilot, lambda: log.scrollable_content_region.width < wide and _fits(log))
        assert _words(summary) in _words(" ".join(line.text for line in log.lines))


async def test_the_run_summary_gives_each_sides_counts_once_left_first(make_app, demo_file,
                                                                        paths) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        summary = await _run_to_the_end(pilot, app)
        assert summary.startswith("success: ")
        assert summary.count("created") == 2 and summary.count("deleted") == 2
        assert summary.index("left") < summary.index("right 50 created")


async def test_a_runs_summary_reads_the_same_in_the_history_when_reopened(make_app, demo_file,
                                                                          paths) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _run_to_the_end(pilot, app)
        fresh = app.query_one("#run-history").get_row_at(0)[2]
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        reopened = app.query_one("#run-history").get_row_at(0)[2]
    seconds = re.compile(r" in [0-9.]+s")  # the run's end is taken twice, a moment apart
    assert seconds.sub("", reopened) == seconds.sub("", fresh)


async def test_the_run_history_is_shown_when_the_connection_is_opened(make_app, demo_file, paths) -> None:
    from l2tui.config.store import ConnectionStore
    from l2tui.runner import Runner

    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        table = app.query_one("#run-history")
        assert table.row_count == 1
        assert table.get_row_at(0)[1] == "success"


async def test_dry_run_shows_the_plan_first_and_writes_nothing(make_app, demo_file, paths, sqlite_db) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        assert "50 to create" in app.screen.question
        assert sqlite_rows(sqlite_db) == 0
        assert [n.title for n in app._notifications][-1] == "Run: dry run"  # words, not dry_run


async def test_running_after_the_dry_run_applies_the_plan(make_app, demo_file, paths, sqlite_db) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await app.workers.wait_for_complete()
        await pilot.pause()
        await pilot.click("#yes")
        await pilot.pause()
        await app.workers.wait_for_complete()
        assert sqlite_rows(sqlite_db) == 50


async def test_an_incomplete_connection_is_not_run_and_says_what_to_fill_in_where(
        make_app, offline_demo_file) -> None:
    """It started a run that stopped at once: "not set (the connection is not complete: fill it
    in on the Data Entity 1 page of `l2tui`, or in the file)", the command line's words."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n", "f5")
        await until(pilot, lambda: any((n.title or "").startswith("Not run")
                                       for n in app._notifications))
        await app.workers.wait_for_complete()
        assert app.is_running and not app.running
        said = [n for n in app._notifications if (n.title or "").startswith("Not run")]
        assert [n.title for n in said] == ["Not run: the connection is not complete"]
        assert said[0].message == ("Data Entity 1 › Data Provider: none chosen yet; pick one on "
                                   "the Data Entity 1 page (alt+2)")
        assert not str(app.query_one("#run-phase").render()).startswith("run stopped")


async def test_escape_cancels_a_run_cleanly(make_app, big_demo, sqlite_db) -> None:
    app = make_app()
    progress: list[object] = []
    async with app.run_test(size=SIZE, message_hook=lambda m: isinstance(m, messages.RunProgress)
                            and progress.append(m)) as pilot:
        start_now(app, "f5")
        await _until(lambda: progress)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert not app.running
        assert app.query_one("#run-history").get_row_at(0)[1] == "cancelled"
        assert sqlite_rows(sqlite_db) < 100_000


async def test_a_cancelled_run_leaves_the_progress_bar_full_not_empty(make_app, big_demo) -> None:
    """An empty bar read as a run that did nothing; a cancelled one wrote what it had read."""
    app = make_app()
    progress: list[object] = []
    async with app.run_test(size=SIZE, message_hook=lambda m: isinstance(m, messages.RunProgress)
                            and progress.append(m)) as pilot:
        start_now(app, "f5")
        await _until(lambda: progress)
        await pilot.press("escape")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: not app.running)
        bar = app.query_one("#run-progress")
        assert str(app.query_one("#run-phase").render()).startswith("cancelled")
        assert bar.percentage == 1 and bar.has_class("-cancelled")


async def test_a_run_with_item_errors_leaves_the_progress_bar_full_in_the_error_colour(
        make_app, demo_file, sqlite_db) -> None:
    with sqlite3.connect(sqlite_db) as con:  # every account number is refused
        con.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, "
                    "accountnumber TEXT CHECK (accountnumber IS NULL), revenue NUMERIC)")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: not app.running)
        assert str(app.query_one("#run-phase").render()).startswith("errors")
        bar = app.query_one("#run-progress")
        assert bar.percentage == 1 and bar.has_class("-errors")


async def test_f5_pressed_twice_at_once_runs_once_without_a_warning(make_app, demo_file, paths,
                                                                     sqlite_db) -> None:
    """A double press (or a key repeat) means the run it started: "a run is in progress" for
    the second press read as if something had gone wrong."""
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        start_now(app, "f5")
        start_now(app, "f5")
        await until(pilot, lambda: app.running)
        await app.workers.wait_for_complete()
        await until(pilot, lambda: not app.running)
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        assert not [n.message for n in app._notifications if "in progress" in n.message]
        assert sqlite_rows(sqlite_db) == 50


async def _quit_question(app: Any) -> str:
    """Ctrl+Q (sent as a terminal would, while the run goes), the question, then Escape (stay)."""
    app.simulate_key("ctrl+q")
    await _until(lambda: isinstance(app.screen, ChoiceScreen) and app.screen.is_mounted)
    question = app.screen.question
    app.simulate_key("escape")
    await _until(lambda: not isinstance(app.screen, ChoiceScreen))
    return question


async def test_quit_during_a_run_says_there_is_a_run_in_progress(make_app, big_demo) -> None:
    app = make_app()
    progress: list[object] = []
    async with app.run_test(size=SIZE, message_hook=lambda m: isinstance(m, messages.RunProgress)
                            and progress.append(m)):
        start_now(app, "f5")
        await _until(lambda: progress)
        assert await _quit_question(app) == \
            "There is a run in progress (it will be cancelled). Quit anyway?"
        app.query_one("#conn-title").value = "Changed"
        await _until(lambda: app.workspace.dirty)
        assert await _quit_question(app) == (
            "There are unsaved changes in Changed and a run in progress (it will be cancelled)."
            " Quit anyway?")
        assert app.running, "the run ended before the questions: they asked nothing of it"
        app.action_cancel_run()
        await app.workers.wait_for_complete()


async def test_a_key_is_answered_while_a_100000_row_run_goes(make_app, big_demo, sqlite_db) -> None:
    app = make_app()
    progress: list[object] = []
    running_when_switched: list[bool] = []  # was the run going when the app handled the key?
    pressed: list[bool] = []

    def hook(message: object) -> None:
        if isinstance(message, messages.RunProgress):
            progress.append(message)
        elif isinstance(message, TabbedContent.TabActivated) and pressed and \
                not running_when_switched:
            running_when_switched.append(app.running)

    async with app.run_test(size=SIZE, message_hook=hook) as pilot:
        start_now(app, "f5")
        await _until(lambda: progress)
        # the pilot's press returns once the app is idle, which a run's stream of progress
        # messages can delay to its end: the app's state when it handled the key is what counts
        pressed.append(True)
        await pilot.press("alt+1")
        await _until(lambda: running_when_switched)
        assert app.query_one("#pages").active == "connection"
        assert running_when_switched == [True], "the key was answered only after the run"
        await pilot.press("escape")
        await app.workers.wait_for_complete()


def _all_rows(db: Path) -> list[Any]:
    with sqlite3.connect(db) as con:
        return con.execute("SELECT * FROM accounts ORDER BY accountid").fetchall()


async def _refused_then_forced(app: Any, pilot: Any, guard: str,
                                done: Callable[[], bool]) -> None:
    """Run Now meets a guard: its dialog is titled for it, and Run anyway runs with force."""
    await pilot.press("f5")
    await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
    assert app.screen.title_text == guard and "Run anyway (force)?" in app.screen.question
    await pilot.press("y")
    await until(pilot, lambda: not app.running and done())


async def test_a_run_the_deletion_guard_refuses_can_be_run_anyway(
        make_app, demo_file, paths, sqlite_db, emulator) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: not app.running and sqlite_rows(sqlite_db) == 50)
        for row in list(emulator.store.rows("accounts")):
            emulator.store.delete("accounts", row["accountid"])
        await _refused_then_forced(app, pilot, "Deletion guard",
                                   lambda: sqlite_rows(sqlite_db) == 0)


async def test_a_dry_run_the_deletion_guard_would_refuse_says_so_before_run_now(
        make_app, demo_file, paths, sqlite_db, emulator) -> None:
    """The dry run's "Run now?" tells the run would not end cleanly, not the plan's counts
    alone (it offered Run Now as after any plan)."""
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await until(pilot, lambda: not app.running and sqlite_rows(sqlite_db) == 50)
        for row in list(emulator.store.rows("accounts")):
            emulator.store.delete("accounts", row["accountid"])
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        question = app.screen.question
        assert "The run would not end cleanly: a real run would refuse to delete 50" in question
        assert question.endswith("Run now?")
    assert sqlite_rows(sqlite_db) == 50


async def test_a_target_select_that_now_hides_rows_asks_and_forced_writes_over_none(
        make_app, demo_file, paths, sqlite_db, emulator) -> None:
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    keep = sorted(r["accountid"] for r in emulator.store.rows("accounts"))[:5]
    demo_file.write_text(demo_file.read_text().replace(
        'select = "accounts"', 'select = "SELECT * FROM accounts WHERE accountid IN ('
        + ", ".join(f"'{k}'" for k in keep) + ')"'))
    before = _all_rows(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _refused_then_forced(
            app, pilot, "Changed settings",
            lambda: str(app.query_one("#run-phase").render()).startswith("errors"))
    assert _all_rows(sqlite_db) == before and len(before) == 50


async def test_run_now_from_the_mappings_page_stays_on_the_run_page(make_app, demo_file, paths) -> None:
    """The field focused on the page left behind must not pull its page back into view."""
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+pagedown", "ctrl+pagedown", "ctrl+pagedown")
        await until(pilot, lambda: app.query_one("#pages", TabbedContent).active == "mappings")
        await app.workers.wait_for_complete()
        app.query_one("#auto").focus()
        await pilot.pause()
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert app.query_one("#pages", TabbedContent).active == "run"
        assert str(app.query_one("#run-phase").render()).startswith("success")


LONG_SUMMARY = ("left: 0 created, 0 updated, 0 deleted; right: 0 created, 0 updated, 0 deleted in "
                "0.4s — cannot write to the SQLite table accounts: attempt to write a readonly "
                "database (/srv/l2tui/demo.db); check the file's permissions and run again")


@pytest.mark.parametrize("size", [(120, 40), (100, 30), (100, 24), (80, 24)])
async def test_a_long_summary_in_the_run_history_wraps_instead_of_scrolling_sideways(
        make_app, offline_demo_file, size) -> None:
    from l2tui.tui.widgets.run_panel import RunPanel

    app = make_app()
    async with app.run_test(size=size) as pilot:
        app.action_page("run")
        await pilot.pause()
        app.query_one(RunPanel).show_history([(1750000000.0, "failed", LONG_SUMMARY),
                                              (1749990000.0, "success", "short")])
        table = app.query_one("#run-history")
        await until(pilot, lambda: table.row_count == 2)
        await pilot.pause()
        assert table.virtual_size.width <= table.scrollable_content_region.width
        assert not table.show_horizontal_scrollbar
        table.scroll_end(animate=False, immediate=True)
        await pilot.pause()
        shown = " ".join(strip.text for strip in table.render_lines(
            table.scrollable_content_region.reset_offset))
        assert "run again" in shown  # the whole summary is there to read, scrolling down


async def test_a_narrow_run_history_puts_the_outcome_before_the_summary_and_the_time_under_the_date(
        make_app, offline_demo_file) -> None:
    """Beside both side panes (100 columns, the Actions pane shown with F10) Started, Outcome
    and Summary leave the Summary too narrow to read: Started takes two lines and the Outcome
    opens the Summary."""
    from l2tui.sync.summaries import local_time
    from l2tui.tui.widgets.run_panel import RunPanel

    app = make_app()
    async with app.run_test(size=(100, 30)) as pilot:
        await pilot.press("f10")  # (from 100 columns the list alone shows: the page keeps 80)
        app.action_page("run")
        await pilot.pause()
        app.query_one(RunPanel).show_history([(1750000000.0, "failed", LONG_SUMMARY)])
        table = app.query_one("#run-history")
        await until(pilot, lambda: table.row_count == 1)
        await pilot.pause()
        lines = [strip.text for strip in table.render_lines(table.scrollable_content_region.reset_offset)]
        date, time = local_time(1750000000.0).split(" ")
        assert lines[1].split()[:4] == [date, "failed:", "left:", "0"], lines
        assert lines[2].split()[0] == time, lines
        summary = " ".join(" ".join(line[len(date) + 3:] for line in lines[1:]).split())
        assert "0 updated, 0 deleted; right:" in summary  # whole words, not cut at the table's edge


async def _runs_into_a_conflict(pilot: Any, app: Any, sqlite_db: Path, emulator: Any) -> str:
    """Run Now; then, bidirectional with ``skip``, one account's name edited on both sides and
    Run Now again (a conflict). The account's key."""
    await pilot.press("f5")
    await app.workers.wait_for_complete()
    await pilot.pause()
    app.query_one("#direction").value = "bidirectional"
    app.query_one("#conflict").value = "skip"
    await until(pilot, lambda: app.current.conflict_resolution.value == "skip")
    with sqlite3.connect(sqlite_db) as con:
        key: str = con.execute("SELECT accountid FROM accounts ORDER BY accountid").fetchone()[0]
        con.execute("UPDATE accounts SET name = 'Edited in SQL' WHERE accountid = ?", (key,))
    with requests.Session() as http:
        http.trust_env = False
        http.patch(f"{emulator.base_url}accounts({key})", json={"name": "Edited in CRM"},
                   timeout=10).raise_for_status()
    await pilot.press("f5")
    await app.workers.wait_for_complete()
    await pilot.pause()
    return key


async def test_a_conflict_in_the_log_names_the_column_and_both_values(make_app, demo_file, paths,
                                                                      sqlite_db, emulator) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        key = await _runs_into_a_conflict(pilot, app, sqlite_db, emulator)
        lines = [t for t in app.query_one("#run-log").texts if t.startswith("conflict ")]
        assert len(lines) == 1, list(app.query_one("#run-log").texts)
        assert key in lines[0] and "skipped" in lines[0]
        assert "name: 'Edited in CRM' (left) ≠ 'Edited in SQL' (right)" in lines[0]
        assert "accountnumber" not in lines[0]  # only what differs


async def test_a_dry_run_in_the_history_reads_as_a_plan_not_as_writes(make_app, demo_file, paths) -> None:
    from l2tui.config.store import ConnectionStore
    from l2tui.runner import Runner

    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG), dry_run=True)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#run-history")
        await until(pilot, lambda: table.row_count == 1)
        summary = table.get_row_at(0)[2]
        assert summary.startswith("plan — right: 50 to create"), summary
        assert "created" not in summary and "-0.0s" not in summary
        assert table.get_row_at(0)[1] == "dry run"


async def test_cancelling_stays_shown_while_progress_still_arrives(make_app, offline_demo_file) -> None:
    """The engine stops at its next check: the progress it reports meanwhile keeps 'cancelling…'."""
    import threading

    from l2tui.sync.events import Progress
    from l2tui.tui.widgets.run_panel import RunPanel

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        panel = app.query_one(RunPanel)
        panel.start("Demo", dry_run=False)
        app.cancel_event = threading.Event()  # as a run going in its worker has it
        app.action_cancel_run()
        panel.progress(Progress(phase="read left", done=50_000))
        await pilot.pause()
        assert str(app.query_one("#run-phase").render()) == "cancelling… (read left: 50,000)"
        panel.start("Demo", dry_run=False)  # the next run starts afresh
        panel.progress(Progress(phase="read left", done=5_000))
        await pilot.pause()
        assert str(app.query_one("#run-phase").render()) == "read left: 5,000"


async def test_f6_in_the_select_statement_starts_a_dry_run(make_app, demo_file, paths,
                                                           sqlite_db) -> None:
    """TextArea's own F6 (select the line) must not swallow Dry Run."""
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        await until(pilot, lambda: app.query_one("#pages", TabbedContent).active == "entity1")
        app.query_one("#entity1-form #select").focus()
        await until(pilot, lambda: app.focused is app.query_one("#entity1-form #select"))
        await pilot.press("f6")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "50 to create" in app.screen.question


async def test_the_footer_keeps_its_key_order_while_the_select_statement_has_the_focus(
        make_app, demo_file) -> None:
    """F6 is the app's Dry Run in the select statement too (TextArea's F6 selects the line):
    the footer lists it in its own place, not first as if it were the field's key."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        await until(pilot, lambda: app.query_one("#pages", TabbedContent).active == "entity1")

        def footer() -> list[tuple[str, str]]:
            return [(k.key, k.description) for k in app.query("FooterKey")]

        app.query_one("#entity1-form #title").focus()
        await until(pilot, lambda: bool(footer()))
        await pilot.pause(0.2)
        in_the_title = footer()
        assert ("f6", "Dry") in in_the_title, in_the_title
        app.query_one("#entity1-form #select").focus()
        await until(pilot, lambda: app.focused is app.query_one("#entity1-form #select"))
        for _ in range(10):  # (the footer follows the focus a moment later)
            await pilot.pause(0.05)
        assert footer() == in_the_title


async def _run_with_an_unsaved_bad_primary_key(pilot, app) -> str:
    """Run Now after Data Entity 2's Primary Key was set (not saved) to a column it lacks: the
    run stops before it starts; its phase line."""
    await pilot.press("alt+3")
    app.query_one("#entity2-form #primary-key").value = "acctid"  # not saved
    await pilot.press("f5")
    await until(pilot, lambda: str(app.query_one("#run-phase").render()).startswith("run stopped"))
    return str(app.query_one("#run-phase").render())


async def test_a_run_that_stops_before_it_starts_leaves_the_progress_bar_still(make_app, demo_file,
                                                                                paths) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _run_with_an_unsaved_bad_primary_key(pilot, app)
        await until(pilot, lambda: not app.running)
        bar = app.query_one("#run-progress")
        assert bar.total is not None, "the bar still animates 'total unknown' as if running"


async def test_a_run_stopped_by_a_field_names_the_field_not_the_saved_file(make_app, demo_file,
                                                                          paths) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        phase = await _run_with_an_unsaved_bad_primary_key(pilot, app)
        assert phase.startswith("run stopped: Data Entity 2 › Primary Key: "), phase
        assert ".toml" not in phase, phase


async def test_a_history_read_while_the_app_closes_is_dropped_without_an_error(
        make_app, demo_file, paths) -> None:
    # (a worker's answer may come after the run panel's widgets are gone: it crashed the app)
    from l2tui.tui.widgets.run_history import RunHistory
    from l2tui.tui.widgets.run_panel import RunPanel

    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE):
        panel = app.query_one(RunPanel)
        await panel.query_one(RunHistory).remove()
        panel.show_history([(0.0, "success", "left 1 created")])


async def _details_of_the_newest_run(pilot: Any, app: Any) -> str:
    """Enter on the newest run of the history; the text of the details it opens."""
    from l2tui.tui.screens.run_details import RunDetailsScreen

    history = app.query_one("#run-history")
    history.focus()
    history.move_cursor(row=0)
    await pilot.press("enter")
    await until(pilot, lambda: isinstance(app.screen, RunDetailsScreen))
    screen = app.screen
    return str(screen.query_one("Label").content) + "\n" + \
        str(screen.query_one("#run-details").content)


async def test_enter_on_a_run_in_the_history_shows_it_with_its_conflicts(make_app, demo_file, paths,
                                                                         sqlite_db, emulator) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        key = await _runs_into_a_conflict(pilot, app, sqlite_db, emulator)
        text = await _details_of_the_newest_run(pilot, app)
        assert text.startswith("Run 2 of ") and "— conflicts" in text.splitlines()[0], text
        assert "Conflicts (1):" in text and key in text, text
        assert "name: 'Edited in CRM' (left) ≠ 'Edited in SQL' (right)" in text
        [log] = [line.split(": ", 1)[1] for line in text.splitlines()
                 if line.startswith("Run log: ")]
        assert Path(log).parent == paths.run_logs(DEMO_SLUG)
        assert "conflict " in Path(log).read_text()  # (the run's own log)
        await pilot.press("escape")
        await until(pilot, lambda: app.query_one("#run-history").has_focus)


async def test_a_run_without_conflicts_says_so_in_its_details(make_app, demo_file, paths) -> None:
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        text = await _details_of_the_newest_run(pilot, app)
        assert text.startswith("Run 1 of ") and "— success" in text.splitlines()[0], text
        assert "right 50 created" in text and "No conflicts." in text, text


def _run_with_50_item_errors(paths: Paths, sqlite_db: Path) -> None:
    """A run of the demo whose SQLite table refuses every account number: 50 item errors."""
    with sqlite3.connect(sqlite_db) as con:
        con.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, "
                    "accountnumber TEXT CHECK (accountnumber IS NULL), revenue NUMERIC)")
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))


async def test_a_run_with_item_errors_lists_the_first_of_them_in_its_details(
        make_app, demo_file, paths, sqlite_db) -> None:
    from l2tui.tui.jobs import MOST_ITEM_ERRORS

    _run_with_50_item_errors(paths, sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        text = await _details_of_the_newest_run(pilot, app)
    lines = text.splitlines()
    assert "Item errors (50):" in lines, text
    shown = [line for line in lines if line.startswith("error on the right for ")]
    assert len(shown) == MOST_ITEM_ERRORS, text
    assert all(line.endswith(": CHECK constraint failed: accountnumber IS NULL")
               for line in shown), shown
    [log] = [line.split(": ", 1)[1] for line in lines if line.startswith("Run log: ")]
    logged = [line.split(" ", 1)[1] for line in Path(log).read_text().splitlines()
              if " error on the right for " in line]
    assert shown == logged[:MOST_ITEM_ERRORS]  # the log's own wording, in its order
    assert f"and {50 - MOST_ITEM_ERRORS} more in the run log" in lines, text


def _logged_item_errors(log: Path) -> list[str]:
    """The item errors a run log file lists, without their time."""
    return [line.split(" ", 1)[1] for line in log.read_text().splitlines()
            if " error on the " in line]


async def test_an_item_error_reads_alike_in_the_run_log_its_file_its_details_and_on_stderr(
        make_app, demo_file, paths, sqlite_db, run_cli) -> None:
    """Every account number refused: the Run page's log, the run's log file and its details say
    each of the 50 in one line, and `l2tui run` (failing them again) the first 20 on stderr, word
    for word."""
    with sqlite3.connect(sqlite_db) as con:
        con.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, "
                    "accountnumber TEXT CHECK (accountnumber IS NULL), revenue NUMERIC)")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: not app.running)
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        live = [t for t in app.query_one("#run-log").texts if t.startswith("error ")]
        details = [line for line in (await _details_of_the_newest_run(pilot, app)).splitlines()
                   if line.startswith("error ")]
    [log] = paths.run_logs(DEMO_SLUG).iterdir()
    logged = _logged_item_errors(log)
    result = run_cli("run", DEMO_SLUG)
    assert result.returncode == 1, result.stderr
    stderr = [line for line in result.stderr.splitlines() if line.startswith("error ")]
    assert len(logged) == 50 and all(re.fullmatch(
        r"error on the right for [0-9a-f-]{36}: CHECK constraint failed: accountnumber IS NULL",
        line) for line in logged), logged
    assert live == logged and details == logged[:len(details)] and len(details) == 20
    # (stderr says the first 20 of a run's item errors, then how many more its log holds)
    assert len(stderr) == 20 and set(stderr) <= set(logged), result.stderr
    assert "l2tui: … and 30 more item errors; the run's log has every one: " in result.stderr


async def test_a_runs_details_word_the_item_errors_of_an_older_log_as_today(
        make_app, demo_file, paths, sqlite_db) -> None:
    """A log an older l2tui wrote (each key as stored: 'error on the right ["…"]: …') is listed
    in today's words."""
    _run_with_50_item_errors(paths, sqlite_db)
    [log] = paths.run_logs(DEMO_SLUG).iterdir()
    today = _logged_item_errors(log)
    log.write_text(re.sub(r"error on the right for ([0-9a-f-]{36}):", r'error on the right ["\1"]:',
                          log.read_text()))
    assert not _logged_item_errors(log)[0].startswith("error on the right for ")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        text = await _details_of_the_newest_run(pilot, app)
    shown = [line for line in text.splitlines() if line.startswith("error ")]
    assert shown == today[:20] and all(re.fullmatch(
        r"error on the right for [0-9a-f-]{36}: CHECK constraint failed: accountnumber IS NULL",
        line) for line in shown), text
    assert "Item errors (50):" in text.splitlines()


async def test_a_runs_long_details_keep_their_close_button_in_sight_at_80x24(
        make_app, demo_file, paths, sqlite_db) -> None:
    from textual.widgets import Button

    _run_with_50_item_errors(paths, sqlite_db)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        await _details_of_the_newest_run(pilot, app)
        await pilot.pause()
        close = app.screen.query_one("#close", Button)
        dialog = app.screen.query_one(".dialog")
        assert dialog.content_region.contains_region(close.region), \
            (close.region, dialog.content_region)


async def test_a_runs_details_count_its_item_errors_when_its_log_is_gone(
        make_app, demo_file, paths, sqlite_db) -> None:
    _run_with_50_item_errors(paths, sqlite_db)
    for log in paths.run_logs(DEMO_SLUG).iterdir():
        log.unlink()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        text = await _details_of_the_newest_run(pilot, app)
    assert "Item errors (50):\n(the run log that listed them is gone)" in text, text


async def test_the_footer_offers_a_runs_details_while_the_history_has_the_focus(
        make_app, demo_file, paths) -> None:
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        app.query_one("#run-history").focus()

        def footer() -> list[tuple[str, str]]:
            return [(k.key, k.description) for k in app.query("FooterKey")]

        await until(pilot, lambda: ("enter", "Details") in footer())


def _killed_run(paths: Paths) -> None:
    """A run recorded as started and never ended, as ``kill -9`` leaves it (no lock held)."""
    from l2tui.sync.state import StateStore

    state = StateStore(paths.state_db(DEMO_SLUG))
    state.start_run()
    state.close()


async def test_a_killed_run_reads_unfinished_in_the_run_history(make_app, offline_demo_file,
                                                                paths) -> None:
    _killed_run(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        table = app.query_one("#run-history")
        await until(pilot, lambda: table.row_count == 1)
        assert table.get_row_at(0)[1] == "unfinished"


async def test_a_killed_runs_details_say_unfinished(make_app, offline_demo_file, paths) -> None:
    _killed_run(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.query_one("#run-history").row_count == 1)
        text = await _details_of_the_newest_run(pilot, app)
        assert text.startswith("Run 1 of ") and text.splitlines()[0].endswith("— unfinished"), text


async def test_a_run_log_past_its_limit_begins_at_a_whole_line_and_points_to_the_log_file(
        make_app, demo_file) -> None:
    """A long run's errors (46,736 of them, each wrapped into two rows): the log keeps its last
    lines whole, never the tail of one cut in two, and says where the rest is."""
    from l2tui.tui.widgets.run_panel import LOG_LINES, RunPanel

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+5")
        panel = app.query_one(RunPanel)
        log = app.query_one("#run-log")
        wrapped = "error on the right for [{}]: CHECK constraint failed: " + "x" * log.size.width
        for n in range(LOG_LINES + 10):
            panel.add(wrapped.format(n))
        await pilot.pause()
        assert log.lines[0].text.startswith("error on the right for [10]:")
        assert "log file" in str(log.border_title)


async def test_a_dry_run_lists_the_items_it_would_write_in_the_run_log(make_app, demo_file, paths,
                                                                        sqlite_db) -> None:
    prepare(paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f6")
        await app.workers.wait_for_complete()
        await pilot.pause()
        texts = list(app.query_one("#run-log").texts)
        at = texts.index("To create on Data Entity 2 (right): 50")
        assert len(texts[at + 1].strip()) == 36  # an accountid: the match key of the first
        assert texts[at + 21] == "  … and 30 more"


async def test_at_80x24_the_footer_shows_cancel_run_and_f10_whole_while_a_run_goes(
        make_app, big_demo) -> None:
    """esc Cancel Run joins the footer while the run goes: at 80 columns it pushed f10 Actions
    past the edge. The footer leaves out F5 and F6 (disabled while it runs) instead."""
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("alt+5")
        await pilot.pause()
        start_now(app, "f5")
        await _until(lambda: "Cancel Run" in screen_lines(app)[-1])
        footer = screen_lines(app)[-1]
        assert "esc Cancel Run" in footer and footer.rstrip().endswith("f10 Actions"), footer
        app.action_cancel_run()
        await app.workers.wait_for_complete()


async def _last_run_shown(pilot: Any, app: Any) -> str:
    """Wait for the Run page to show the latest run of the history; its header."""
    await until(pilot, lambda: str(app.query_one("#run-phase").render()).startswith("Last run: "))
    return str(app.query_one("#run-phase").render())


async def test_a_reopened_app_shows_the_last_runs_header_and_its_log(make_app, demo_file,
                                                                     paths) -> None:
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    [log] = paths.run_logs(DEMO_SLUG).iterdir()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        header = await _last_run_shown(pilot, app)
        started, outcome, summary = app.query_one("#run-history").get_row_at(0)
        assert header == f"Last run: {started} · {outcome} · {summary}"
        assert outcome == "success" and "right 50 created" in summary
        assert list(app.query_one("#run-log").texts) == log.read_text().splitlines()


async def test_a_connection_never_run_shows_the_empty_run_page(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert str(app.query_one("#run-phase").render()) == "not running"
        assert list(app.query_one("#run-log").texts) == []


async def test_run_now_replaces_the_last_runs_log_with_the_live_one(make_app, demo_file,
                                                                    paths) -> None:
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _last_run_shown(pilot, app)
        await pilot.press("f5")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: app.query_one("#run-history").row_count == 2)
        await pilot.pause()
        texts = list(app.query_one("#run-log").texts)
        assert texts[0].startswith("— run of ") and texts[-1].startswith("success: "), texts
        assert str(app.query_one("#run-phase").render()).startswith("success: ")


async def test_a_long_last_run_log_shows_its_last_lines_and_where_the_whole_log_is(
        make_app, demo_file, paths) -> None:
    from l2tui.tui.jobs import LAST_RUN_LINES

    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    [log] = paths.run_logs(DEMO_SLUG).iterdir()
    with log.open("a") as out:  # (longer than a chunk the end is read in)
        out.writelines(f"12:00:00 line {n} " + "x" * 100 + "\n" for n in range(3000))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _last_run_shown(pilot, app)
        texts = list(app.query_one("#run-log").texts)
    assert texts[0] == f"… the last {LAST_RUN_LINES} lines of its log; all of it: {log}"
    assert texts[1:] == log.read_text().splitlines()[-LAST_RUN_LINES:]


async def test_opening_another_connection_and_back_shows_the_last_run_again(
        make_app, demo_file, paths) -> None:
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    other = paths.connections / "other.toml"
    other.write_text(demo_file.read_text().replace("Demo: ", "Other: "), encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _last_run_shown(pilot, app)
        app.open(other)
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert str(app.query_one("#run-phase").render()) == "not running"
        assert list(app.query_one("#run-log").texts) == []
        app.open(demo_file)
        await _last_run_shown(pilot, app)
        assert len(app.query_one("#run-log").texts) > 1


async def test_a_last_run_whose_log_is_gone_says_so_under_its_header(make_app, demo_file,
                                                                     paths) -> None:
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    [log] = paths.run_logs(DEMO_SLUG).iterdir()
    log.unlink()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _last_run_shown(pilot, app)
        assert list(app.query_one("#run-log").texts) == [f"(its log {log} is gone)"]


async def test_a_last_run_with_an_empty_log_shows_no_line_saying_it_is_gone(make_app, demo_file,
                                                                            paths) -> None:
    """A run that has just begun elsewhere (cron) has a log file with nothing in it yet."""
    prepare(paths)
    Runner(paths).run(ConnectionStore(paths.connections).load(DEMO_SLUG))
    [log] = paths.run_logs(DEMO_SLUG).iterdir()
    log.write_text("")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _last_run_shown(pilot, app)
        assert list(app.query_one("#run-log").texts) == []
