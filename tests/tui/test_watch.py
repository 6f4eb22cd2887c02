"""The app catches up with the folder: files added or changed by others, runs made by cron."""

from __future__ import annotations

from pathlib import Path

from l2tui.paths import Paths
from l2tui.tui.widgets.connection_list import ConnectionList
from tests.tui.conftest import DEMO_SLUG, DEMO_TITLE, demo_toml, needs_runner, until

SIZE = (120, 40)


def _titles(app) -> list[str]:
    listed = app.query_one(ConnectionList)
    return [str(listed.get_option_at_index(i).prompt) for i in range(listed.option_count)]


def _retitle(path: Path, title: str) -> None:
    """Edit a connection file as another program would (a text editor, a script)."""
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace(f'title = "{DEMO_TITLE}"', f'title = "{title}"', 1), encoding="utf-8")


async def test_a_connection_file_added_while_open_is_listed(make_app, offline_demo_file, paths) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        text = demo_toml("http://127.0.0.1:9/api/data/v9.2/accounts", Path("/srv/other.db"))
        (paths.connections / "other.toml").write_text(
            text.replace(f'title = "{DEMO_TITLE}"', 'title = "Other"', 1), encoding="utf-8")
        await until(pilot, lambda: _titles(app) == [DEMO_TITLE, "Other"])
        assert app.current is not None and app.current.title == DEMO_TITLE  # still the one open


