"""Create New Connection, Save Changes, Duplicate and Delete, and the unsaved-changes marker."""

from __future__ import annotations

import tomllib
from pathlib import Path

import pytest
from textual import events
from textual.widgets import Button

from l2tui.config.secrets import keyring_get, keyring_set
from l2tui.config.store import ConnectionStore
from l2tui.paths import Paths
from l2tui.runner import Runner
from l2tui.sync.state import StateStore
from l2tui.tui.screens.confirm import ChoiceScreen, ConfirmScreen
from l2tui.tui.widgets.connection_list import ConnectionList
from tests.tui.conftest import DEMO_SLUG, DEMO_TITLE, screen_lines, until

SIZE = (120, 40)


def _unsaved(app) -> bool:
    """Whether the list marks a connection as edited and not saved (an edit reaches the list
    through a few messages: on a loaded machine, after more than one pause)."""
    return any(title.endswith("●") for title in _titles(app))


async def _saved(pilot, app, edit) -> None:
    """Make an edit, see the list mark it unsaved, Save Changes, and see the mark go."""
    edit()
    await until(pilot, lambda: _unsaved(app))
    await pilot.press("ctrl+s")
    await until(pilot, lambda: not _unsaved(app))


def _typed_at_once(app, *keys: str) -> None:
    """Keys arriving together, as a terminal sends a burst: queued before the first is handled."""
    for key in keys:
        app.post_message(events.Key({" ": "space"}.get(key, key), key if len(key) == 1 else None))


def _titles(app) -> list[str]:
    return [str(app.query_one(ConnectionList).get_option_at_index(i).prompt)
            for i in range(app.query_one(ConnectionList).option_count)]


async def test_the_list_shows_the_connections_of_the_folder(make_app, offline_demo_file: Path) -> None:
    app = make_app()
    async with app.run_test(size=SIZE):
        assert _titles(app) == [DEMO_TITLE]
        assert app.current is not None and app.current.title == DEMO_TITLE


