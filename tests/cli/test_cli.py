"""The command line: commands, exit codes, one-line errors, never a traceback."""

from __future__ import annotations

import json
import os
import pty
import select
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from l2tui.cli import COMMANDS
from tests.conftest import REPO, CliRunner, TerminalRunner

SAMPLES = sorted((REPO / "sample_connections").glob("*.toml"))


def test_help_lists_every_command(run_cli: CliRunner) -> None:
    result = run_cli("--help")
    assert result.returncode == 0
    for command in ("list", "show", "new", "edit", "paths", "verify", "preview", "run", "history",
                    "conflicts", "demo", "emulator"):
        assert command in result.stdout


@pytest.mark.parametrize("command", ["", *sorted(COMMANDS)])
def test_each_help_fits_a_terminal_of_80_columns(run_cli: CliRunner, command: str) -> None:
    """An SSH session's 80 columns: the description and the exit codes were written on longer
    lines (124 and 82 characters), which the terminal broke mid-word."""
    result = run_cli(*filter(None, [command]), "--help", env={"COLUMNS": "80"})
    assert result.returncode == 0, result.stderr
    assert [line for line in result.stdout.splitlines() if len(line) > 79] == []


def test_list_on_an_empty_folder_says_how_to_start(run_cli: CliRunner) -> None:
    result = run_cli("list")
    assert result.returncode == 0
    assert "l2tui new" in result.stdout


def _l2tui_into(stdout: int, *args: str, buffered: bool) -> subprocess.CompletedProcess[str]:
    """The real command line with its standard output on ``stdout`` (a file descriptor)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if buffered:  # (as from a shell: what is printed waits in the buffer until Python exits)
        env.pop("PYTHONUNBUFFERED", None)
    else:
        env["PYTHONUNBUFFERED"] = "1"
    return subprocess.run([sys.executable, "-m", "l2tui", *args], stdout=stdout,
                          stderr=subprocess.PIPE, text=True, env=env, timeout=60, cwd=str(REPO))


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", [["list"], ["paths"], ["--version"]])
def test_a_full_standard_output_is_said_in_one_line_and_exits_1(
        command: list[str], buffered: bool) -> None:
    """``l2tui list > /dev/full``: one line saying standard output could not be written, as a
    Unix tool says it, not "unexpected error: OSError" nor Python's "Exception ignored"."""
    with open("/dev/full", "w") as full:
        result = _l2tui_into(full.fileno(), *command, buffered=buffered)
    assert (result.returncode, result.stderr) == (
        1, "l2tui: cannot write to standard output: No space left on device\n")


