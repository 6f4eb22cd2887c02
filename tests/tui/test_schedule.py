"""Schedule (F12, the Actions pane, the palette): the lines that run the connection from cron or a
systemd timer, made for the connection shown."""

from __future__ import annotations

import shlex

from textual import events

from l2tui.config.model import Connection
from l2tui.paths import resolve_paths
from l2tui.tui.screens.schedule import ScheduleScreen, l2tui_command, run_command
from tests.tui.conftest import DEMO_SLUG, screen_lines, until

SIZE = (120, 40)


def _commands(app) -> list[str]:
    """The dialog's commands, each as shown on a line of its own to copy."""
    return [str(line.render()) for line in app.screen.query(".schedule-command")]


def _texts(app) -> list[str]:
    """The dialog's sentences between the commands."""
    return [str(line.render()) for line in app.screen.query(".schedule-text")]


def _run(paths) -> str:
    """``l2tui run`` of the demo with this test's folders, as the dialog should give it."""
    command = shlex.join([*l2tui_command(), "--config-dir", str(paths.config), "run", DEMO_SLUG])
    return f"L2TUI_DATA_DIR={shlex.quote(str(paths.state.parent))} {command}"


async def _open_schedule(pilot, app) -> None:
    await pilot.press("f12")
    await until(pilot, lambda: isinstance(app.screen, ScheduleScreen))


async def test_schedule_shows_the_connections_own_run_command_and_crontab_line(
        make_app, offline_demo_file, paths) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_schedule(pilot, app)
        commands = _commands(app)
        assert _run(paths) in commands
        assert f"*/15 * * * * {_run(paths)} >/dev/null" in commands  # no secrets to read
        assert f"systemctl enable --now l2tui-run@{DEMO_SLUG}.timer" in commands
        assert not any("/etc/l2tui/" in text for text in _texts(app))
        assert any('"Running unattended (cron, systemd)"' in text for text in _texts(app))
        await pilot.press("escape")
        await until(pilot, lambda: not isinstance(app.screen, ScheduleScreen))


async def test_schedule_of_a_connection_with_a_password_env_reads_its_variables_file(
        make_app, offline_demo_file, paths) -> None:
    text = offline_demo_file.read_text().replace(
        'provider = "sqlite"', 'provider = "sqlite"\npassword_env = "DEMO_DB_PASSWORD"')
    offline_demo_file.write_text(text)
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_schedule(pilot, app)
        env = f"/etc/l2tui/{DEMO_SLUG}.env"
        assert f"*/15 * * * * set -a; . {env}; set +a; {_run(paths)} >/dev/null" in _commands(app)
        assert "DEMO_DB_PASSWORD='…'" in _commands(app)
        assert any(text.startswith(env) for text in _texts(app))


async def test_schedule_with_unsaved_changes_says_it_runs_the_saved_file(
        make_app, offline_demo_file, paths) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        app.query_one("#conn-title").value = "Accounts to SQL"
        await until(pilot, lambda: app.sub_title.endswith("●"))
        await _open_schedule(pilot, app)
        assert any("runs the saved file" in text for text in _texts(app))
        assert _run(paths) in _commands(app)  # the file's name, not the new title's


async def test_schedule_is_in_the_actions_pane(make_app, offline_demo_file) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await pilot.click("#act-schedule")
        await until(pilot, lambda: isinstance(app.screen, ScheduleScreen))
        assert not any("saved file" in text for text in _texts(app))


def test_schedule_names_a_relative_data_folder_absolute(tmp_path, monkeypatch) -> None:
    """cron starts in the home folder: a relative $L2TUI_DATA_DIR there would be another one."""
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("L2TUI_CONFIG_DIR", "connections")
    monkeypatch.setenv("L2TUI_DATA_DIR", "data")
    paths = resolve_paths()
    conn = Connection(title="Demo", path=paths.config / "demo.toml", folder=paths.config)
    line = run_command(conn, paths)
    assert line.startswith(f"L2TUI_DATA_DIR={shlex.quote(str(tmp_path / 'data'))} ")
    assert f" --config-dir {shlex.quote(str(tmp_path / 'connections'))} run demo" in line


async def test_copy_puts_the_crontab_line_on_the_clipboard_exactly(
        make_app, offline_demo_file, paths) -> None:
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_schedule(pilot, app)
        crontab = f"*/15 * * * * {_run(paths)} >/dev/null"
        [block] = [b for b in app.screen.query(".schedule-block")
                   if crontab in [str(c.render()) for c in b.query(".schedule-command")]]
        copy = block.query_one(".schedule-copy")
        copy.focus()
        await pilot.press("enter")
        assert app.clipboard == crontab
        assert any(n.message.startswith("copied the crontab line") for n in app._notifications)


async def test_copy_of_the_variables_file_gives_its_lines_without_the_indent(
        make_app, offline_demo_file, paths) -> None:
    text = offline_demo_file.read_text().replace(
        'provider = "sqlite"', 'provider = "sqlite"\npassword_env = "DEMO_DB_PASSWORD"')
    offline_demo_file.write_text(text.replace(
        'provider = "odata"', 'provider = "odata"\npassword_env = "CRM_PASSWORD"'))
    app = make_app(auto_describe=False)
    async with app.run_test(size=SIZE) as pilot:
        await _open_schedule(pilot, app)
        [copy] = [b.query_one(".schedule-copy") for b in app.screen.query(".schedule-block")
                  if "CRM_PASSWORD='…'" in [str(c.render()) for c in b.query(".schedule-command")]]
        copy.press()
        await pilot.pause()
        assert app.clipboard == "CRM_PASSWORD='…'\nDEMO_DB_PASSWORD='…'"


async def test_a_long_command_is_one_line_that_scrolls_sideways_not_wrapped(
        make_app, offline_demo_file, paths) -> None:
    """A wrapped line selected in the terminal holds a line break where it wrapped."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_schedule(pilot, app)
        crontab = f"*/15 * * * * {_run(paths)} >/dev/null"
        [line] = [c for c in app.screen.query(".schedule-command") if str(c.render()) == crontab]
        assert line.size.height == 1 and line.size.width >= len(crontab) > 80
        shown = screen_lines(app, line.parent)
        assert shown[0].strip() in crontab and crontab.startswith(shown[0].strip()[:20])
        assert not any(row.rstrip().endswith(">/dev/null") for row in screen_lines(app))
        for _ in range(40):
            await pilot.press("right")
        assert screen_lines(app, line.parent)[0].rstrip().endswith(">/dev/null")


async def test_right_held_down_scrolls_a_long_line_to_its_end(
        make_app, offline_demo_file, paths) -> None:
    """A held key arrives as a burst of repeats (over SSH too): each one scrolls on from where
    the one before left it (a burst scrolled as far as one key)."""
    app = make_app(auto_describe=False)
    async with app.run_test(size=(80, 24)) as pilot:
        await _open_schedule(pilot, app)
        crontab = f"*/15 * * * * {_run(paths)} >/dev/null"
        [line] = [c for c in app.screen.query(".schedule-command") if str(c.render()) == crontab]
        for _ in range(40):
            event = events.Key("right", None)
            event.set_sender(app)
            app._driver.send_message(event)
        await until(pilot, lambda: screen_lines(app, line.parent)[0].rstrip().endswith(
            ">/dev/null"), 10)