async def test_create_new_connection_adds_it_at_the_bottom_and_opens_it(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await pilot.pause()
        assert _titles(app) == [DEMO_TITLE, "New Connection"]
        assert app.current.title == "New Connection"
        assert (offline_demo_file.parent / "new-connection.toml").is_file()
        assert app.focused.id == "conn-title"


async def test_keys_typed_right_after_ctrl_n_all_reach_the_new_title(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        _typed_at_once(app, "ctrl+n", *"Emu accounts to SQLite")
        await until(pilot, lambda: app.current.title != DEMO_TITLE)
        await pilot.pause()
        assert app.query_one("#conn-title").value == "Emu accounts to SQLite"


async def test_ctrl_n_from_the_title_field_selects_the_new_title_so_typing_replaces_it(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        title = app.query_one("#conn-title")
        title.focus()
        await pilot.pause()
        title.cursor_position = 2
        await pilot.press("ctrl+n", *"CRM")
        assert title.value == "CRM"


async def test_a_new_connection_left_untouched_is_removed_when_another_is_opened(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        app.query_one(ConnectionList).focus()
        await pilot.press("home")
        await until(pilot, lambda: app.current.title == DEMO_TITLE)
        assert _titles(app) == [DEMO_TITLE]
        assert not (offline_demo_file.parent / "new-connection.toml").exists()


async def test_a_new_connection_left_untouched_is_removed_on_quit(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n", "ctrl+q")
        await until(pilot, lambda: app.return_code == 0)
    assert not (offline_demo_file.parent / "new-connection.toml").exists()


async def test_the_actions_pane_button_creates_a_connection_too(make_app) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#act-new")
        await pilot.pause()
        assert _titles(app) == ["New Connection"]


async def test_an_edit_marks_the_connection_unsaved_in_the_list_and_title(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "Accounts to SQL"
        await until(pilot, lambda: _titles(app) == ["Accounts to SQL ●"])
        assert app.sub_title.endswith("●")


@pytest.mark.parametrize("size", [(80, 24), (120, 40)])
async def test_a_long_title_in_the_list_is_cut_before_its_unsaved_mark_which_shows(
        make_app, offline_demo_file, size) -> None:
    """The list (20 columns) cut the whole row at its end: a title of more than 17 characters
    hid the "●" that says its connection has unsaved changes."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=size) as pilot:
        if not app.query_one("#connections-pane").display:
            await pilot.press("f9")  # (hidden below 100 columns)
        app.query_one("#conn-title").value = DEMO_TITLE + " (edited)"
        await until(pilot, lambda: _unsaved(app))
        await pilot.pause()
        row = screen_lines(app, app.query_one(ConnectionList))[0].rstrip()
        assert row.endswith("… ●") and row.strip().startswith(DEMO_TITLE[:10]), row


async def test_fields_changed_and_changed_back_are_not_unsaved(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        for field, edited in (("#conn-title", "Accounts to SQL"),
                              ("#entity1-form #primary-key", "accountid, name")):
            before = app.query_one(field).value
            app.query_one(field).value = edited
            await until(pilot, lambda: _unsaved(app))
            app.query_one(field).value = before
            await until(pilot, lambda: _titles(app) == [DEMO_TITLE])
            assert not app.sub_title.endswith("●")
        await pilot.press("ctrl+q")  # nothing to lose: no question
        await until(pilot, lambda: app.return_code == 0)


async def test_a_change_back_after_a_save_compares_with_what_was_saved(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        title = app.query_one("#conn-title")
        await _saved(pilot, app, lambda: setattr(title, "value", "Accounts to SQL"))
        title.value = DEMO_TITLE
        await until(pilot, lambda: _titles(app) == [f"{DEMO_TITLE} ●"])
        title.value = "Accounts to SQL"
        await until(pilot, lambda: _titles(app) == ["Accounts to SQL"])


async def test_save_changes_writes_the_file_and_clears_the_marker(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#direction").value = "bidirectional"
        app.query_one("#max-delete").value = "0.5"
        await until(pilot, lambda: app.current.max_delete_ratio == 0.5 and _unsaved(app))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not _unsaved(app))
        data = tomllib.loads(offline_demo_file.read_text())
        assert data["direction"] == "bidirectional"
        assert data["max_delete_ratio"] == 0.5
        assert _titles(app) == [DEMO_TITLE]


async def test_a_new_title_renames_the_file_on_save(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await pilot.press(*"CRM 2")  # typed over the selected "New Connection"
        await pilot.press("ctrl+s")
        await pilot.pause()
        folder = offline_demo_file.parent
        assert not (folder / "new-connection.toml").exists()
        assert tomllib.loads((folder / "crm-2.toml").read_text())["title"] == "CRM 2"


async def test_a_file_named_by_hand_is_saved_under_its_own_name(make_app, offline_demo_file) -> None:
    """demo2.toml titled otherwise: Save writes it where it is (cron runs it by that name), and
    does not refuse it as a clash with itself."""
    hand_named = offline_demo_file.with_name("demo2.toml")
    offline_demo_file.rename(hand_named)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#max-delete").value = "0.5"
        await until(pilot, lambda: _unsaved(app))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not _unsaved(app) or any(
            "Not saved" in (n.title or "") for n in app._notifications))
        assert not _unsaved(app), [n.message for n in app._notifications]
        assert sorted(p.name for p in hand_named.parent.iterdir()) == ["demo2.toml"]
        assert tomllib.loads(hand_named.read_text())["max_delete_ratio"] == 0.5


async def test_save_keeps_the_users_comments(make_app, offline_demo_file) -> None:
    offline_demo_file.write_text("# my note\n" + offline_demo_file.read_text())
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _saved(pilot, app, lambda: setattr(app.query_one("#conflict"), "value", "skip"))
        text = offline_demo_file.read_text()
        assert text.startswith("# my note\n") and 'conflict_resolution = "skip"' in text


async def test_duplicate_connection_copies_it_under_a_new_title(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#act-duplicate")
        await pilot.pause()
        assert _titles(app) == [DEMO_TITLE, f"Copy of {DEMO_TITLE}"]
        assert app.current.entity1.connection_string.startswith("URL=http://127.0.0.1:9/")


async def test_a_duplicate_opens_on_its_title_ready_to_be_named(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+5")
        await pilot.press("f7")
        await until(pilot, lambda: app.current.title == f"Copy of {DEMO_TITLE}")
        await until(pilot, lambda: app.focused is app.query_one("#conn-title"))
        assert app.query_one("#pages").active == "connection"


async def test_f7_in_the_select_statement_duplicates_the_connection(make_app,
                                                                    offline_demo_file) -> None:
    """TextArea's own F7 (select all) must not swallow Duplicate."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        select = app.query_one("#entity1-form #select")
        select.focus()
        await until(pilot, lambda: app.focused is select)
        await pilot.press("f7")
        await until(pilot, lambda: app.current.title == f"Copy of {DEMO_TITLE}")


async def test_delete_connection_asks_first_and_removes_the_file(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#act-delete")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        await pilot.click("#yes")
        await pilot.pause()
        assert not offline_demo_file.exists()
        assert _titles(app) == []
        assert app.current is None


async def test_declining_the_delete_keeps_the_connection(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await pilot.pause()
        await pilot.press("escape")
        await pilot.pause()
        assert offline_demo_file.exists() and _titles(app) == [DEMO_TITLE]


async def _ask_to_quit_with_a_change(pilot, app) -> None:
    """Change the title, then Ctrl+Q: the quit question."""
    app.query_one("#conn-title").value = "Changed"
    await until(pilot, lambda: _unsaved(app))
    await pilot.press("ctrl+q")
    await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))


async def test_quit_with_unsaved_changes_asks_and_can_stay(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ask_to_quit_with_a_change(pilot, app)
        assert [b.label.plain for b in app.screen.query(Button)] == \
            ["Save and quit", "Quit", "Stay"]
        assert app.screen.focused.id == "stay"
        await pilot.click("#stay")
        await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
        assert app.is_running and _unsaved(app)


async def test_each_answer_of_the_quit_question_stands_out_from_the_dialog_at_80x24(
        make_app, offline_demo_file) -> None:
    # (at 80x24 buttons have no border: a button coloured as the dialog is not seen)
    app = make_app()
    async with app.run_test(size=(80, 24)) as pilot:
        await _ask_to_quit_with_a_change(pilot, app)
        dialog = app.screen.query_one(".dialog").styles.background
        assert all(b.styles.background != dialog for b in app.screen.query(Button))


async def test_escape_at_the_quit_question_stays(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ask_to_quit_with_a_change(pilot, app)
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
        assert app.is_running


async def test_quit_without_saving_leaves_the_file_as_it_was(make_app, offline_demo_file) -> None:
    before = offline_demo_file.read_text()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _ask_to_quit_with_a_change(pilot, app)
        await pilot.click("#quit")
        await until(pilot, lambda: app.return_code == 0)
    assert offline_demo_file.read_text() == before


async def test_a_new_connection_never_saved_is_removed_when_quit_drops_its_edits(
        make_app, offline_demo_file) -> None:
    """Its file is still as Create New Connection made it ("New Connection", no provider): left
    behind, it was listed (and run from cron) as a connection nobody made."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.current.title == "New Connection")
        await _ask_to_quit_with_a_change(pilot, app)
        await pilot.click("#quit")
        await until(pilot, lambda: app.return_code == 0)
    assert sorted(p.name for p in offline_demo_file.parent.iterdir()) == [offline_demo_file.name]


async def test_a_new_connection_saved_once_stays_when_quit_drops_later_edits(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.current.title == "New Connection")
        app.query_one("#conn-title").value = "Kept"
        await until(pilot, lambda: _unsaved(app))
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not _unsaved(app))
        await _ask_to_quit_with_a_change(pilot, app)
        await pilot.click("#quit")
        await until(pilot, lambda: app.return_code == 0)
    assert (offline_demo_file.parent / "kept.toml").is_file()


async def test_save_and_quit_saves_every_changed_connection_then_quits(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "Changed demo"
        await until(pilot, lambda: _unsaved(app))
        await pilot.press("ctrl+n")  # a second one, changed too; the first is not shown now
        await until(pilot, lambda: app.current is not None and app.current.title != DEMO_TITLE)
        app.query_one("#conn-title").value = "Second"
        await until(pilot, lambda: len(app.workspace.dirty) == 2)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#save")
        await until(pilot, lambda: app.return_code == 0)
    titles = sorted(tomllib.loads(p.read_text())["title"]
                    for p in offline_demo_file.parent.glob("*.toml"))
    assert titles == ["Changed demo", "Second"]


async def test_save_and_quit_stays_when_a_connection_cannot_be_saved(
        make_app, offline_demo_file) -> None:
    before = offline_demo_file.read_text()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#max-delete").value = "1.5"  # a problem the form marks
        await until(pilot, lambda: _unsaved(app))
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        await pilot.click("#save")
        await until(pilot, lambda: not isinstance(app.screen, ChoiceScreen))
        await pilot.pause()
        assert app.is_running and _unsaved(app)
        assert any("Not saved" in str(n.title) for n in app._notifications)
    assert offline_demo_file.read_text() == before


async def test_quit_without_changes_quits_at_once(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert app.return_code == 0


async def test_switching_connections_keeps_unsaved_edits(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "Edited demo"
        await until(pilot, lambda: _unsaved(app))
        await pilot.press("ctrl+n")
        await pilot.pause()
        app.query_one(ConnectionList).focus()
        await pilot.press("home")
        await pilot.pause()
        assert app.query_one("#conn-title").value == "Edited demo"
        assert _titles(app)[0] == "Edited demo ●"


async def test_a_broken_file_is_listed_with_a_warning(make_app, paths) -> None:
    (paths.connections / "broken.toml").write_text("title = \n")
    app = make_app()
    async with app.run_test(size=SIZE):
        assert _titles(app) == ["⚠ broken.toml"]
        assert app.current is None


async def _highlight_first_row(pilot, app) -> None:
    """Move the list's highlight to its first row (broken.toml sorts before the demo)."""
    app.query_one(ConnectionList).focus()
    await pilot.press("home")


async def test_highlighting_a_broken_file_shows_its_error_in_place_of_the_pages(
        make_app, offline_demo_file, paths) -> None:
    (paths.connections / "broken.toml").write_text("title = \n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        assert app.current is not None and app.current.title == DEMO_TITLE
        await _highlight_first_row(pilot, app)
        await until(pilot, lambda: app.current is None)
        await until(pilot, lambda: app.query_one("#no-connection").display)
        error = str(app.query_one("#no-connection").render())
        assert f"{paths.connections / 'broken.toml'}:1: not valid TOML" in error
        assert not app.query_one("#pages").display
        assert "broken.toml" in app.sub_title and DEMO_TITLE not in app.sub_title


async def test_a_broken_file_says_how_to_see_the_runs_it_recorded(
        make_app, offline_demo_file, paths) -> None:
    """Its runs do not depend on the file: the page names the commands that show them."""
    (paths.connections / "broken.toml").write_text("title = \n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _highlight_first_row(pilot, app)
        await until(pilot, lambda: app.query_one("#no-connection").display)
        text = " ".join(str(app.query_one("#no-connection").render()).split())
        assert "l2tui history broken" in text and "l2tui conflicts broken" in text


async def test_highlighting_a_good_connection_after_a_broken_file_shows_its_pages_again(
        make_app, offline_demo_file, paths) -> None:
    (paths.connections / "broken.toml").write_text("title = \n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _highlight_first_row(pilot, app)
        await until(pilot, lambda: app.current is None)
        await pilot.press("down")
        await until(pilot, lambda: app.current is not None)
        assert app.query_one("#pages").display and not app.query_one("#no-connection").display
        assert app.sub_title == DEMO_TITLE


async def test_a_broken_file_fixed_meanwhile_opens_when_highlighted_again(
        make_app, offline_demo_file, paths) -> None:
    broken = paths.connections / "broken.toml"
    broken.write_text("title = \n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _highlight_first_row(pilot, app)
        await until(pilot, lambda: app.query_one("#no-connection").display)
        broken.write_text(offline_demo_file.read_text().replace(DEMO_TITLE, "Fixed"))
        await pilot.press("down", "home")
        await until(pilot, lambda: app.current is not None and app.current.title == "Fixed")
        assert _titles(app) == ["Fixed", DEMO_TITLE]


def _files(root: Path) -> dict[Path, bytes]:
    """Every file under ``root`` with its content."""
    return {p: p.read_bytes() for p in sorted(root.rglob("*")) if p.is_file()}


async def test_delete_removes_a_highlighted_broken_file_and_its_passwords_after_asking(
        make_app, offline_demo_file, paths) -> None:
    broken = paths.connections / "broken.toml"
    broken.write_text("title = \n")
    keyring_set("broken", 1, "s3cret!")  # a password stored under the broken file's name
    keyring_set(offline_demo_file.stem, 1, "other")
    others = {p: c for p, c in _files(paths.connections).items() if p != broken}
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _highlight_first_row(pilot, app)
        await until(pilot, lambda: app.query_one("#no-connection").display)
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "broken.toml" in app.screen.question
        await pilot.click("#yes")
        await until(pilot, lambda: _titles(app) == [DEMO_TITLE])
        assert not broken.exists()
        assert app.current is not None and app.current.title == DEMO_TITLE
        assert _files(paths.connections) == others
        assert keyring_get("broken", 1) is None
        assert keyring_get(offline_demo_file.stem, 1) == "other"


def _with_one_run(paths: Paths, slug: str) -> None:
    """A state with one finished run, as a run of the connection leaves it."""
    state = StateStore(paths.state_db(slug))
    state.finish_run(state.start_run(), "success", {}, "done")
    state.close()


async def test_a_renamed_connection_keeps_its_sync_state_and_history(
        make_app, offline_demo_file, paths) -> None:
    _with_one_run(paths, DEMO_SLUG)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await _saved(pilot, app, lambda: setattr(app.query_one("#conn-title"), "value",
                                                 "CRM accounts"))
    assert not paths.state_db(DEMO_SLUG).exists()
    conn = ConnectionStore(paths.connections).load("crm-accounts")
    assert [r.message for r in Runner(paths).history(conn)] == ["done"]


async def test_a_deleted_connection_takes_its_sync_state_along(
        make_app, offline_demo_file, paths) -> None:
    _with_one_run(paths, DEMO_SLUG)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#act-delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "its sync state" in app.screen.question
        await pilot.click("#yes")
        await until(pilot, lambda: app.current is None)
    assert not paths.state_db(DEMO_SLUG).exists()


async def test_a_deleted_connection_takes_its_run_logs_along_and_says_so_first(
        make_app, offline_demo_file, paths) -> None:
    """The log folder stayed, and a connection later saved under the title showed its runs'
    logs; the question named only the passwords and the sync state."""
    _with_one_run(paths, DEMO_SLUG)
    logs = paths.run_logs(DEMO_SLUG)
    logs.mkdir(parents=True)
    (logs / "20260101-120000-1.log").write_text("12:00:00 run started\n")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        assert "its run logs" in app.screen.question, app.screen.question
        await pilot.click("#yes")
        await until(pilot, lambda: app.current is None)
    assert not logs.exists() and not offline_demo_file.exists()


async def test_a_delete_whose_log_folder_is_a_symbolic_link_says_so_and_deletes_the_rest(
        make_app, offline_demo_file, paths, tmp_path) -> None:
    """A link in place of the log folder is not followed (its target's files stay); the one
    line saying so does not stop the delete."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    (elsewhere / "20260101-120000-1.log").write_text("kept\n")
    paths.logs.mkdir(parents=True, exist_ok=True)
    paths.run_logs(DEMO_SLUG).symlink_to(elsewhere)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("f8")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#yes")
        await until(pilot, lambda: app.current is None)
        await until(pilot, lambda: any("run logs were not deleted" in str(n.message)
                                       for n in app._notifications))
        [told] = [str(n.message) for n in app._notifications
                  if "run logs were not deleted" in str(n.message)]
    assert told == (f"its run logs were not deleted: {paths.run_logs(DEMO_SLUG)} is a symbolic "
                    "link, which l2tui does not follow (remove it)")
    assert (elsewhere / "20260101-120000-1.log").read_text() == "kept\n"
    assert not offline_demo_file.exists()


async def test_a_delete_whose_sync_state_cannot_be_removed_says_so_and_keeps_the_file(
        make_app, offline_demo_file, paths) -> None:
    """A folder in place of the state file: the app says which file, and the connection stays
    (it crashed on the raw OSError before)."""
    paths.state_db(DEMO_SLUG).mkdir(parents=True)
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#act-delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#yes")
        await until(pilot, lambda: any("cannot remove the sync state file" in str(n.message)
                                       for n in app._notifications))
    assert offline_demo_file.exists()


async def test_a_delete_whose_lock_file_is_a_symbolic_link_says_why_not_that_a_run_goes_on(
        make_app, offline_demo_file, paths, tmp_path) -> None:
    """A symbolic link in place of the lock file is refused (its target untouched): the app
    said '…; nothing was run: delete it once the run has ended', though nothing runs."""
    lock = Runner(paths).lock_path(ConnectionStore(paths.connections).load(DEMO_SLUG))
    lock.parent.mkdir(parents=True, exist_ok=True)
    lock.symlink_to(tmp_path / "elsewhere")
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#act-delete")
        await until(pilot, lambda: isinstance(app.screen, ConfirmScreen))
        await pilot.click("#yes")
        await until(pilot, lambda: any("cannot open the lock file" in str(n.message)
                                       for n in app._notifications))
        [told] = [str(n.message) for n in app._notifications
                  if "cannot open the lock file" in str(n.message)]
    assert "once the run has ended" not in told and "nothing was run" not in told
    assert offline_demo_file.exists() and not (tmp_path / "elsewhere").exists()


async def test_an_empty_folder_says_no_connections_yet_once(make_app, paths) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.pause()
        shown = "\n".join(screen_lines(app))
        assert shown.count("No connections yet") == 1, shown
