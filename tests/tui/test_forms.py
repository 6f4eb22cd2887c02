"""Invalid input is shown in place; passwords go to the keyring, never into the file."""

from __future__ import annotations

import tomllib

import pytest
from textual import events
from textual.widgets import Input

from l2tui.config.secrets import keyring_get
from l2tui.config.specs import find_spec
from l2tui.tui.screens.confirm import ChoiceScreen
from l2tui.tui.screens.schedule import ScheduleScreen
from l2tui.tui.widgets.entity_form import connection_string_problem
from l2tui.tui.widgets.fields import Field
from tests.tui.conftest import DEMO_SELECT, DEMO_SLUG, DEMO_TITLE, until

SIZE = (120, 40)


async def test_an_unknown_connection_string_key_is_shown_under_the_field(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #connstr").value = "URL=http://x/api/data/v9.2/accounts;Colour=blue;"
        await pilot.pause()
        problem = app.query_one("#entity1-form #f-connstr", Field).problem
        assert problem is not None and "unknown key 'Colour'" in problem
        assert app.query_one("#entity1-form #connstr").has_class("-invalid")


def test_the_problem_under_a_connection_string_quotes_nothing_after_its_password() -> None:
    problem = connection_string_problem(find_spec("sqlserver"),
                                        "Server=db;User ID=sa;Password=abc;hunter2TAIL;")
    assert problem is not None and "a part after 'Password'" in problem
    assert "hunter2" not in problem


async def test_a_refused_odata_option_is_shown_under_the_select_statement(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #select").load_text("$skip=10")
        await pilot.pause()
        assert "$skip" in app.query_one("#entity1-form #f-select", Field).problem


async def test_a_sql_statement_that_writes_is_refused_in_place(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        app.query_one("#entity2-form #select").load_text("DELETE FROM accounts")
        await pilot.pause()
        assert app.query_one("#entity2-form #f-select", Field).problem


async def test_a_bad_deletion_guard_is_shown_in_place_and_not_saved(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#max-delete").value = "1.5"
        await pilot.pause()
        assert "share from 0 to 1" in app.query_one("#f-max-delete", Field).problem
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert tomllib.loads(offline_demo_file.read_text())["max_delete_ratio"] == 0.2
        assert DEMO_SLUG in {p.stem for p in app.workspace.dirty}


async def test_an_empty_title_is_shown_in_place(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "  "
        await pilot.pause()
        assert app.query_one("#f-conn-title", Field).problem == "a connection needs a title"


async def test_choosing_a_provider_by_typing_picks_it(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n", "alt+3")
        await pilot.pause()
        app.query_one("#entity2-form #provider").focus()
        await pilot.press("enter", *"sql s", "enter")
        await pilot.pause()
        assert app.current.entity2.provider == "sqlserver"
        assert "mySQLServerName" in app.query_one("#entity2-form #connstr").placeholder


async def test_a_typed_password_goes_to_the_keyring_not_the_file(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #password").value = "s3cret!"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "s3cret!" not in offline_demo_file.read_text()
        assert keyring_get(DEMO_SLUG, 1) == "s3cret!"


async def test_a_password_typed_for_sql_server_is_dropped_when_the_provider_becomes_sqlite(
        make_app, offline_demo_file) -> None:
    """SQLite has no password: one typed for the provider before must not stay hidden, to be
    saved in the keyring as this entity's."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        form = app.query_one("#entity2-form")
        form.query_one("#provider").value = "sqlserver"
        await until(pilot, lambda: form.query_one("#f-password").display)
        form.query_one("#password", Input).focus()
        await pilot.press(*"hunter2")
        await until(pilot, lambda: app.workspace.secrets)
        form.query_one("#provider").value = "sqlite"
        await until(pilot, lambda: not form.query_one("#f-password").display)
        await pilot.pause()
        assert form.query_one("#password", Input).value == ""
        assert not app.workspace.secrets
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert keyring_get(DEMO_SLUG, 2) is None


async def test_a_password_variable_set_for_sql_server_is_dropped_when_the_provider_becomes_sqlite(
        make_app, offline_demo_file) -> None:
    """SQLite has no password: the variable named for the provider before must not stay hidden,
    saved in the file and asked for by Schedule."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        form = app.query_one("#entity2-form")
        form.query_one("#provider").value = "sqlserver"
        await until(pilot, lambda: form.query_one("#f-password-env").display)
        form.query_one("#password-env", Input).focus()
        await pilot.press(*"DB_PASSWORD")
        await until(pilot, lambda: app.current.entity2.password_env == "DB_PASSWORD")
        form.query_one("#provider").value = "sqlite"
        await until(pilot, lambda: not form.query_one("#f-password-env").display)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        saved = tomllib.loads(offline_demo_file.read_text())
        assert saved["entity2"]["provider"] == "sqlite"
        assert "password_env" not in saved["entity2"]
        await pilot.press("f12")
        await until(pilot, lambda: isinstance(app.screen, ScheduleScreen))
        shown = [str(line.render()) for line in app.screen.query(".schedule-command, .schedule-text")]
        assert not any("DB_PASSWORD" in text or "/etc/l2tui/" in text for text in shown), shown


async def test_a_password_typed_into_the_connection_string_moves_to_the_keyring(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        app.query_one("#entity2-form #connstr").value = "Data Source=/srv/x.db;Password=hunter2;"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert "hunter2" not in offline_demo_file.read_text()
        assert keyring_get(DEMO_SLUG, 2) == "hunter2"


async def test_a_password_typed_into_the_connection_string_leaves_the_field_on_save(
        make_app, offline_demo_file) -> None:
    """The screen shows what the file holds: the password no longer in sight over a shoulder."""
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")
        app.query_one("#entity2-form #connstr").value = "Data Source=/srv/x.db;Password=hunter2;"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        assert app.query_one("#entity2-form #connstr", Input).value == "Data Source=/srv/x.db;"
        assert not app.workspace.dirty


async def test_the_password_variable_is_saved_by_name(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #password-env").value = "CRM_PASSWORD"
        await pilot.pause()
        await pilot.press("ctrl+s")
        await pilot.pause()
        data = tomllib.loads(offline_demo_file.read_text())
        assert data["entity1"]["password_env"] == "CRM_PASSWORD"


async def test_a_bad_password_variable_name_is_shown_in_place(make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        app.query_one("#entity1-form #password-env").value = "CRM-PASSWORD"
        await pilot.pause()
        assert app.query_one("#entity1-form #f-password-env", Field).problem


@pytest.fixture
def no_keyring(monkeypatch: pytest.MonkeyPatch) -> None:
    """A machine without an OS keyring (keyring's own "fail" backend)."""
    import keyring
    from keyring.backends import fail

    monkeypatch.setattr(keyring, "get_keyring", lambda: fail.Keyring())


async def test_without_a_keyring_the_rest_is_saved_and_said_to_be(make_app, offline_demo_file,
                                                                   no_keyring) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "CRM accounts"
        await pilot.press("alt+2")
        app.query_one("#entity1-form #password").value = "s3cret!"
        await until(pilot, lambda: app.current.title == "CRM accounts" and app.workspace.secrets)
        await pilot.press("ctrl+s")
        saved = offline_demo_file.parent / "crm-accounts.toml"
        await until(pilot, lambda: saved.exists() and app.sub_title == "CRM accounts")
        assert "s3cret!" not in saved.read_text()
        notes = [(n.title, n.message) for n in app._notifications]
        assert not any("Not saved" in f"{t} {m}" for t, m in notes), notes
        assert any(m.startswith("Saved, except the password") for _, m in notes), notes
        status = app.query_one("#entity1-form #f-password", Field).status
        assert status is not None and "no OS keyring" in status
        assert not app.workspace.dirty


async def test_a_save_refused_over_a_setting_is_shown_under_its_field(make_app, offline_demo_file,
                                                                     no_keyring) -> None:
    before = offline_demo_file.read_text()
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+3")  # a password written in the connection string, no keyring
        app.query_one("#entity2-form #connstr").value = "Data Source=db.sqlite;Password=s3cret!;"
        await until(pilot, lambda: app.workspace.dirty)
        await pilot.press("ctrl+s")
        connstr = app.query_one("#entity2-form #f-connstr", Field)
        await until(pilot, lambda: connstr.problem is not None)
        assert "holds a password" in connstr.problem and "s3cret!" not in connstr.problem
        notes = [n.message for n in app._notifications]
        assert any(m.startswith("Data Entity 2 › Connection String: ") for m in notes), notes
    assert offline_demo_file.read_text() == before


async def save_with_a_typed_password(pilot, app) -> None:
    """Type a password on Data Entity 1 and save (without a keyring: saved, but not kept)."""
    await pilot.press("alt+2")
    app.query_one("#entity1-form #password").value = "s3cret!"
    await until(pilot, lambda: app.workspace.secrets and app.workspace.dirty)
    await pilot.press("ctrl+s")
    await until(pilot, lambda: app._notifications and not app.workspace.dirty)


async def test_a_password_not_kept_does_not_keep_later_edits_from_saving(
        make_app, offline_demo_file, no_keyring) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await save_with_a_typed_password(pilot, app)
        app.query_one("#entity1-form #password-env").value = "CRM_PASSWORD"
        await until(pilot, lambda: app.workspace.dirty)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        assert tomllib.loads(offline_demo_file.read_text())["entity1"]["password_env"] == \
            "CRM_PASSWORD"


async def test_quit_warns_that_a_password_the_keyring_did_not_keep_will_be_lost(
        make_app, offline_demo_file, no_keyring) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await save_with_a_typed_password(pilot, app)
        await pilot.press("ctrl+q")
        await until(pilot, lambda: isinstance(app.screen, ChoiceScreen))
        question = app.screen.question
        assert question == ("There is a typed password the keyring did not keep, which will be "
                            f"lost ({DEMO_TITLE}: Data Entity 1). Quit anyway?"), question
        assert app.is_running


def _shown_lines(widget) -> list[str]:
    """The lines a widget shows, as text."""
    region = widget.content_region
    strips = widget.render_lines(region.reset_offset)
    return [strip.text.strip() for strip in strips if strip.text.strip()]


@pytest.mark.parametrize("size", [(120, 40), (80, 24)])
async def test_the_required_example_under_a_new_connection_string_breaks_between_keys(
        make_app, offline_demo_file, size) -> None:
    app = make_app()
    async with app.run_test(size=size) as pilot:
        await pilot.press("ctrl+n", "ctrl+pagedown")
        await pilot.pause()
        app.query_one("#entity1-form #provider").value = "odata"
        await pilot.pause()
        hint = app.query_one("#entity1-form #f-connstr .field-hint")
        lines = _shown_lines(hint)
        assert lines[0].startswith("required:")
        pairs = " ".join(lines).removeprefix("required:").split()
        assert [p.split("=")[0] for p in pairs] == ["URL", "Authentication", "User"]
        for line in lines[1:]:  # a line goes on with a whole key=value, never mid-word
            assert line.split("=")[0] in ("URL", "Authentication", "User"), lines


async def test_an_edit_handled_after_the_app_closed_is_dropped(make_app, offline_demo_file) -> None:
    """A keystroke's Edited message can be handled while the app's widgets are being removed."""
    app = make_app()
    async with app.run_test(size=SIZE):
        pass
    assert app.current is not None
    app._edited()  # as the message handler does, with the pages gone
    app.refresh_list()


async def test_a_data_entity_page_opens_with_its_first_label_in_sight(make_app, demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("ctrl+n")
        await until(pilot, lambda: app.current is not None and app.current.title == "New Connection")
        await pilot.press("alt+2")
        form = app.query_one("#entity1-form")
        await until(pilot, lambda: app.focused is form.query_one("#title"))
        await pilot.wait_for_scheduled_animations()
        await pilot.pause()
        label = form.query_one("#f-title .field-label")
        assert form.scroll_y == 0
        assert label.region.height > 0 and form.region.contains_region(label.region)


async def test_keys_typed_right_after_a_page_key_go_to_that_page_not_the_one_hidden(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+1")
        await until(pilot, lambda: app.focused is app.query_one("#conn-title"))
        # as a terminal sends them when typed fast: queued before the page has been drawn
        for key, character in (("alt+3", None), ("X", "X"), ("Y", "Y")):
            app.post_message(events.Key(key, character))
        await until(pilot, lambda: app.query_one("#entity2-form #title", Input).value.endswith("XY"))
        assert app.current.title == DEMO_TITLE
        assert app.query_one("#conn-title", Input).value == DEMO_TITLE


async def test_ctrl_a_goes_to_the_start_of_the_select_statement_as_in_every_input(
        make_app, offline_demo_file) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        form = app.query_one("#entity1-form")
        for field_ in (form.query_one("#title", Input), form.query_one("#select")):
            field_.focus()
            await until(pilot, lambda field_=field_: app.focused is field_)
            await pilot.press("end", "ctrl+a", *"X:")
            await pilot.pause()
        assert app.current.entity1.title == "X:Dynamics accounts"
        assert app.current.entity1.select == "X:" + DEMO_SELECT


async def test_ctrl_shift_a_selects_the_whole_select_statement_as_in_an_input(
        make_app, offline_demo_file) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.press("alt+2")
        form = app.query_one("#entity1-form")
        for field_ in (form.query_one("#title", Input), form.query_one("#select")):
            field_.focus()
            await until(pilot, lambda field_=field_: app.focused is field_)
            await pilot.press("ctrl+shift+a", *"$top=5")
            await pilot.pause()
        assert app.current.entity1.title == app.current.entity1.select == "$top=5"


async def test_a_password_not_kept_is_said_once_then_saves_just_say_saved(
        make_app, offline_demo_file, no_keyring) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        await save_with_a_typed_password(pilot, app)
        app.query_one("#conn-title").value = "CRM accounts"
        await until(pilot, lambda: app.workspace.dirty)
        await pilot.press("ctrl+s")
        await until(pilot, lambda: not app.workspace.dirty)
        notes = [n.message for n in app._notifications]
        assert len([m for m in notes if m.startswith("Saved, except the password")]) == 1, notes
        assert notes[-1] == "saved crm-accounts.toml", notes


async def test_the_direction_hint_to_switch_to_bidirectional_goes_once_it_is(
        make_app, offline_demo_file) -> None:
    app = make_app()
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#direction").value = "bidirectional"
        await pilot.pause()
        hint = str(app.query_one("#f-direction .field-hint").render())
        assert "switch to Bi-directional" not in hint, hint


async def test_a_page_shown_by_alt_and_a_digit_is_not_switched_back_by_an_older_tab_activation(
        make_app, demo_file) -> None:
    """(as the tabs' own activation at start-up, still queued when Alt+4 is typed on a loaded
    machine or over a slow link, did)"""
    from textual.widgets import TabbedContent, Tabs
    from textual.widgets._tabbed_content import ContentTabs

    app = make_app()
    async with app.run_test(size=(120, 40)) as pilot:
        pages = app.query_one("#pages", TabbedContent)
        tabs = pages.get_child_by_type(ContentTabs)
        first = tabs.get_content_tab("connection")
        await pilot.press("alt+4")
        pages.post_message(Tabs.TabActivated(tabs, first))  # (queued before the key, handled after)
        await pilot.pause()
        assert pages.active == "mappings"
        await pilot.click(f"#{first.id}")  # a click on a tab still shows its page
        await pilot.pause()
        assert pages.active == "connection"


@pytest.mark.parametrize("page, field", [("1", "#conn-title"), ("2", "#entity1-form #title"),
                                         ("3", "#entity2-form #title")])
async def test_a_field_focused_by_a_page_key_keeps_its_text_and_types_at_its_end(
        make_app, offline_demo_file, page, field) -> None:
    """Alt+1 focused the Connection Title with its whole text selected: one letter typed then
    replaced the title, and a field has no undo. The cursor is at the end now, nothing selected."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.current is not None)
        await pilot.press("alt+4", f"alt+{page}")
        box = app.query_one(field, Input)
        await until(pilot, lambda: app.focused is box)
        await pilot.pause()
        before = box.value
        assert before and box.selection.is_empty and box.cursor_position == len(before)
        await pilot.press("x")
        await until(pilot, lambda: box.value == before + "x")


@pytest.mark.parametrize("index", [1, 2])
async def test_tab_into_a_loaded_select_statement_types_at_its_end(
        make_app, offline_demo_file, index) -> None:
    """As in the one-line fields: its cursor was at the start, so a word typed after Tab went
    before the select ("xaccounts")."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await until(pilot, lambda: app.current is not None)
        await pilot.press(f"alt+{index + 1}")
        form = app.query_one(f"#entity{index}-form")
        area = form.query_one("#select")
        before = app.current.entity(index).select
        for _ in range(10):  # (Tab from the page's first field, as a person does)
            if app.focused is area:
                break
            await pilot.press("tab")
            await pilot.pause()
        assert app.focused is area
        await pilot.press("x")
        await until(pilot, lambda: app.current.entity(index).select == before + "x")
