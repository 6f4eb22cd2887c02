"""Verify Connection String, Preview Data and Load Columns against the emulator and SQLite."""

from __future__ import annotations

import sqlite3
import tomllib
from typing import Any

import pytest
from textual.widgets import DataTable, Select

from l2tui.config.store import ConnectionStore
from l2tui.providers import open_entity
from l2tui.runner import Runner
from l2tui.sync.engine import plan_mapping
from l2tui.sync.mapping import MappingPlan
from l2tui.tui.screens.preview import PreviewScreen
from l2tui.tui.widgets.fields import Field
from l2tui.tui.widgets.mapping_editor import MappingEditor
from tests.tui.conftest import DEMO_SLUG, demo_toml, make_accounts_table, screen_lines, until

SIZE = (120, 40)


async def test_verify_connection_string_reports_success_in_place(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "f2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        hint = str(app.query_one("#entity1-form #f-connstr .field-hint").render())
        assert hint.startswith("✓")
        assert app.query_one("#entity1-form #f-connstr", Field).problem is None


async def test_verify_of_an_unreachable_database_shows_the_reason_in_place(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        await pilot.click("#act-verify")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert _connstr_hint(app, 2).startswith("✗")


async def test_verify_from_the_connection_page_checks_both_entities(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")
        await app.workers.wait_for_complete()
        await pilot.pause()
        for index in (1, 2):
            hint = str(app.query_one(f"#entity{index}-form #f-connstr .field-hint").render())
            assert hint.startswith(("✓", "✗")), hint


async def test_preview_data_shows_the_first_rows_in_a_pop_up(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "f3")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert isinstance(app.screen, PreviewScreen)
        table = app.screen.query_one("#preview-table")
        assert table.row_count == 50
        assert "name" in [str(c.label) for c in table.columns.values()]
        await pilot.press("escape")
        assert not isinstance(app.screen, PreviewScreen)


async def test_opening_mappings_loads_columns_and_auto_maps_identical_names(make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        pairs = {(r.left, r.right) for r in editor.rows}
        assert ("name", "name") in pairs and ("revenue", "revenue") in pairs
        assert next(r for r in editor.rows if r.left == "accountid").match_key


async def test_the_mappings_follow_a_select_edited_after_the_columns_were_loaded(
        make_app, demo_file, sqlite_db) -> None:
    """Columns loaded for the old select are not the ones a run reads now: the Mappings page
    reads them again rather than show pairs of columns the select no longer names."""
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        assert "revenue" in {r.left for r in editor.rows}
        await pilot.press("alt+2")
        app.query_one("#entity1-form #select").load_text("$select=accountid,name")
        await pilot.pause()
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        assert {r.left for r in editor.rows} == {"accountid", "name"}


async def test_at_80x24_the_mappings_show_the_match_key_and_auto_marks_without_scrolling(
        make_app, paths, emulator, sqlite_db) -> None:
    from l2tui.commands.demo import prepare_table
    from l2tui.config.store import ConnectionStore

    # every column of the emulator's accounts: names too long for the table to show whole
    file = paths.connections / f"{DEMO_SLUG}.toml"
    file.write_text(demo_toml(emulator.base_url + "accounts", sqlite_db, select=""))
    prepare_table(ConnectionStore(paths.connections).load(DEMO_SLUG), paths)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("alt+4")
        editor = app.query_one(MappingEditor)

        def shown() -> list[list[str]]:
            """Each row as drawn, up to the ↔: its marks, the left column and its type."""
            return [line.split("↔")[0].split()
                    for line in screen_lines(app, editor.query_one("#pairs")) if "↔" in line]

        await until(pilot, lambda: len(editor.rows) > 10)
        table = editor.query_one("#pairs", DataTable)
        for drawn in (["★", "auto", "accountid", "guid"], ["auto", "name", "string"]):
            # (the rows come in the order the service lists its columns: the row is brought
            # into sight, 80x24 shows a few, then waited for as drawn)
            table.move_cursor(row=next(i for i, row in enumerate(editor.rows)
                                       if row.left == drawn[-2]))
            await until(pilot, lambda drawn=drawn: drawn in shown())


async def test_the_mappings_pair_a_choice_s_label_by_name_as_carried_from_dynamics_only(
        make_app, paths, emulator, sqlite_db) -> None:
    with sqlite3.connect(sqlite_db) as con:
        con.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, "
                    "statecodename TEXT, primarycontactidname TEXT)")
    con.close()
    file = paths.connections / f"{DEMO_SLUG}.toml"
    file.write_text(demo_toml(emulator.base_url + "accounts", sqlite_db,
                              select="$select=name,statecodename,primarycontactidname")
                    .replace('"left_to_right"', '"bidirectional"'))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        editor = app.query_one(MappingEditor)
        await until(pilot, lambda: len(editor.rows) == 4)
        rows = {r.left: r for r in editor.rows}
        for name in ("statecodename", "primarycontactidname"):
            assert rows[name].right == name and rows[name].left_read_only
            assert "read-only on the left: carried left → right only" in rows[name].notes
        assert not editor.problems()


def _dataverse_columns(read_only: bool) -> list[Any]:
    """Columns as Dataverse names them (a lookup's name is long), read-only on the left."""
    from l2tui.providers.base import Column, ColumnType

    return [Column("accountid", ColumnType.GUID, key=True), Column("name"),
            Column("accountnumber"),
            Column("_transactioncurrencyid_value", ColumnType.GUID, read_only=read_only),
            Column("address1_composite"),
            Column("createdon", ColumnType.DATETIME, read_only=read_only)]


def _column_text(table: Any, lines: list[str], label: str) -> str:
    """What a column of the table shows, its lines joined without blanks (a wrapped name whole)."""
    x = 0
    for column in table.ordered_columns:
        width = column.get_render_width(table)
        if str(column.label) == label:
            return "".join(line[x:x + width] for line in lines).replace(" ", "")
        x += width
    raise AssertionError(f"no column {label!r}")


@pytest.mark.parametrize("size", [(80, 24), (100, 30), (160, 50)], ids=lambda s: f"{s[0]}x{s[1]}")
async def test_the_mappings_table_shows_both_sides_names_whole_without_scrolling_sideways(
        make_app, offline_demo_file, size: tuple[int, int]) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=size) as pilot:
        app.action_page("mappings")
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        editor.set_columns(_dataverse_columns(True), _dataverse_columns(False))
        table = editor.query_one("#pairs", DataTable)
        await until(pilot, lambda: table.row_count == 6)
        await pilot.pause()
        assert table.max_scroll_x == 0 and table.max_scroll_y == 0, \
            (table.virtual_size, table.scrollable_content_region)
        lines = screen_lines(app, table)
        for label in ("Data Entity 1", "Data Entity 2"):
            shown = _column_text(table, lines, label)
            for column in _dataverse_columns(False):
                assert column.name in shown, (label, column.name, lines)
        assert {"guid", "string", "datetime"} <= set(" ".join(lines).split()), lines  # types too


async def test_at_80x24_every_warning_under_the_mappings_is_shown_whole(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    text = demo_file.read_text().replace('"left_to_right"', '"bidirectional"')
    text = text.replace('"left_wins"', '"latest_wins"')  # neither side has a modifiedon column
    demo_file.write_text(text + '[[mapping.columns]]\nleft = "revenue"\nright = "accountnumber"\n')
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("alt+4")
        editor = app.query_one(MappingEditor)
        await until(pilot, lambda: len(editor.problems()) == 3)

        def drawn() -> str:
            return " ".join(" ".join(screen_lines(app, editor.query_one("#mapping-status"))
                                     ).split())

        # (waited for as drawn: on a loaded machine the status is drawn frames after it is set)
        for problem in editor.problems():
            await until(pilot, lambda problem=problem: " ".join(problem.split()) in drawn())


async def test_x_on_an_auto_mapped_pair_excludes_it_and_save_writes_mapping_exclude(
        make_app, demo_file, sqlite_db, paths) -> None:
    make_accounts_table(sqlite_db)
    store = ConnectionStore(paths.connections)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        table = editor.query_one("#pairs", DataTable)
        table.focus()
        table.move_cursor(row=next(i for i, r in enumerate(editor.rows) if r.left == "revenue"))
        await until(pilot, lambda: ("x", "Exclude") in
                    [(k.key, k.description) for k in app.query("FooterKey")])
        await pilot.press("x")
        await until(pilot, lambda: next(r for r in editor.rows if r.left == "revenue").excluded)
        assert app.current.mapping.exclude == ["revenue"] and app.workspace.dirty
        await until(pilot, lambda: any(line.split()[:2] == ["excl", "revenue"]
                                       for line in screen_lines(app, table)))
        assert "1 excluded" in str(editor.query_one("#mapping-status").render())
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        saved = store.load(DEMO_SLUG)
        assert saved.mapping.exclude == ["revenue"]
        assert "revenue" not in {p.left.name for p in _engine_plan(saved, paths).pairs}
        await pilot.press("x")  # included again
        await until(pilot, lambda: not next(r for r in editor.rows if r.left == "revenue").excluded)
        assert app.current.mapping.exclude == [] and app.workspace.dirty
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
    assert store.load(DEMO_SLUG).mapping.exclude == []


async def test_x_on_the_match_key_pair_says_it_cannot_be_excluded(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        table = editor.query_one("#pairs", DataTable)
        table.focus()
        table.move_cursor(row=next(i for i, r in enumerate(editor.rows) if r.match_key))
        await pilot.press("x")
        await pilot.pause()
        assert app.current.mapping.exclude == [] and not app.workspace.dirty
        assert any("cannot be excluded" in n.message for n in app._notifications)


async def test_a_pair_of_ones_own_naming_an_excluded_column_includes_it_again(
        make_app, demo_file, sqlite_db) -> None:
    """A column both mapped and excluded is refused by the engine: adding the pair takes the
    column out of mapping.exclude, and the page shows no problem."""
    make_accounts_table(sqlite_db)
    demo_file.write_text(demo_file.read_text().replace("[mapping]", '[mapping]\nexclude = ["revenue"]'))
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _manual_mappings(pilot, app)
        assert "revenue" not in {p.left for p in app.current.mapping.columns}
        assert app.current.mapping.exclude == ["revenue"]
        editor.query_one("#pick-left").value = "revenue"
        editor.query_one("#pick-right").value = "revenue"
        await pilot.click("#pair-add")
        assert "revenue" in {p.left for p in app.current.mapping.columns}
        assert app.current.mapping.exclude == [] and editor.problems() == []


async def _manual_mappings(pilot, app) -> MappingEditor:
    """The Mappings page with its columns loaded and auto mapping turned off: its editor."""
    await pilot.press("alt+4")
    await app.workers.wait_for_complete()
    await pilot.pause()
    app.query_one("#auto").value = False
    await pilot.pause()
    return app.query_one(MappingEditor)


async def test_auto_mapping_stays_on_until_the_columns_are_loaded(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()  # (neither side answers: no columns)
        await pilot.pause()
        app.query_one("#auto").value = False
        await pilot.pause()
        assert app.current.mapping.auto and app.query_one("#auto").value
        assert any("Load Columns first" in n.message for n in app._notifications)


async def test_turning_auto_mapping_off_keeps_the_pairs_for_editing(make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _manual_mappings(pilot, app)
        assert not app.current.mapping.auto
        assert {p.left for p in app.current.mapping.columns} >= {"accountid", "name"}


def _engine_plan(conn, paths) -> MappingPlan:
    """The mapping a run of ``conn`` plans, as the engine makes it from both entities."""
    left, right = (open_entity(conn, index, paths) for index in (1, 2))
    with left, right:
        return plan_mapping(conn, left, right)


async def test_turning_auto_mapping_off_keeps_only_the_pairs_a_run_carries(
        make_app, demo_file, sqlite_db, paths) -> None:
    # accountnumber is read-only where it is written, revenue (decimal) cannot go into a BLOB:
    # auto mapping skips both, and the engine refuses them as manual pairs
    with sqlite3.connect(sqlite_db) as con:
        con.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, accountnumber "
                    "TEXT GENERATED ALWAYS AS (upper(name)) VIRTUAL, revenue BLOB)")
    store = ConnectionStore(paths.connections)
    assert Runner(paths).run(store.load(DEMO_SLUG)).created_right == 50
    before = _engine_plan(store.load(DEMO_SLUG), paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _manual_mappings(pilot, app)
        assert not any(r.notes for r in editor.rows) and editor.problems() == []
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
    saved = store.load(DEMO_SLUG)
    assert not saved.mapping.auto
    assert [(p.left, p.right) for p in saved.mapping.columns] == \
        [("accountid", "accountid"), ("name", "name")]
    after = _engine_plan(saved, paths)  # (a ConfigError here: a pair the engine refuses)
    assert [p.label for p in after.pairs] == [p.label for p in before.pairs] == ["name"]
    assert [p.label for p in after.match] == [p.label for p in before.match] == ["accountid"]
    report = Runner(paths).run(saved)
    assert report.outcome == "success" and report.created_right == report.updated_right == 0


async def test_turning_auto_mapping_off_under_a_refused_mapping_keeps_every_pair_and_says_so(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    demo_file.write_text(demo_file.read_text() + '\n[[mapping.columns]]\nleft = "name"\n'
                         'right = "nosuch"\n')
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _manual_mappings(pilot, app)
        assert [(p.left, p.right) for p in app.current.mapping.columns] == [
            ("name", "nosuch"), ("accountid", "accountid"), ("accountnumber", "accountnumber"),
            ("revenue", "revenue")]
        assert any(n.message.startswith("the mapping has a problem") for n in app._notifications)


async def test_turning_auto_mapping_off_and_on_again_gives_back_the_auto_pairs(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        loaded = [(r.left, r.right, r.auto) for r in editor.rows]
        assert all(auto for _, _, auto in loaded)
        await pilot.click("#auto")
        await pilot.pause()
        assert not any(r.auto for r in editor.rows)
        await pilot.click("#auto")
        await pilot.pause()
        assert app.current.mapping.auto and app.current.mapping.columns == []
        assert [(r.left, r.right, r.auto) for r in editor.rows] == loaded
        assert not app.workspace.dirty


async def test_a_pair_added_while_auto_mapping_was_off_stays_when_it_is_on_again(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    with sqlite3.connect(sqlite_db) as con:
        con.execute("ALTER TABLE accounts ADD COLUMN acct_label TEXT")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _manual_mappings(pilot, app)
        editor.query_one("#pairs").move_cursor(row=[r.left for r in editor.rows].index("name"))
        await pilot.pause()
        editor.query_one("#pick-right").value = "acct_label"
        await pilot.click("#pair-change")
        await pilot.pause()
        await pilot.click("#auto")
        await pilot.pause()
        rows = {(r.left, r.right): r.auto for r in editor.rows}
        assert rows[("name", "acct_label")] is False
        assert rows[("revenue", "revenue")] is True and rows[("accountid", "accountid")] is True


async def test_a_pair_can_be_removed_and_added_back(make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _manual_mappings(pilot, app)
        editor.query_one("#pairs").move_cursor(row=[r.left for r in editor.rows].index("revenue"))
        await pilot.click("#pair-remove")
        assert "revenue" not in {p.left for p in app.current.mapping.columns}
        editor.query_one("#pick-left").value = "revenue"
        editor.query_one("#pick-right").value = "revenue"
        await pilot.click("#pair-add")
        assert "revenue" in {p.left for p in app.current.mapping.columns}


async def test_a_changed_pair_keeps_its_place_and_the_cursor_with_the_pickers_stays_on_it(
        make_app, demo_file, sqlite_db) -> None:
    """Change moved the pair to the end of the table while the cursor kept its row number, on
    another pair, whose columns the pickers then showed: a second Change changed that one."""
    make_accounts_table(sqlite_db)
    with sqlite3.connect(sqlite_db) as con:
        con.execute("ALTER TABLE accounts ADD COLUMN acct_label TEXT")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _manual_mappings(pilot, app)
        before = [r.left for r in editor.rows]
        at = before.index("name")
        assert at < len(before) - 1, before  # (not the last row: a move to the end shows)
        editor.query_one("#pairs").move_cursor(row=at)
        await pilot.pause()
        editor.query_one("#pick-right").value = "acct_label"
        await pilot.click("#pair-change")
        await pilot.pause()
        assert (editor.rows[at].left, editor.rows[at].right) == ("name", "acct_label")
        assert editor.query_one("#pairs").cursor_row == at
        assert (editor.query_one("#pick-left").value, editor.query_one("#pick-right").value) == \
            ("name", "acct_label")


async def test_a_pair_added_over_an_automatic_one_says_which_it_replaced(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    with sqlite3.connect(sqlite_db) as con:
        con.execute("ALTER TABLE accounts ADD COLUMN acct_label TEXT")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        editor.query_one("#pick-left").value = "accountnumber"
        editor.query_one("#pick-right").value = "acct_label"
        await pilot.click("#pair-add")
        await pilot.pause()
        assert any("replaces the automatic pair accountnumber ↔ accountnumber" in n.message
                   for n in app._notifications)


async def _mappings_with_accountnumber_as_match_key(pilot, app) -> MappingEditor:
    """The Mappings page, auto mapping off, Match Key set on accountnumber ↔ accountnumber."""
    editor = await _manual_mappings(pilot, app)
    editor.query_one("#pairs").move_cursor(row=[r.left for r in editor.rows].index("accountnumber"))
    await pilot.pause()
    await pilot.click("#pair-key")
    assert app.current.mapping.match_key is not None
    assert app.current.mapping.match_key.left == "accountnumber"
    return editor


async def test_change_does_not_silently_drop_the_match_key_pair(make_app, demo_file, sqlite_db) -> None:
    # name -> accountnumber takes the right column of the match key pair: that pair would
    # vanish (no ★ on screen) while the file kept match_key on it
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _mappings_with_accountnumber_as_match_key(pilot, app)
        editor.query_one("#pairs").move_cursor(row=[r.left for r in editor.rows].index("name"))
        await pilot.pause()
        editor.query_one("#pick-right").value = "accountnumber"
        await pilot.click("#pair-change")
        await pilot.pause()
        starred = [(r.left, r.right) for r in editor.rows if r.match_key]
        assert starred == [("accountnumber", "accountnumber")], starred
        assert ("name", "accountnumber") not in {(p.left, p.right) for p in app.current.mapping.columns}
        assert any("match key" in n.message for n in app._notifications)


async def test_changing_the_match_key_pair_moves_the_match_key_with_it(make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _mappings_with_accountnumber_as_match_key(pilot, app)
        editor.query_one("#pick-left").value = "name"
        await pilot.click("#pair-change")
        await pilot.pause()
        key = app.current.mapping.match_key
        assert (key.left, key.right) == ("name", "accountnumber")
        assert [(r.left, r.right) for r in editor.rows if r.match_key] == [("name", "accountnumber")]


async def test_the_match_key_pair_is_not_removed_silently(make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _mappings_with_accountnumber_as_match_key(pilot, app)
        await pilot.click("#pair-remove")
        await pilot.pause()
        assert [(r.left, r.right) for r in editor.rows if r.match_key] == [("accountnumber", "accountnumber")]
        assert any("match key" in n.message for n in app._notifications)


async def test_a_pair_naming_a_missing_column_is_a_problem_in_place(make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    text = demo_file.read_text() + '[[mapping.columns]]\nleft = "name"\nright = "AccountName"\n'
    demo_file.write_text(text)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        status = str(app.query_one("#mapping-status").render())
        assert "AccountName" in status
        assert app.query_one("#mapping-status").has_class("-problems")


def _connstr_hint(app, index: int) -> str:
    return str(app.query_one(f"#entity{index}-form #f-connstr .field-hint").render())


async def test_editing_the_connection_string_after_a_failed_verify_clears_its_hint(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3", "f2")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: _connstr_hint(app, 2).startswith("✗"))
        app.query_one("#entity2-form #connstr").value = "Data Source=/srv/l2tui/other.db;"
        await until(pilot, lambda: _connstr_hint(app, 2).startswith("keys: "))


async def test_a_verify_result_for_a_string_edited_meanwhile_is_not_shown_in_place(
        make_app, demo_file, emulator) -> None:
    emulator.faults.delay_next(10, 1.0)  # the verify is still going when the string is edited
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "f2")
        await until(pilot, lambda: _connstr_hint(app, 1) == "verifying… (Esc to cancel)")
        edited = app.current.entity1.connection_string.replace("Authentication=none;", "")
        app.query_one("#entity1-form #connstr").value = edited
        await until(pilot, lambda: app.current.entity1.connection_string == edited)
        await app.workers.wait_for_complete()
        await until(pilot, lambda: any("Data Entity 1" in (n.title or "")
                                       for n in app._notifications))
        assert _connstr_hint(app, 1).startswith("keys: ")
        assert app.query_one("#entity1-form #f-connstr", Field).problem is None


async def test_a_failed_verify_is_shown_but_does_not_keep_the_connection_from_saving(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3", "f2")  # its SQLite file does not exist (yet)
        await app.workers.wait_for_complete()
        await until(pilot, lambda: _connstr_hint(app, 2).startswith("✗ no SQLite database file"))
        app.query_one("#entity2-form #title").value = "SQLite accounts (new)"
        await until(pilot, lambda: app.current.entity2.title == "SQLite accounts (new)")
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        assert tomllib.loads(offline_demo_file.read_text())["entity2"]["title"] == \
            "SQLite accounts (new)"
        assert _connstr_hint(app, 2).startswith("✗")  # still shown, as information


async def test_a_connection_string_missing_a_required_key_keeps_the_connection_from_saving(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        app.query_one("#entity2-form #connstr").value = "Connect Timeout=5;"
        await until(pilot, lambda: app.query_one("#entity2-form #f-connstr", Field).problem)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any("Not saved" in (n.title or "") for n in app._notifications))
        assert "Connect Timeout" not in offline_demo_file.read_text()


async def test_a_half_filled_entity_saves_with_its_connection_string_marked_required(
        make_app, offline_demo_file) -> None:
    """A provider picked and no connection string yet: a hint, not a problem that blocks Save."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.current.title == "New Connection")
        app.query_one("#entity1-form #provider").value = "odata"
        await until(pilot, lambda: app.current.entity1.provider == "odata")
        field = app.query_one("#entity1-form #f-connstr", Field)
        assert field.shown.startswith("required: URL=") and field.problem is None
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
    saved = tomllib.loads((offline_demo_file.parent / "new-connection.toml").read_text())
    assert saved["entity1"]["provider"] == "odata"


async def test_verify_names_a_primary_key_the_entity_set_does_not_have(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #primary-key").value = "acountid"
        await pilot.press("f2")
        await until(pilot, lambda: _connstr_hint(app, 1).startswith(("✓", "✗")))
        hint = _connstr_hint(app, 1)
        assert hint == "✗ primary_key: column 'acountid' not found in entity set 'accounts' " \
            "(did you mean 'accountid'?)", hint
        assert not _select_hint(app, 1).startswith("✗")


async def test_the_password_fields_show_only_for_a_provider_that_signs_in(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")  # Data Entity 2: a SQLite file
        sqlite_form, odata_form = app.query_one("#entity2-form"), app.query_one("#entity1-form")
        await until(pilot, lambda: not sqlite_form.query_one("#f-password").display)
        assert not sqlite_form.query_one("#f-password-env").display
        assert odata_form.query_one("#f-password").display
        sqlite_form.query_one("#provider", Select).value = "postgresql"
        await until(pilot, lambda: sqlite_form.query_one("#f-password").display)
        assert sqlite_form.query_one("#f-password-env").display


async def test_verify_says_an_entity_set_the_service_lacks_under_the_connection_string(
        make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        edited = app.current.entity1.connection_string.replace("/accounts;", "/acounts;")
        app.query_one("#entity1-form #connstr").value = edited
        await until(pilot, lambda: app.current.entity1.connection_string == edited)
        await pilot.press("f2")
        await until(pilot, lambda: _connstr_hint(app, 1).startswith(("✓", "✗")))
        hint = _connstr_hint(app, 1)
        assert hint.startswith("✗ connection_string: the service at 127.0.0.1:"), hint
        assert hint.endswith("has no entity set 'acounts' (did you mean 'accounts'?)"), hint
        assert not _select_hint(app, 1).startswith("✗")


def _select_hint(app, index: int) -> str:
    return app.query_one(f"#entity{index}-form #f-select", Field).shown


async def test_verify_says_a_refused_select_under_the_select_statement(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #select").load_text("$select=name,nosuchcolumn")
        await until(pilot, lambda: app.workspace.dirty)
        await pilot.press("f2")
        await until(pilot, lambda: _select_hint(app, 1).startswith("✗"))
        assert "nosuchcolumn" in _select_hint(app, 1)
        assert _connstr_hint(app, 1) == "the Select Statement was refused (below)"
        app.query_one("#entity1-form #select").load_text("$select=name")  # edited: said no more
        await until(pilot, lambda: not _select_hint(app, 1).startswith("✗"))


async def test_verify_and_preview_of_an_entity_without_a_provider_say_to_pick_one(
        make_app, offline_demo_file) -> None:
    """They said "provider: unknown provider ''"."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.current.title == "New Connection")
        await pilot.press("alt+3", "f2")
        lacking = ("Data Entity 2 › Data Provider: none chosen yet; pick one on the Data Entity "
                   "2 page (alt+3)")
        await until(pilot, lambda: _connstr_hint(app, 2) == f"✗ {lacking}")
        await pilot.press("f3")
        await until(pilot, lambda: any(n.title == "No preview" and n.message == lacking
                                       for n in app._notifications))
        await app.workers.wait_for_complete()
        assert not any("unknown provider" in n.message for n in app._notifications)


async def test_editing_a_refused_select_takes_back_the_verify_result_that_pointed_at_it(
        make_app, demo_file) -> None:
    """The connection string said "the Select Statement was refused (below)" after the select
    was edited, with nothing below it any more."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #select").load_text("$select=name,nosuchcolumn")
        await until(pilot, lambda: app.workspace.dirty)
        await pilot.press("f2")
        await until(pilot, lambda: _connstr_hint(app, 1) == "the Select Statement was refused (below)")
        app.query_one("#entity1-form #select").load_text("$select=name")
        await until(pilot, lambda: app.current.entity1.select == "$select=name")
        await until(pilot, lambda: _connstr_hint(app, 1).startswith("keys: "))


async def test_editing_the_primary_key_takes_back_the_verify_result_about_it(
        make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #primary-key").value = "acountid"
        await pilot.press("f2")
        await until(pilot, lambda: _connstr_hint(app, 1).startswith("✗ primary_key"))
        app.query_one("#entity1-form #primary-key").value = "accountid"
        await until(pilot, lambda: app.current.entity1.primary_key == ["accountid"])
        await until(pilot, lambda: _connstr_hint(app, 1).startswith("keys: "))


async def test_a_verify_result_for_a_select_edited_meanwhile_is_not_shown_in_place(
        make_app, demo_file, emulator) -> None:
    emulator.faults.delay_next(10, 1.0)  # the verify is still going when the select is edited
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "f2")
        await until(pilot, lambda: _connstr_hint(app, 1) == "verifying… (Esc to cancel)")
        app.query_one("#entity1-form #select").load_text("$select=name")
        await until(pilot, lambda: app.current.entity1.select == "$select=name")
        await app.workers.wait_for_complete()
        await until(pilot, lambda: any("Data Entity 1" in (n.title or "")
                                       for n in app._notifications))
        assert _connstr_hint(app, 1).startswith("keys: ")


async def test_verify_of_a_database_refusing_a_sign_in_without_a_password_says_where_to_type_it(
        make_app, demo_file) -> None:
    """No password typed, none in the keyring nor a variable: the driver's "using password: NO"
    (PostgreSQL's "no password supplied") was all it said."""
    import os

    import sqlalchemy as sa

    base = os.environ.get("L2TUI_TEST_MYSQL_URL")
    if not base:
        pytest.skip("no MySQL/MariaDB: run the tests with scripts/test")
    url = sa.make_url(base)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        form = app.query_one("#entity2-form")
        form.query_one("#provider", Select).value = "mysql"
        await until(pilot, lambda: app.current.entity2.provider == "mysql")
        form.query_one("#connstr").value = (f"Server={url.host};Port={url.port};"
                                            f"Database={url.database};User ID={url.username};")
        await until(pilot, lambda: app.current.entity2.connection_string.startswith("Server="))
        await pilot.press("f2")
        await until(pilot, lambda: _connstr_hint(app, 2).startswith("✗"))
        hint = _connstr_hint(app, 2)
        assert "Access denied" in hint, hint
        assert hint.endswith("; no password was found: type it into Password on the Data Entity "
                             "2 page, or name a Password variable"), hint


async def test_the_connection_string_hint_names_the_keys_the_provider_reads(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")  # Data Entity 2: a SQLite file
        await until(pilot, lambda: _connstr_hint(app, 2).startswith("keys:"))
        assert _connstr_hint(app, 2) == "keys: Data Source, Connect Timeout, BatchSize"
        app.query_one("#entity2-form #provider", Select).value = "postgresql"
        await until(pilot, lambda: "Password" in _connstr_hint(app, 2))
        assert _connstr_hint(app, 2) == (
            "keys: Data Source, Port, Initial Catalog, User ID, Password, Trusted_Connection, "
            "SSL Mode, Application Name, Connect Timeout, Schema, BatchSize")


def _mapping_notes(app) -> list[tuple[str, str]]:
    return [(str(n.title), n.message) for n in app._notifications
            if str(n.title).startswith("Mapping:")]


async def test_verify_of_both_entities_shows_a_mapping_a_run_would_refuse(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    with demo_file.open("a", encoding="utf-8") as toml:
        toml.write('[[mapping.columns]]\nleft = "name"\nright = "nosuch"\n')
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f2")  # the Connection page: both entities
        await until(pilot, lambda: _mapping_notes(app))
        assert _connstr_hint(app, 1).startswith("✓") and _connstr_hint(app, 2).startswith("✓")
        assert _mapping_notes(app) == [
            ("Mapping: failed", "mapping.columns[0].right: entity 2 has no column 'nosuch' "
             "(its columns: accountid, accountnumber, name, revenue)")]


async def test_verify_of_one_entity_checks_the_mapping_once_the_other_verified(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    with demo_file.open("a", encoding="utf-8") as toml:
        toml.write('[[mapping.columns]]\nleft = "name"\nright = "nosuch"\n')
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "f2")
        await until(pilot, lambda: _connstr_hint(app, 1).startswith("✓"))
        await app.workers.wait_for_complete()
        assert _mapping_notes(app) == []  # entity 2 not verified yet
        await pilot.press("alt+3", "f2")
        await until(pilot, lambda: _mapping_notes(app))
        assert _mapping_notes(app) == [
            ("Mapping: failed", "mapping.columns[0].right: entity 2 has no column 'nosuch' "
             "(its columns: accountid, accountnumber, name, revenue)")]


async def test_verify_of_an_entity_refuses_a_modified_column_it_lacks_as_run_does(
        make_app, demo_file, sqlite_db) -> None:
    import tomlkit

    make_accounts_table(sqlite_db)
    document = tomlkit.parse(demo_file.read_text(encoding="utf-8"))
    document["entity2"]["modified_column"] = "nosuch"  # type: ignore[index]
    demo_file.write_text(tomlkit.dumps(document), encoding="utf-8")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3", "f2")
        await until(pilot, lambda: _connstr_hint(app, 2).startswith("✗"))
        assert "entity 2 has no column 'nosuch'" in _connstr_hint(app, 2)


async def test_typing_into_the_closed_provider_box_searches_the_providers(
        make_app, offline_demo_file) -> None:
    """As the guide has it: search for OData by typing into the selection box (no Enter first)."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.current.title == "New Connection")
        await pilot.press("alt+2", "tab")
        box = app.query_one("#entity1-form #provider", Select)
        assert app.focused is box
        await pilot.press(*"sqlite")
        await until(pilot, lambda: box.expanded)
        await pilot.press("enter")
        await until(pilot, lambda: app.current.entity1.provider == "sqlite")
        assert not box.expanded


async def test_tab_from_the_searched_provider_list_takes_the_provider_it_found(
        make_app, offline_demo_file) -> None:
    """"odata" then Tab left the provider unchosen: the connection string typed next had no
    provider (its hint said "pick a data provider first")."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.current.title == "New Connection")
        await pilot.press("alt+2", "tab")
        box = app.query_one("#entity1-form #provider", Select)
        await until(pilot, lambda: app.focused is box)
        await pilot.press(*"odata")
        await until(pilot, lambda: box.expanded)
        await pilot.press("tab", *"URL=x")
        await until(pilot, lambda: app.current.entity1.provider == "odata")
        await until(pilot, lambda: app.current.entity1.connection_string == "URL=x")
        assert not box.expanded


async def test_escape_from_the_searched_provider_list_leaves_the_provider_as_it_was(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2", "tab")
        box = app.query_one("#entity1-form #provider", Select)
        await until(pilot, lambda: app.focused is box)
        await pilot.press(*"sqlite")
        await until(pilot, lambda: box.expanded)
        await pilot.press("escape")
        await until(pilot, lambda: not box.expanded)
        await pilot.press("tab")
        await pilot.pause()
        assert app.current.entity1.provider == "odata"


async def test_letters_typed_on_a_closed_column_picker_search_its_columns(
        make_app, demo_file, sqlite_db) -> None:
    """As in the Data Provider box: letters typed on the closed picker open it and pick the
    column they begin (they fell away unseen, the picker stayed at its first column)."""
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        picker = app.query_one(MappingEditor).query_one("#pick-left", Select)
        picker.focus()
        await pilot.pause()
        await pilot.press("r", "e", "v")
        await until(pilot, lambda: picker.expanded, 10)
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, lambda: picker.value == "revenue", 10)


async def test_a_pair_added_as_auto_mapping_made_it_is_not_said_to_replace_itself(
        make_app, demo_file, sqlite_db) -> None:
    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        editor.query_one("#pick-left").value = "name"
        editor.query_one("#pick-right").value = "name"
        await pilot.click("#pair-add")
        said = " ".join(n.message for n in app._notifications)
        assert "replaces" not in said and "name ↔ name was mapped by name" in said


def _stamps(db) -> list[tuple[str, str, str]]:
    """The SQLite side's accountid, createdon and modifiedon, in order."""
    with sqlite3.connect(db) as con:
        return con.execute("SELECT accountid, createdon, modifiedon FROM accounts "
                           "ORDER BY accountid").fetchall()


async def test_turning_auto_mapping_off_in_a_bidirectional_connection_keeps_the_read_only_pairs(
        make_app, demo_file, sqlite_db, paths) -> None:
    """Dataverse's createdon and modifiedon, read-only there, are carried into SQL one way:
    kept as pairs of one's own, they are still synced and the run after writes nothing."""
    demo_file.write_text(demo_file.read_text()
                         .replace('"left_to_right"', '"bidirectional"')
                         .replace("revenue\"", "revenue,createdon,modifiedon\""))
    with sqlite3.connect(sqlite_db) as con:
        con.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, "
                    "accountnumber TEXT, revenue NUMERIC, createdon TEXT, modifiedon TEXT)")
    store = ConnectionStore(paths.connections)
    assert Runner(paths).run(store.load(DEMO_SLUG)).created_right == 50
    stamps = _stamps(sqlite_db)
    assert all(created and modified for _, created, modified in stamps)
    before = _engine_plan(store.load(DEMO_SLUG), paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        editor = await _manual_mappings(pilot, app)
        assert not any("not kept" in n.message for n in app._notifications)
        assert editor.problems() == []
        assert {r.left: r.notes for r in editor.rows}["modifiedon"] == \
            ["read-only on the left: carried left → right only"]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
    saved = store.load(DEMO_SLUG)
    assert not saved.mapping.auto
    assert {p.left for p in saved.mapping.columns} >= {"createdon", "modifiedon"}
    after = _engine_plan(saved, paths)
    assert sorted(p.label for p in after.pairs) == sorted(p.label for p in before.pairs)
    assert after.signature == before.signature
    report = Runner(paths).run(saved)
    assert report.outcome == "success" and "rematched" not in report.details
    assert report.created_right == report.updated_right == report.updated_left == 0
    assert _stamps(sqlite_db) == stamps


@pytest.mark.parametrize("source", ["demo.db", "data/demo.db", "./demo.db"])
async def test_a_relative_sqlite_data_source_says_where_it_is_taken_from_and_to_give_it_whole(
        make_app, offline_demo_file, tmp_path, monkeypatch, source) -> None:
    """A relative file is the working folder's: cron and systemd start in another, and would
    read (or miss) another file than the one Verify and Run Now used here."""
    monkeypatch.chdir(tmp_path)
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        app.query_one("#entity2-form #connstr").value = f"Data Source={source};"
        await until(pilot, lambda: "relative" in _connstr_hint(app, 2))
        hint = _connstr_hint(app, 2)
        assert str(tmp_path) in hint and "absolute path" in hint, hint
        assert app.query_one("#entity2-form #f-connstr", Field).problem is None  # saves all the same
        app.query_one("#entity2-form #connstr").value = f"Data Source={tmp_path / 'demo.db'};"
        await until(pilot, lambda: _connstr_hint(app, 2).startswith("keys: "))


@pytest.fixture
def out_of_reach_file(paths, silent_port: int, sqlite_db):
    """The demo connection with Data Entity 1 at a host that takes no connection."""
    path = paths.connections / f"{DEMO_SLUG}.toml"
    url = f"http://127.0.0.1:{silent_port}/api/data/v9.2/accounts"
    path.write_text(demo_toml(url, sqlite_db), encoding="utf-8")
    return path


async def _verifying(pilot, app) -> None:
    """F2 on the Data Entity 1 page; wait until it says it verifies, and how to cancel."""
    await pilot.press("alt+2", "f2")
    await until(pilot, lambda: _connstr_hint(app, 1) == "verifying… (Esc to cancel)")
    assert any("Esc to cancel" in line for line in screen_lines(app))


async def test_escape_cancels_a_verify_of_a_host_out_of_reach_at_once(make_app,
                                                                      out_of_reach_file) -> None:
    import time

    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _verifying(pilot, app)
        assert "Cancel Verify" in screen_lines(app)[-1]  # (the footer)
        pressed = time.monotonic()
        await pilot.press("escape")
        await until(pilot, lambda: _connstr_hint(app, 1) == "Verify cancelled", timeout=10)
        assert time.monotonic() - pressed < 2  # (not the connect timeout, 5 s)
        assert any(n.title == "Data Entity 1: not verified" for n in app._notifications)
        await until(pilot, lambda: app.verify_stop is None)
        assert "Cancel Verify" not in screen_lines(app)[-1]


async def test_f2_again_cancels_the_verify_going(make_app, out_of_reach_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _verifying(pilot, app)
        await pilot.press("f2")
        await until(pilot, lambda: _connstr_hint(app, 1) == "Verify cancelled", timeout=3)