@pytest.mark.parametrize("buffered", [True, False], ids=["buffered", "unbuffered"])
@pytest.mark.parametrize("command", [["list"], ["paths"], ["--version"]])
def test_a_closed_pipe_on_standard_output_ends_the_command_quietly(
        command: list[str], buffered: bool) -> None:
    """``l2tui list | head -c1``: the reader went away; nothing is said (no traceback, no
    "Exception ignored" as Python exits) and the command's own exit code stands."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        result = _l2tui_into(write_end, *command, buffered=buffered)
    finally:
        os.close(write_end)
    assert (result.returncode, result.stderr) == (0, "")


def test_a_command_started_with_standard_output_closed_ends_as_before() -> None:
    """``l2tui list >&-``: Python has no sys.stdout; what is printed goes nowhere, exit 0 (no
    AttributeError from the guard around standard output)."""
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    result = subprocess.run([sys.executable, "-m", "l2tui", "list"], stderr=subprocess.PIPE,
                            text=True, env=env, timeout=60, cwd=str(REPO),
                            preexec_fn=lambda: os.close(1))
    assert (result.returncode, result.stderr) == (0, "")


def test_a_run_that_fails_into_a_full_standard_output_still_says_why_with_its_exit_code(
        config_dir: Path, tmp_path: Path) -> None:
    """``run --json`` prints its failure on stdout too: with stdout full, stderr still has the
    run's own error (its exit code, 3) besides the failure to write, not one in place of the
    other."""
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "gone.toml").write_text(f"""title = "Gone"
[entity1]
provider = "odata"
connection_string = "URL=http://127.0.0.1:1/api/data/v9.2/accounts;Authentication=none;"
select = "$select=accountid,name"
primary_key = ["accountid"]
[entity2]
provider = "sqlite"
connection_string = "Data Source={tmp_path / 'right.db'};"
select = "accounts"
primary_key = ["accountid"]
""", encoding="utf-8")
    with open("/dev/full", "w") as full:
        result = _l2tui_into(full.fileno(), "run", "gone", "--json", buffered=False)
    first, second = result.stderr.splitlines()
    assert first.startswith("l2tui: entity 1 (odata): ") and "127.0.0.1:1" in first, first
    assert second == "l2tui: cannot write to standard output: No space left on device"
    assert result.returncode == 3


def test_paths_honour_the_environment_overrides(run_cli: CliRunner, isolated_dirs: dict[str, Path]) -> None:
    result = run_cli("paths")
    assert result.returncode == 0
    assert f"connections:  {isolated_dirs['config']}" in result.stdout
    assert str(isolated_dirs["data"] / "state") in result.stdout
    assert "token cache:" in result.stdout


def test_config_dir_flag_overrides_the_environment(run_cli: CliRunner, tmp_path: Path) -> None:
    result = run_cli("--config-dir", str(tmp_path / "elsewhere"), "paths")
    assert f"connections:  {tmp_path / 'elsewhere'}" in result.stdout


def test_new_into_a_config_dir_that_is_a_file_exits_2_naming_it(run_cli: CliRunner,
                                                                tmp_path: Path) -> None:
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = run_cli("--config-dir", str(taken), "new", "CRM")
    assert result.returncode == 2, result.stderr
    assert "is not a folder" in result.stderr and str(taken) in result.stderr
    assert "unexpected error" not in result.stderr and len(result.stderr.splitlines()) == 1


def test_new_creates_a_0600_file_that_show_prints(run_cli: CliRunner, config_dir: Path) -> None:
    created = run_cli("new", "CRM accounts to SQL")
    assert created.returncode == 0, created.stderr
    path = config_dir / "crm-accounts-to-sql.toml"
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    shown = run_cli("show", "CRM accounts to SQL")
    assert shown.returncode == 0
    assert 'title = "CRM accounts to SQL"' in shown.stdout
    listed = run_cli("list")
    assert "CRM accounts to SQL" in listed.stdout and "crm-accounts-to-sql.toml" in listed.stdout


def test_a_hand_written_comment_survives_a_later_save(run_cli: CliRunner, config_dir: Path) -> None:
    from l2tui.config.store import ConnectionStore

    run_cli("new", "CRM accounts to SQL")
    path = config_dir / "crm-accounts-to-sql.toml"
    path.write_text("# written by hand: do not remove\n" + path.read_text())
    store = ConnectionStore(config_dir)
    conn = store.load("crm-accounts-to-sql")
    conn.entity1.title = "Dynamics accounts"
    store.save(conn)
    assert path.read_text().startswith("# written by hand: do not remove\n")
    assert 'title = "Dynamics accounts"' in path.read_text()


def test_new_from_copies_the_settings(run_cli: CliRunner, config_dir: Path) -> None:
    result = run_cli("new", "My copy", "--from", str(SAMPLES[0]))
    assert result.returncode == 0, result.stderr
    assert "provider = " in (config_dir / "my-copy.toml").read_text()


def test_new_from_keeps_the_files_comments_under_the_new_title(run_cli: CliRunner,
                                                                config_dir: Path) -> None:
    sample = REPO / "sample_connections" / "demo.toml"
    comments = [line for line in sample.read_text().splitlines() if line.lstrip().startswith("#")]
    assert comments
    assert run_cli("new", "My copy", "--from", str(sample)).returncode == 0
    copy = (config_dir / "my-copy.toml").read_text()
    assert [line for line in copy.splitlines() if line.lstrip().startswith("#")] == comments
    assert 'title = "My copy"' in copy


HIDDEN_PASSWORD = """title = "Hidden"
[entity1]
provider = "odata"
connection_string = "URL=http://bob:TOPSECRET@127.0.0.1:9/accounts;Authentication=basic;User=bob"
[entity2]
provider = "postgresql"
connection_string = "postgresql://u:Slash/TOPSECRET@127.0.0.1:1/db"
select = "accounts"
"""


def test_show_refuses_a_file_with_a_password_in_a_url_with_exit_2(
        run_cli: CliRunner, config_dir: Path) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "hidden.toml").write_text(HIDDEN_PASSWORD)
    result = run_cli("show", "hidden")
    assert result.returncode == 2
    assert "hidden.toml:4: entity1.connection_string: the URL's password" in result.stderr
    assert "TOPSECRET" not in result.stdout + result.stderr


def test_new_from_a_file_with_a_password_in_a_url_copies_nothing(
        run_cli: CliRunner, config_dir: Path) -> None:
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / "hidden.toml").write_text(HIDDEN_PASSWORD.replace("bob:TOPSECRET@", ""))
    result = run_cli("new", "Copy", "--from", "hidden")
    assert result.returncode == 2
    assert "hidden.toml:7: entity2.connection_string: the URL's password" in result.stderr
    assert "TOPSECRET" not in result.stdout + result.stderr
    assert not (config_dir / "copy.toml").exists()


def test_new_refuses_a_title_already_taken(run_cli: CliRunner) -> None:
    run_cli("new", "Accounts")
    result = run_cli("new", "accounts")
    assert result.returncode == 2
    assert "already exists" in result.stderr


def test_new_refuses_a_title_of_two_lines_and_writes_no_file(run_cli: CliRunner,
                                                             config_dir: Path) -> None:
    result = run_cli("new", "CRM\naccounts")
    assert result.returncode == 2
    assert result.stderr == ("l2tui: the title must be one line of text, without control "
                             "characters (it holds '\\n')\n")
    assert not list(config_dir.glob("*.toml"))


@pytest.mark.parametrize("sample", SAMPLES, ids=[s.name for s in SAMPLES])
def test_show_prints_each_sample_connection(run_cli: CliRunner, sample: Path) -> None:
    result = run_cli("show", str(sample))
    assert result.returncode == 0, result.stderr
    assert result.stdout == sample.read_text()


def test_show_help_says_it_prints_the_file_which_never_holds_a_secret(run_cli: CliRunner) -> None:
    """``show`` prints the file as it is (a file holding a secret does not load): its help
    promised secrets "redacted", which a user would take to mean a secret may be in the file."""
    for help_text in (run_cli("--help").stdout, run_cli("show", "--help").stdout):
        assert "redacted" not in help_text
        assert "print a connection file as TOML (it never holds a secret)" in " ".join(
            help_text.split())


BAD_FILES = {
    "broken-toml": ('title = "x\n', "not valid TOML"),
    "unknown-key": ('title = "x"\ncolour = "red"\n[entity1]\n[entity2]\n', "colour: unknown key"),
    "bad-enum": ('title = "x"\ndirection = "up"\n[entity1]\n[entity2]\n', "direction: expected one of"),
    "bad-connection-string": (
        'title = "x"\n[entity1]\nprovider = "odata"\nconnection_string = "URL=\'http://x/a"\n[entity2]\n',
        "unbalanced quote",
    ),
    "duplicate-connection-key": (
        'title = "x"\n[entity1]\n[entity2]\nprovider = "sqlite"\nconnection_string = "Data Source=a;data source=b"\n',
        "given twice",
    ),
    "key-sqlite-does-not-read": (
        'title = "x"\n[entity1]\n[entity2]\nprovider = "sqlite"\n'
        'connection_string = "Server=db01;Initial Catalog=crm;"\n',
        "entity2.connection_string: 'Initial Catalog' is not used by sqlite; it reads Data Source",
    ),
    "title-of-two-lines": ('title = "CRM\\naccounts"\n[entity1]\n[entity2]\n',
                           "1: title: must be one line of text, without control characters"),
    "empty-value": (
        'title = "x"\n[entity1]\n[entity2]\nprovider = "sqlite"\nconnection_string = "Data Source=;"\n',
        "empty value",
    ),
}


@pytest.mark.parametrize("name", sorted(BAD_FILES))
@pytest.mark.parametrize("command", ["show", "verify", "run"])
def test_bad_files_exit_2_with_one_line_and_no_traceback(
    run_cli: CliRunner, config_dir: Path, name: str, command: str
) -> None:
    text, expected = BAD_FILES[name]
    config_dir.mkdir(parents=True, exist_ok=True)
    (config_dir / f"{name}.toml").write_text(text)
    result = run_cli(command, name)
    assert result.returncode == 2, result.stderr
    assert expected in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert "Traceback" not in result.stderr
    assert f"{name}.toml" in result.stderr


def test_unknown_connection_exits_2_naming_the_folder_it_looked_in(
        run_cli: CliRunner, config_dir: Path) -> None:
    """cron runs with another environment: the folder it read is the first thing to check."""
    result = run_cli("show", "nope")
    assert result.returncode == 2
    assert f"no connection named 'nope' in {config_dir} (another folder: --config-dir or " \
           "$L2TUI_CONFIG_DIR)" in result.stderr


def _manager_with_one_stream_off_the_terminal(off: str, tmp_path: Path) -> tuple[int, str]:
    """``l2tui`` with stdin, stdout and stderr on a pseudo-terminal but ``off`` (stdin from
    /dev/null, stdout or stderr to a file); its exit code and everything it wrote."""
    main, child = pty.openpty()
    written = tmp_path / "written"
    with written.open("w") as file:
        streams = {"stdin": child, "stdout": child, "stderr": child,
                   off: subprocess.DEVNULL if off == "stdin" else file}
        proc = subprocess.Popen([sys.executable, "-m", "l2tui"], cwd=str(REPO),
                                env={**os.environ, "PYTHONPATH": str(REPO)}, **streams)
    os.close(child)
    try:
        code = proc.wait(timeout=20)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    shown = b""
    with_output = True
    while with_output and select.select([main], [], [], 0.5)[0]:
        try:
            chunk = os.read(main, 4096)
        except OSError:  # the terminal is closed and read to its end
            chunk = b""
        shown, with_output = shown + chunk, bool(chunk)
    os.close(main)
    return code, shown.decode(errors="replace") + written.read_text()


@pytest.mark.parametrize("off", ["stdin", "stdout", "stderr"])
def test_the_connection_manager_without_a_terminal_exits_2_pointing_to_run(
        off: str, tmp_path: Path) -> None:
    code, shown = _manager_with_one_stream_off_the_terminal(off, tmp_path)
    assert code == 2, shown
    assert shown.strip() == ("l2tui: the connection manager needs a terminal; to run a "
                             "connection without one: l2tui run NAME (see l2tui --help)")


def test_tui_from_cron_exits_2_with_one_line(run_cli: CliRunner) -> None:
    run_cli("new", "CRM accounts to SQL")
    result = run_cli("tui", "crm", input="", timeout=20)
    assert result.returncode == 2 and result.stdout == ""
    assert len(result.stderr.splitlines()) == 1 and "l2tui run NAME" in result.stderr


def test_tui_with_an_unknown_name_exits_2_naming_it(run_on_terminal: TerminalRunner) -> None:
    code, shown = run_on_terminal("tui", "nope", timeout=20)
    assert code == 2, shown
    assert "l2tui: no connection named 'nope'" in shown


def test_the_start_of_one_file_name_names_its_connection(run_cli: CliRunner) -> None:
    assert run_cli("new", "CRM accounts to SQL").returncode == 0
    assert run_cli("new", "Contacts to SQL").returncode == 0
    shown = run_cli("show", "crm")
    assert shown.returncode == 0, shown.stderr
    assert 'title = "CRM accounts to SQL"' in shown.stdout


def test_the_start_of_several_file_names_exits_2_naming_them(run_cli: CliRunner) -> None:
    assert run_cli("new", "CRM accounts to SQL").returncode == 0
    assert run_cli("new", "CRM contacts to SQL").returncode == 0
    result = run_cli("show", "crm")
    assert result.returncode == 2
    assert result.stderr.strip() == ("l2tui: 'crm' could name 2 connections: "
                                     "crm-accounts-to-sql, crm-contacts-to-sql")


@pytest.mark.parametrize("name", ["dir.toml", "dir"])
def test_a_folder_named_as_a_connection_file_is_said_to_be_a_folder_by_either_name(
        run_cli: CliRunner, config_dir: Path, name: str) -> None:
    """``list`` shows a folder ``dir.toml`` as a broken file; ``run dir.toml`` said there was no
    connection of that name while ``run dir`` said the file could not be read: both now say
    what it is, as ``list`` does."""
    (config_dir / "dir.toml").mkdir(parents=True)
    result = run_cli("run", name)
    assert result.returncode == 2
    assert result.stderr == f"l2tui: {config_dir / 'dir.toml'}: a folder, not a connection file\n"
    assert result.stderr in run_cli("list").stderr


def test_bad_usage_exits_2_with_one_line(run_cli: CliRunner) -> None:
    result = run_cli("preview", "x", "--entity", "3")
    assert result.returncode == 2
    assert "Traceback" not in result.stderr


def test_list_reports_a_broken_file_and_still_lists_the_others(run_cli: CliRunner, config_dir: Path) -> None:
    run_cli("new", "Good")
    (config_dir / "broken.toml").write_text('title = "b"\ndirection = "up"\n[entity1]\n[entity2]\n')
    result = run_cli("list")
    assert "Good" in result.stdout
    assert "broken.toml:2: direction" in result.stderr
    assert result.returncode == 2


def test_list_with_a_config_dir_that_is_a_file_exits_2(run_cli: CliRunner, tmp_path: Path) -> None:
    taken = tmp_path / "big.toml"
    taken.write_text("")
    result = run_cli("--config-dir", str(taken), "list")
    assert result.returncode == 2 and "is not a folder" in result.stderr


def test_list_json_with_a_config_dir_that_is_a_file_answers_the_error_on_stdout(
        run_cli: CliRunner, tmp_path: Path) -> None:
    taken = tmp_path / "big.toml"
    taken.write_text("")
    result = run_cli("--config-dir", str(taken), "list", "--json")
    assert result.returncode == 2 and "is not a folder" in result.stderr
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert "is not a folder" in answer["message"]


def test_list_json_on_an_empty_folder_is_an_empty_list(run_cli: CliRunner) -> None:
    result = run_cli("list", "--json")
    assert result.returncode == 0 and result.stdout.strip() == "[]"


def test_list_json_gives_a_broken_file_its_error_and_exits_2(run_cli: CliRunner,
                                                             config_dir: Path) -> None:
    run_cli("new", "Good")
    (config_dir / "broken.toml").write_text('title = "b"\ndirection = "up"\n[entity1]\n[entity2]\n')
    result = run_cli("list", "--json")
    assert result.returncode == 2
    good, broken = sorted(json.loads(result.stdout), key=lambda c: c["file"], reverse=True)
    assert good["title"] == "Good" and good["entity1"] is None
    assert broken == {"file": str(config_dir / "broken.toml"),
                      "error": broken["error"]} and "broken.toml:2: direction" in broken["error"]
    assert "broken.toml:2: direction" in result.stderr


def test_set_password_of_a_path_file_does_not_set_the_configured_connection_of_its_name(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    from l2tui.config.secrets import keyring_get, resolve_secret
    from l2tui.config.store import ConnectionStore

    assert run_cli("new", "Base").returncode == 0
    other = tmp_path / "other" / "base.toml"
    other.parent.mkdir()
    other.write_text((config_dir / "base.toml").read_text())
    result = run_cli("set-password", str(other), "--entity", "1", input="s3cret\n")
    assert result.returncode == 0, result.stderr
    assert keyring_get("base", 1) is None
    assert resolve_secret(ConnectionStore(config_dir).load(str(other)), 1) == "s3cret"
    assert resolve_secret(ConnectionStore(config_dir).load("base"), 1, required=False) is None


def test_set_password_of_an_entity_with_nothing_to_sign_in_to_says_so_and_stores_nothing(
        run_cli: CliRunner, config_dir: Path) -> None:
    from l2tui.config.secrets import keyring_get

    assert run_cli("new", "Base").returncode == 0
    path = config_dir / "base.toml"
    text = path.read_text()
    head, entity2 = text.split("[entity2]")
    path.write_text(head + "[entity2]" + entity2.replace('provider = ""', 'provider = "sqlite"'))
    result = run_cli("set-password", "base", "--entity", "2", input="s3cret\n")
    assert result.returncode == 2
    assert "entity2 (sqlite) takes no password: it has nothing to sign in to" in result.stderr
    assert keyring_get("base", 2) is None


def test_a_key_given_twice_in_a_table_exits_2_naming_file_line_and_key(
        run_cli: CliRunner, config_dir: Path) -> None:
    assert run_cli("new", "Base").returncode == 0
    path = config_dir / "base.toml"
    path.write_text(path.read_text().replace("[entity2]", '[entity2]\nprovider = "sqlite"', 1))
    result = run_cli("show", "base")
    lines = path.read_text().splitlines()
    line = max(i for i, text in enumerate(lines) if text == 'provider = ""') + 1  # entity2's
    assert result.returncode == 2
    assert result.stderr == (f"l2tui: {path}:{line}: not valid TOML: the key 'provider' is given "
                             "twice in one table\n")


def test_the_demo_without_a_terminal_exits_2_before_it_syncs(run_cli: CliRunner) -> None:
    result = run_cli("demo", "--rows", "20", input="", timeout=20)
    assert result.returncode == 2 and result.stdout == ""
    assert "l2tui demo --headless" in result.stderr and len(result.stderr.splitlines()) == 1
    assert run_cli("history", "demo").returncode == 2  # nothing was set up, let alone synced


def test_standard_output_whose_encoding_lacks_a_character_is_said_in_one_line(
        tmp_path: Path) -> None:
    """A locale that is not UTF-8 (here ASCII) and a title with an 'é': one line naming the
    encoding, the character and what to do, not "unexpected error: UnicodeEncodeError"."""
    config = tmp_path / "config"
    config.mkdir(mode=0o700)
    text = (REPO / "sample_connections" / "demo.toml").read_text()
    (config / "cafe.toml").write_text(text.replace(
        'title = "Demo: emulator accounts to SQLite"', 'title = "Café accounts"', 1))
    (config / "cafe.toml").chmod(0o600)
    env = {**os.environ, "PYTHONPATH": str(REPO), "PYTHONIOENCODING": "ascii",
           "L2TUI_CONFIG_DIR": str(config), "L2TUI_DATA_DIR": str(tmp_path / "data")}
    result = subprocess.run([sys.executable, "-m", "l2tui", "list"], capture_output=True,
                            text=True, env=env, timeout=60, cwd=str(tmp_path))
    assert result.returncode == 1
    assert result.stderr == ("l2tui: cannot write to standard output: its encoding (ascii) cannot "
                             "hold '\\xe9'; use a UTF-8 locale (LANG=C.UTF-8) or set "
                             "PYTHONIOENCODING=utf-8\n")


def test_history_on_an_80_column_terminal_shows_why_a_run_failed(
        run_cli: CliRunner, run_on_terminal: TerminalRunner, config_dir: Path,
        tmp_path: Path) -> None:
    """The Summary column is cut to the terminal's width: a failed run's reason came after both
    sides' counts (all 0 when it stopped before writing) and was cut away."""
    missing = tmp_path / "gone.db"
    config_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    (config_dir / "fails.toml").write_text(f'''title = "Fails"
[entity1]
provider = "sqlite"
connection_string = "Data Source={missing};"
select = "accounts"
[entity2]
provider = "sqlite"
connection_string = "Data Source={tmp_path / 'other.db'};"
select = "accounts"
''')
    (config_dir / "fails.toml").chmod(0o600)
    assert run_cli("run", "fails").returncode == 3
    code, shown = run_on_terminal("history", "fails", columns=80)
    assert code == 0, shown
    lines = [line for line in shown.replace("\r", "").splitlines()
             if not line.startswith("logs: ")]  # (a path: whole, on stderr)
    assert all(len(line) <= 80 for line in lines), lines
    failed = next(line for line in lines if " failed " in line)
    assert "no SQLite database file" in failed, lines


