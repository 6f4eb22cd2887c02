"""Create Table: Verify finds the SQL table missing and offers it; the DDL is shown, then run."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from textual.widgets import Button

from l2tui.config.store import ConnectionStore
from l2tui.tables import plan_table
from l2tui.tui.screens.create_table import CreateTableScreen
from tests.tui.conftest import make_accounts_table, until

SIZE = (120, 40)
SMALL = (80, 24)


def _hint(app, index: int = 2) -> str:
    return str(app.query_one(f"#entity{index}-form #f-connstr .field-hint").render())


def _tables(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]


async def _verified(pilot, app) -> None:
    """Verify Data Entity 2 (its page), until its answer is shown in place."""
    await pilot.press("alt+3", "f2")
    await until(pilot, lambda: _hint(app).startswith(("✓", "✗")))


async def _dialog(pilot, app) -> CreateTableScreen:
    """Verify, then Create Table (F4), until its dialog is up."""
    await _verified(pilot, app)
    await pilot.press("f4")
    await until(pilot, lambda: isinstance(app.screen, CreateTableScreen))
    assert isinstance(app.screen, CreateTableScreen)
    return app.screen


async def test_verify_of_a_sql_entity_without_its_table_offers_create_table(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.query_one("#act-create-table", Button).disabled
        await _verified(pilot, app)
        assert _hint(app).startswith("✗")
        assert "; Create Table (F4) makes the table from the columns of Data Entity 1" in _hint(app)
        assert not app.query_one("#act-create-table", Button).disabled


async def test_create_table_shows_the_ddl_create_table_dry_run_prints(make_app, demo_file, paths) -> None:
    conn = ConnectionStore(paths.connections).load(demo_file.stem)
    plan = plan_table(conn, 2, paths)  # what `l2tui create-table --dry-run` prints, less its ";"
    assert plan is not None
    app = make_app()
    async with app.run_test(size=SMALL) as pilot:
        dialog = await _dialog(pilot, app)
        assert dialog.ddl == plan.ddl.strip() + ";"
        ddl = str(dialog.query_one("#ddl").render())
        assert ddl == dialog.ddl.expandtabs(4)
        assert ddl.startswith("CREATE TABLE accounts (") and "PRIMARY KEY (accountid)" in ddl
        for button in ("#yes", "#no"):  # both in sight at 80×24
            region = dialog.query_one(button).region
            assert region.height > 0 and region.bottom <= SMALL[1], (button, region)


async def test_create_makes_the_table_and_verify_then_passes(make_app, demo_file, sqlite_db) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _dialog(pilot, app)
        await pilot.click("#yes")
        await until(pilot, lambda: _hint(app).startswith("✓"))
        assert "accounts" in _tables(sqlite_db)
        with sqlite3.connect(sqlite_db) as con:
            columns = [r[1] for r in con.execute("PRAGMA table_info(accounts)")]
        assert columns == ["accountid", "name", "accountnumber", "revenue"]
        assert app.query_one("#act-create-table", Button).disabled


async def test_cancel_creates_nothing_and_says_so(make_app, demo_file, sqlite_db) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _dialog(pilot, app)
        await pilot.press("enter")  # Cancel has the focus
        await until(pilot, lambda: any(n.message == "no table was created"
                                       for n in app._notifications))
        await until(pilot, lambda: not isinstance(app.screen, CreateTableScreen))
        await app.workers.wait_for_complete()
        assert _tables(sqlite_db) == []
        assert not app.query_one("#act-create-table", Button).disabled  # still on offer


async def test_a_table_created_meanwhile_is_one_line_of_error(make_app, demo_file, sqlite_db) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _dialog(pilot, app)
        make_accounts_table(sqlite_db)  # someone else was quicker
        await pilot.click("#yes")

        def failed() -> list[str]:
            return [n.message for n in app._notifications if n.severity == "error"
                    and "Create Table failed" in (n.title or "")]

        await until(pilot, failed)
        message = failed()[0]
        assert "already exists" in message and "\n" not in message
        with sqlite3.connect(sqlite_db) as con:  # the other table is left as it was
            assert con.execute("SELECT count(*) FROM accounts").fetchone()[0] == 0


async def test_no_offer_when_the_other_entity_cannot_be_described(make_app, demo_file, emulator) -> None:
    text = demo_file.read_text().replace(emulator.base_url, "http://127.0.0.1:9/api/data/v9.2/")
    demo_file.write_text(text)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _verified(pilot, app)
        assert "; Create Table cannot make it: " in _hint(app)
        assert app.query_one("#act-create-table", Button).disabled


async def test_the_question_names_an_entity_with_its_default_title_once(make_app, demo_file) -> None:
    text = demo_file.read_text().replace('title = "Dynamics accounts"', 'title = "Data Entity 1"')
    demo_file.write_text(text.replace('title = "SQLite accounts"', 'title = "Data Entity 2"'))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _dialog(pilot, app)
        assert dialog.question.startswith("Create the table main.accounts in the SQLite file ")
        assert dialog.question.endswith(" for Data Entity 2, from the columns of Data Entity 1? "
                                        "This runs:")


async def test_f4_when_verify_found_the_table_says_that_it_exists(make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _verified(pilot, app)
        await pilot.press("f4")
        await pilot.pause()
        assert any("the table of Data Entity 2 exists" in n.message for n in app._notifications)


async def test_create_table_names_the_absolute_sqlite_file_of_a_relative_data_source(
        make_app, demo_file, sqlite_db, tmp_path, monkeypatch) -> None:
    """``Data Source=relative.db`` was made in the folder l2tui started in, never named: the
    question names that file whole, and the table's full name, and so does the notice after."""
    started_in = tmp_path / "started-in"
    started_in.mkdir()
    monkeypatch.chdir(started_in)
    demo_file.write_text(demo_file.read_text().replace(f"Data Source={sqlite_db};",
                                                       "Data Source=relative.db;"))
    made = started_in / "relative.db"
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        dialog = await _dialog(pilot, app)
        assert f"the table main.accounts in the SQLite file {made} for Data Entity 2" in \
            dialog.question, dialog.question
        await pilot.click("#yes")
        await until(pilot, lambda: any(n.title == "Create Table" and "created" in n.message
                                       for n in app._notifications))
        [told] = [n.message for n in app._notifications
                  if n.title == "Create Table" and "created" in n.message]
    assert told == f"created the table main.accounts in the SQLite file {made} for Data Entity 2"
    assert "accounts" in _tables(made)