async def test_a_connection_file_removed_while_open_leaves_the_list(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        offline_demo_file.unlink()
        await until(pilot, lambda: _titles(app) == [])
        assert app.current is None


async def test_the_open_connection_changed_on_disk_is_shown_again(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        _retitle(offline_demo_file, "Renamed by hand")
        await until(pilot, lambda: app.query_one("#conn-title").value == "Renamed by hand")
        assert _titles(app) == ["Renamed by hand"]  # not marked unsaved
        assert app.workspace.dirty == set()


async def test_unsaved_edits_are_kept_when_their_file_changes_on_disk(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "Typed here"
        await until(pilot, lambda: app.workspace.dirty)
        _retitle(offline_demo_file, "Changed there")
        await until(pilot, lambda: any("changed on disk" in n.message for n in app._notifications))
        assert app.query_one("#conn-title").value == "Typed here"
        assert app.current is not None and app.current.title == "Typed here"
        assert _titles(app) == ["Typed here ●"]


async def test_saving_does_not_count_as_a_change_by_others(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#max-delete").value = "0.5"
        await until(pilot, lambda: app.workspace.dirty)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        assert app.workspace.changed_on_disk() == set()


@needs_runner
async def test_a_run_from_the_command_line_shows_in_the_run_history(make_app, demo_file,
                                                                     paths: Paths) -> None:
    from l2tui.commands.demo import prepare_table
    from l2tui.config.store import ConnectionStore
    from l2tui.runner import Runner

    conn = ConnectionStore(paths.connections).load(DEMO_SLUG)
    prepare_table(conn, paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        table = app.query_one("#run-history")
        assert table.row_count == 0
        Runner(paths).run(conn)  # as `l2tui run` from cron would, beside the open app
        await until(pilot, lambda: table.row_count == 1)
        assert table.get_row_at(0)[1] == "success"


async def test_a_run_from_the_command_line_shows_its_log_on_the_run_page(make_app, demo_file,
                                                                        paths: Paths) -> None:
    from l2tui.commands.demo import prepare_table
    from l2tui.config.store import ConnectionStore
    from l2tui.runner import Runner

    conn = ConnectionStore(paths.connections).load(DEMO_SLUG)
    prepare_table(conn, paths)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await app.workers.wait_for_complete()
        Runner(paths).run(conn)  # as `l2tui run` from cron would, beside the open app
        await until(pilot, lambda: str(app.query_one("#run-phase").render()).startswith(
            "Last run: "))
        [log] = paths.run_logs(DEMO_SLUG).iterdir()
        assert list(app.query_one("#run-log").texts) == log.read_text().splitlines()


async def _edited_then_broken_on_disk(pilot, app, path: Path) -> None:
    """An unsaved edit, then the file broken by another program (a stray line appended)."""
    app.query_one("#max-delete").value = "0.5"
    await until(pilot, lambda: app.workspace.dirty)
    with path.open("a", encoding="utf-8") as file:
        file.write("garbage = [\n")
    await until(pilot, lambda: _titles(app)[0].startswith("⚠"))


async def test_a_file_broken_on_disk_keeps_the_unsaved_mark_beside_its_warning(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _edited_then_broken_on_disk(pilot, app, offline_demo_file)
        assert _titles(app) == [f"⚠ {DEMO_TITLE} ●"]


async def test_saving_over_a_file_broken_on_disk_clears_its_warning(make_app,
                                                                     offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _edited_then_broken_on_disk(pilot, app, offline_demo_file)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        assert _titles(app) == [DEMO_TITLE]


def _notices(app) -> list[str]:
    return [f"{n.title}: {n.message}" for n in app._notifications]


async def _saved_over_a_change_elsewhere(pilot, app, path: Path) -> None:
    """An unsaved edit here, an edit of the same file saved by another (a second TUI) before
    this app has looked at the folder again, then Save Changes here."""
    app.query_one("#max-delete").value = "0.5"
    await until(pilot, lambda: app.workspace.dirty)
    text = path.read_text(encoding="utf-8")
    path.write_text(text.replace('title = "Dynamics accounts"', 'title = "Edited elsewhere"'),
                    encoding="utf-8")
    await pilot.press("ctrl+s")
    await until(pilot, lambda: any(n.startswith("Not saved") for n in _notices(app)), timeout=10)


async def test_save_does_not_write_over_a_change_saved_by_another_meanwhile(
        make_app, offline_demo_file, monkeypatch) -> None:
    monkeypatch.setattr("l2tui.tui.watch.WATCH_SECONDS", 3600.0)  # (the change is not seen first)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _saved_over_a_change_elsewhere(pilot, app, offline_demo_file)
        text = offline_demo_file.read_text(encoding="utf-8")
        assert 'title = "Edited elsewhere"' in text and "max_delete_ratio = 0.2" in text
        assert app.workspace.dirty and app.query_one("#max-delete").value == "0.5"
        [notice] = [n for n in _notices(app) if "changed on disk" in n]
        assert "your unsaved changes are kept: Save Changes again writes them over it" in notice


async def test_save_changes_again_writes_over_a_change_saved_by_another(
        make_app, offline_demo_file, monkeypatch) -> None:
    monkeypatch.setattr("l2tui.tui.watch.WATCH_SECONDS", 3600.0)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _saved_over_a_change_elsewhere(pilot, app, offline_demo_file)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        text = offline_demo_file.read_text(encoding="utf-8")
        assert 'title = "Dynamics accounts"' in text and "max_delete_ratio = 0.5" in text


async def test_the_mappings_follow_a_select_changed_on_disk_after_the_columns_were_loaded(
        make_app, demo_file, sqlite_db) -> None:
    from l2tui.tui.widgets.mapping_editor import MappingEditor
    from tests.tui.conftest import DEMO_SELECT, make_accounts_table

    make_accounts_table(sqlite_db)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+4")
        await app.workers.wait_for_complete()
        await pilot.pause()
        editor = app.query_one(MappingEditor)
        assert "revenue" in {r.left for r in editor.rows}
        await pilot.press("alt+1")
        text = demo_file.read_text(encoding="utf-8")
        demo_file.write_text(text.replace(DEMO_SELECT, "$select=accountid,name"), encoding="utf-8")
        await until(pilot, lambda: app.current is not None and app.current.entity1.select ==
                    "$select=accountid,name")
        await pilot.press("alt+4")
        await until(pilot, lambda: {r.left for r in editor.rows} == {"accountid", "name"})


async def test_unsaved_edits_of_a_file_deleted_on_disk_say_it_was_deleted(make_app,
                                                                         offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "Typed here"
        await until(pilot, lambda: app.workspace.dirty)
        offline_demo_file.unlink()
        await until(pilot, lambda: any("on disk" in n for n in _notices(app)))
        [notice] = [n for n in _notices(app) if "on disk" in n]
        assert f"{offline_demo_file.name} was deleted on disk" in notice, notice
        assert "changed" not in notice and "Save Changes writes it back" in notice
        assert _titles(app) == ["Typed here ●"]


async def test_save_of_a_file_deleted_meanwhile_says_it_was_deleted(make_app, offline_demo_file,
                                                                   monkeypatch) -> None:
    monkeypatch.setattr("l2tui.tui.watch.WATCH_SECONDS", 3600.0)  # (the deletion is not seen first)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#max-delete").value = "0.5"
        await until(pilot, lambda: app.workspace.dirty)
        offline_demo_file.unlink()
        await pilot.press("ctrl+s")
        await until(pilot, lambda: any(n.startswith("Not saved") for n in _notices(app)), timeout=10)
        notices = [n for n in _notices(app) if "on disk" in n]
        assert notices and all("deleted on disk" in n for n in notices), notices
        assert not offline_demo_file.exists() and app.workspace.dirty
        assert "Save Changes again writes it back" in notices[-1]
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        assert "max_delete_ratio = 0.5" in offline_demo_file.read_text(encoding="utf-8")