DEMO_FILE = "demo-dynamics-accounts-to-sqlite.toml"


def _list_lines(shown: str) -> list[str]:
    """``list``'s table as a terminal shows it (the broken files' lines, on stderr, left out)."""
    return [line for line in shown.replace("\r", "").splitlines()
            if line and not line.startswith("l2tui: ")]


def test_list_on_an_80_column_terminal_fits_each_row_leaving_out_the_file(
        run_cli: CliRunner, run_on_terminal: TerminalRunner, config_dir: Path) -> None:
    """After the demo, every row wrapped: the FILE column ran past the edge. The file gives way
    first, then the title is cut; direction, providers and the last run stay whole."""
    assert run_cli("demo", "--headless", "--rows", "20").returncode == 0
    (config_dir / "dir.toml").mkdir()
    code, shown = run_on_terminal("list", columns=80)
    assert code == 2, shown  # (the broken file)
    header, demo, broken = _list_lines(shown)
    assert all(len(line) <= 80 for line in (header, demo, broken)), shown
    assert header.split() == ["TITLE", "DIRECTION", "ENTITY", "1", "ENTITY", "2", "LAST", "RUN"]
    assert demo.startswith("Demo: Dynamics") and "…" in demo.split("  ")[0]
    assert " Left to Right  odata     sqlite    " in demo and demo.endswith(" success")
    assert broken.startswith("(broken) dir.to")  # (its file named on stderr, whole)


def test_list_on_a_wide_terminal_cuts_the_file_name_before_the_title(
        run_cli: CliRunner, run_on_terminal: TerminalRunner) -> None:
    assert run_cli("demo", "--headless", "--rows", "20").returncode == 0
    code, shown = run_on_terminal("list", columns=120)
    assert code == 0, shown
    header, demo = _list_lines(shown)
    assert len(demo) <= 120 and header.split()[-1] == "FILE"
    assert demo.startswith("Demo: Dynamics accounts to SQLite  Left to Right  ")
    assert demo.endswith("  demo-dynamics-accoun…")


def test_list_piped_keeps_its_lines_whole_whatever_the_terminal_width(
        run_cli: CliRunner) -> None:
    """As history: cut to fit a terminal only; a file or a script gets every cell whole."""
    assert run_cli("demo", "--headless", "--rows", "20").returncode == 0
    header, demo = run_cli("list", env={"COLUMNS": "80"}).stdout.splitlines()
    assert header.split()[-1] == "FILE" and len(demo) > 80
    assert demo.startswith("Demo: Dynamics accounts to SQLite  ") and demo.endswith(DEMO_FILE)
