"""`l2tui verify` and `l2tui preview` against the emulator and SQLite, through the real CLI."""

from __future__ import annotations

import csv
import io
import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Connection, Direction
from l2tui.config.store import ConnectionStore
from tests.conftest import REPO, CliRunner


def _sqlite_with_accounts(path: Path) -> None:
    with sqlite3.connect(path) as db:
        db.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, revenue NUMERIC)")
        db.execute("INSERT INTO accounts VALUES ('a1', 'Contoso', 10.5), ('a2', 'Fabrikam', NULL)")


def _save(config_dir: Path, url_string: str, db: Path, *, password_env: str | None = None) -> Connection:
    conn = Connection(title="Accounts")
    conn.entity1.title, conn.entity1.provider = "Dynamics accounts", "odata"
    conn.entity1.connection_string = url_string
    conn.entity1.select = "$select=accountid,name,revenue"
    conn.entity1.primary_key = ["accountid"]
    conn.entity1.password_env = password_env
    conn.entity2.title, conn.entity2.provider = "SQLite accounts", "sqlite"
    conn.entity2.connection_string = f"Data Source={db};"
    conn.entity2.select = "accounts"
    conn.entity2.primary_key = ["accountid"]
    ConnectionStore(config_dir).save(conn)
    return conn


def test_verify_both_entities(run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    _save(config_dir, emulator.connection_string(), db)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 0, result.stderr
    assert "Entity 1 (Dynamics accounts): ok — Connected to 127.0.0.1" in result.stdout
    assert "Entity 2 (SQLite accounts): ok" in result.stdout


def test_verify_signs_in_with_the_password_from_the_environment(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator_factory: Any
) -> None:
    emu = emulator_factory(rows=20, auth=True)
    _save(config_dir, emu.connection_string(), tmp_path / "unused.db", password_env="CRM_PASSWORD")
    env = {"CRM_PASSWORD": emu.password,
           "L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"}
    result = run_cli("verify", "Accounts", "--entity", "1", env=env)
    assert result.returncode == 0, result.stderr
    assert f"as {emu.username}" in result.stdout


def test_verify_with_an_empty_password_variable_says_it_is_empty(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator_factory: Any
) -> None:
    emu = emulator_factory(rows=5, auth=True)
    _save(config_dir, emu.connection_string(), tmp_path / "unused.db", password_env="CRM_PASSWORD")
    env = {"CRM_PASSWORD": "", "L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"}
    result = run_cli("verify", "Accounts", "--entity", "1", env=env)
    assert result.returncode == 3
    assert "$CRM_PASSWORD is set but empty" in result.stdout
    assert "set $CRM_PASSWORD" not in result.stdout


def test_verify_without_a_password_says_how_to_give_one_for_cron(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator_factory: Any
) -> None:
    emu = emulator_factory(rows=5, auth=True)
    _save(config_dir, emu.connection_string(), tmp_path / "unused.db")
    env = {"L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"}
    result = run_cli("verify", "Accounts", "--entity", "1", env=env)
    assert result.returncode == 3
    assert f"no password for {emu.username}" in result.stdout
    assert "l2tui set-password accounts --entity 1" in result.stdout
    assert "password_env" in result.stdout


def test_without_a_keyring_the_missing_password_hint_leaves_set_password_out(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator_factory: Any
) -> None:
    """set-password refuses where no keyring works: the hint does not send a user there."""
    emu = emulator_factory(rows=5, auth=True)
    _save(config_dir, emu.connection_string(), tmp_path / "unused.db")
    env = {"L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}",
           "PYTHON_KEYRING_BACKEND": "keyring.backends.fail.Keyring"}
    result = run_cli("verify", "Accounts", "--entity", "1", env=env)
    assert result.returncode == 3
    assert f"no password for {emu.username}: set password_env = \"VAR\" in the file, or run on " \
           "a terminal to be asked" in result.stdout
    assert "set-password" not in result.stdout


def test_a_device_code_sign_in_off_a_terminal_fails_at_once_saying_where_to_sign_in(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator_factory: Any
) -> None:
    """Cron or systemd: no one would see the code, so no 15-minute wait holding the lock."""
    emu = emulator_factory(rows=5, auth=True)
    _sqlite_with_accounts(tmp_path / "crm.db")
    _save(config_dir, f"URL={emu.url('accounts')};Authentication=device_code;"
          f"Authority={emu.authority};", tmp_path / "crm.db")
    env = {"L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"}
    result = run_cli("run", "Accounts", env=env, timeout=30)
    assert result.returncode == 3, result.stdout + result.stderr
    assert "a device-code sign-in needs a person to enter its code: sign in once on a " \
           "terminal (l2tui verify accounts)" in result.stderr
    assert emu.idp.pending_device_codes() == []


def test_a_device_code_sign_in_on_a_terminal_shows_the_code_and_waits_for_it(
    run_on_terminal: Any, config_dir: Path, tmp_path: Path, emulator_factory: Any,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    emu = emulator_factory(rows=5, auth=True)
    emu.idp.auto_approve_device_codes = True
    _save(config_dir, f"URL={emu.url('accounts')};Authentication=device_code;"
          f"Authority={emu.authority};", tmp_path / "unused.db")
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    code, shown = run_on_terminal("verify", "Accounts", "--entity", "1")
    assert code == 0, shown
    assert "enter the code" in shown
    assert "Entity 1 (Dynamics accounts): ok" in shown


def test_verify_with_a_wrong_password_exits_3_without_showing_it(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator_factory: Any
) -> None:
    emu = emulator_factory(rows=5, auth=True)
    _save(config_dir, emu.connection_string(), tmp_path / "unused.db", password_env="CRM_PASSWORD")
    env = {"CRM_PASSWORD": "Wr0ng-Secret!",
           "L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"}
    result = run_cli("verify", "Accounts", "--entity", "1", env=env)
    assert result.returncode == 3
    assert "FAILED" in result.stdout
    assert "Wr0ng-Secret!" not in result.stdout + result.stderr
    assert "Traceback" not in result.stderr


def test_a_proxy_page_in_place_of_the_sign_in_answer_is_one_line_without_a_traceback(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator_factory: Any
) -> None:
    """A proxy answers the token request with its own HTML page: one line saying the answer was
    no JSON (not MSAL's logged traceback on stderr, nor 'Expecting value: line 1 column 1')."""
    emu = emulator_factory(rows=5, auth=True)
    _save(config_dir, emu.connection_string(), tmp_path / "unused.db", password_env="CRM_PASSWORD")
    emu.faults.garble_next(10, path_contains="/token")
    env = {"CRM_PASSWORD": emu.password,
           "L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"}
    result = run_cli("verify", "Accounts", "--entity", "1", env=env)
    assert result.returncode == 3, result.stderr
    assert "Traceback" not in result.stderr and "Proxy error" not in result.stderr, result.stderr
    assert "Expecting value" not in result.stdout + result.stderr
    assert "not JSON" in result.stdout, result.stdout


def test_preview_of_a_service_that_is_not_there_names_the_entity_as_a_run_does(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path
) -> None:
    _save(config_dir, "URL=http://127.0.0.1:9/api/data/v9.2/accounts;Authentication=none;", tmp_path / "x.db")
    result = run_cli("preview", "Accounts", "--entity", "1")
    assert result.returncode == 3
    assert result.stderr.startswith("l2tui: entity 1 (Dynamics accounts): GET http://127.0.0.1:9/")
    assert result.stderr.count("\n") == 1


def test_verify_a_service_that_is_not_there_exits_3(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path
) -> None:
    _save(config_dir, "URL=http://127.0.0.1:9/api/data/v9.2/accounts;Authentication=none;", tmp_path / "x.db")
    result = run_cli("verify", "Accounts", "--entity", "1")
    assert result.returncode == 3
    assert "127.0.0.1:9" in result.stdout
    assert "Traceback" not in result.stdout + result.stderr


def test_verify_of_a_host_that_takes_no_connection_fails_once_within_seconds(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, silent_port: int
) -> None:
    """Not the connection's Timeout (120 s) tried twice: the connect timeout, once."""
    url = f"http://127.0.0.1:{silent_port}/api/data/v9.2/accounts"
    _save(config_dir, f"URL={url};Authentication=none;", tmp_path / "x.db")
    started = time.monotonic()
    result = run_cli("verify", "Accounts", "--entity", "1", timeout=120)
    took = time.monotonic() - started
    assert result.returncode == 3, result.stdout + result.stderr
    assert took < 10, took
    [line] = result.stdout.splitlines()
    assert line.startswith("Entity 1 (Dynamics accounts): FAILED — ") and \
        f"127.0.0.1:{silent_port}" in line, line
    assert "tries" not in line and "Traceback" not in result.stderr, result.stdout + result.stderr


def test_ctrl_c_while_the_service_does_not_answer_exits_130_at_once(
    config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    _save(config_dir, emulator.connection_string(), tmp_path / "x.db")
    emulator.faults.delay_next(10, 15.0, path_contains="EntityDefinitions")
    emulator.recent_requests.clear()
    proc = subprocess.Popen([sys.executable, "-m", "l2tui", "verify", "Accounts", "--entity", "1"],
                            cwd=str(REPO), env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not any("EntityDefinitions" in r for r in list(emulator.recent_requests)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)  # (the describe's requests are out and waiting)
    proc.send_signal(signal.SIGINT)
    interrupted = time.monotonic()
    _, err = proc.communicate(timeout=60)
    assert (proc.returncode, err) == (130, "l2tui: interrupted\n")
    assert time.monotonic() - interrupted < 5  # not once the service answers (15 s)


def test_preview_entity_1_as_json(run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    _save(config_dir, emulator.connection_string(), tmp_path / "x.db")
    result = run_cli("preview", "Accounts", "--entity", "1", "--rows", "3", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout)
    assert len(rows) == 3
    expected = {r["accountid"]: r["name"] for r in emulator.store.rows("accounts")}
    for row in rows:
        assert expected[row["accountid"]] == row["name"]


def test_preview_shows_a_choice_s_label_and_a_lookup_s_related_name(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    conn = _save(config_dir, emulator.connection_string(), tmp_path / "x.db")
    conn.entity1.select = "$select=name,statecodename,primarycontactidname"
    ConnectionStore(config_dir).save(conn)
    result = run_cli("preview", "Accounts", "--entity", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    contacts = {r["contactid"]: r["fullname"] for r in emulator.store.rows("contacts")}
    expected = {r["accountid"]: (["Active", "Inactive"][r["statecode"]],
                                 contacts.get(r["_primarycontactid_value"]))
                for r in emulator.store.rows("accounts")}
    rows = json.loads(result.stdout)
    assert {r["accountid"]: (r["statecodename"], r["primarycontactidname"]) for r in rows} == \
        {r["accountid"]: expected[r["accountid"]] for r in rows}
    assert any(r["primarycontactidname"] for r in rows)


def test_preview_as_json_gives_decimals_as_exact_numbers(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    _save(config_dir, emulator.connection_string(), db)
    result = run_cli("preview", "Accounts", "--entity", "2", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout, parse_float=Decimal)
    assert [(r["accountid"], r["revenue"]) for r in rows] == [("a1", Decimal("10.5")),
                                                             ("a2", None)]
    assert json.loads(result.stdout) == [{"accountid": "a1", "name": "Contoso", "revenue": 10.5},
                                         {"accountid": "a2", "name": "Fabrikam", "revenue": None}]


def test_preview_of_a_metadata_answer_of_another_shape_exits_3_saying_what_was_wrong(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    """A proxy's JSON in place of the table's attributes: one line naming the request and what
    the answer lacks (not a KeyError's "unexpected error", exit 1)."""
    _save(config_dir, emulator.connection_string(), tmp_path / "x.db")
    emulator.faults.answer_next(1, b'{"error": "upstream timed out"}', path_contains="/Attributes",
                                query_contains="AttributeType")
    result = run_cli("preview", "Accounts", "--entity", "1", "--rows", "3")
    assert result.returncode == 3, result.stdout + result.stderr
    url = emulator.url("EntityDefinitions(LogicalName='account')/Attributes")
    assert f"GET {url}: the answer has no 'value' list (is the URL the Web API's?)" in \
        result.stderr, result.stderr
    assert "Traceback" not in result.stderr and "unexpected" not in result.stderr


def test_preview_entity_2_as_a_table(run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    _save(config_dir, emulator.connection_string(), db)
    result = run_cli("preview", "Accounts", "--entity", "2")
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].split() == ["accountid", "name", "revenue"]
    assert "Contoso" in result.stdout and "Fabrikam" in result.stdout
    assert "(2 rows)" in result.stderr


def test_preview_as_a_table_piped_keeps_its_cells_whole(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    """Cut to a terminal's width on a terminal; in a pipe, as history's lines, not to 120
    columns with '…' (a value cut so cannot be read back)."""
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    long = "Contoso " + "x" * 200
    with sqlite3.connect(db) as c:
        c.execute("UPDATE accounts SET name = ? WHERE accountid = 'a1'", (long,))
    _save(config_dir, emulator.connection_string(), db)
    result = run_cli("preview", "Accounts", "--entity", "2")
    assert result.returncode == 0, result.stderr
    assert long in result.stdout and "…" not in result.stdout


@pytest.mark.parametrize("fmt", ["csv"])
def test_preview_as_csv_has_a_header_and_one_line_per_row(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any, fmt: str
) -> None:
    _save(config_dir, emulator.connection_string(), tmp_path / "x.db")
    result = run_cli("preview", "Accounts", "--entity", "1", "--rows", "4", "--format", fmt)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.strip().splitlines()
    assert lines[0].startswith("accountid,")
    assert len(lines) == 5


def test_verify_of_an_incomplete_connection_exits_2_before_connecting(run_cli: CliRunner) -> None:
    run_cli("new", "Draft")
    result = run_cli("verify", "Draft")
    assert result.returncode == 2
    assert "entity1.provider: not set" in result.stderr
    assert "fill it in on the Data Entity 1 page of `l2tui`, or in the file" in result.stderr


@pytest.mark.parametrize("command", ["verify", "preview"])
def test_the_entity_asked_about_is_verified_and_previewed_before_the_other_is_filled_in(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any, command: str
) -> None:
    # entity 1 filled in, entity 2 not yet: "entity2.provider: not set" refused both
    conn = _save(config_dir, emulator.connection_string(), tmp_path / "x.db")
    conn.entity2.provider = conn.entity2.connection_string = ""
    ConnectionStore(config_dir).save(conn)
    result = run_cli(command, "Accounts", "--entity", "1")
    assert result.returncode == 0, result.stderr
    assert "not set" not in result.stdout + result.stderr
    result = run_cli(command, "Accounts", "--entity", "2")
    assert result.returncode == 2
    assert "entity2.provider: not set" in result.stderr


def test_verify_of_a_missing_table_says_which_command_creates_it(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    _save(config_dir, emulator.connection_string(), db)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 2, result.stderr
    assert "Entity 2 (SQLite accounts): FAILED — select: table 'accounts' not found (tables " \
           "there: none)\n" \
           "  l2tui create-table Accounts --entity 2 makes it from entity 1's columns\n" \
        in result.stdout


def test_preview_of_a_missing_table_exits_2_naming_the_file_and_the_entity_key(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "empty.db"
    sqlite3.connect(db).close()
    _save(config_dir, emulator.connection_string(), db)
    result = run_cli("preview", "Accounts", "--entity", "2")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"l2tui: {config_dir / 'accounts.toml'}: entity2.select: "
                                     "table 'accounts' not found (tables there: none)")


@pytest.mark.parametrize("command", [("preview", "--entity", "2"), ("run", "--dry-run")],
                         ids=["preview", "run"])
def test_a_sqlite_select_with_a_syntax_error_exits_2_naming_the_file_and_the_entity_key(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any, command: tuple[str, ...]
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.entity2.select = "SELECT * FROM accounts WHERE"
    ConnectionStore(config_dir).save(conn)
    result = run_cli(command[0], "Accounts", *command[1:])
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (f"l2tui: {config_dir / 'accounts.toml'}: entity2.select: "
                                     "the statement failed: incomplete input")


def test_verify_of_a_select_the_database_refuses_exits_2_with_its_reason(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.entity2.select = "SELECT * FROM accounts WHERE"
    ConnectionStore(config_dir).save(conn)
    result = run_cli("verify", "Accounts", "--entity", "2")
    assert result.returncode == 2, result.stdout
    assert result.stdout.strip() == ("Entity 2 (SQLite accounts): FAILED — select: the statement "
                                     "failed: incomplete input")


@pytest.mark.parametrize("command", [("verify",), ("run", "--dry-run")], ids=["verify", "run"])
def test_a_setting_the_provider_refuses_names_the_file_and_the_entity_key(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any, command: tuple[str, ...]
) -> None:
    _save(config_dir, emulator.connection_string() + "Timeout=abc;", tmp_path / "x.db")
    result = run_cli(command[0], "Accounts", *command[1:])
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr == (f"l2tui: {config_dir / 'accounts.toml'}: entity1.connection_string: "
                             "Timeout must be a number, not 'abc'\n")


def test_verify_of_a_select_naming_a_missing_table_exits_2(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.entity2.select = "no_such_table"
    ConnectionStore(config_dir).save(conn)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 2, result.stdout
    assert "Entity 2 (SQLite accounts): FAILED" in result.stdout and "no_such_table" in result.stdout


def test_verify_of_an_entity_set_the_service_does_not_have_exits_2(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    _save(config_dir, emulator.connection_string("nosuchset"), tmp_path / "unused.db")
    result = run_cli("verify", "Accounts", "--entity", "1")
    assert result.returncode == 2, result.stdout
    assert "no entity set 'nosuchset' (it has: accounts, contacts)" in result.stdout


def test_verify_of_a_select_the_service_refuses_exits_2_with_its_reason(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    conn = _save(config_dir, emulator.connection_string(), tmp_path / "unused.db")
    conn.entity1.select = "$select=accountid,name&$orderby=nosuch"
    ConnectionStore(config_dir).save(conn)
    result = run_cli("verify", "Accounts", "--entity", "1")
    assert result.returncode == 2, result.stdout
    assert "select: the service refused the select: Could not find a property named 'nosuch'" \
        in result.stdout


def test_preview_of_a_select_the_service_refuses_exits_2_naming_the_file_and_the_entity_key(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    conn = _save(config_dir, emulator.connection_string(), tmp_path / "unused.db")
    conn.entity1.select = "$filter=nonsense eq 1"
    ConnectionStore(config_dir).save(conn)
    result = run_cli("preview", "Accounts", "--entity", "1")
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"l2tui: {config_dir / 'accounts.toml'}: entity1.select: the service refused the select: "
        "Could not find a property named 'nonsense' on type 'Microsoft.Dynamics.CRM.account'.")


def test_verify_of_a_primary_key_naming_a_missing_dataverse_column_exits_2(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any) -> None:
    conn = _save(config_dir, emulator.connection_string(), tmp_path / "unused.db")
    conn.entity1.primary_key = ["nosuchkey"]
    ConnectionStore(config_dir).save(conn)
    result = run_cli("verify", "Accounts", "--entity", "1")
    assert result.returncode == 2, result.stdout
    assert "FAILED — primary_key: column 'nosuchkey' not found in entity set 'accounts'" \
        in result.stdout


@pytest.fixture
def pg_odd_values(pg_url: str, config_dir: Path, tmp_path: Path) -> Iterator[str]:
    """A PostgreSQL table of values JSON and CSV have no type for (a time, an interval, a
    double that is no number, jsonb, bytea), as entity 1 of the connection "Odd"; its name."""
    table = f"odd_{uuid.uuid4().hex[:8]}"
    engine = sa.create_engine(pg_url)
    with engine.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {table} (id int PRIMARY KEY, t time, i interval, "
                          "f float8, j jsonb, b bytea)")
        c.exec_driver_sql(f"INSERT INTO {table} VALUES (1, '12:30:05', '1 day 02:00:03', "
                          "'NaN', '{\"a\": [1, \"x\"]}', '\\xdead'), "
                          "(2, NULL, '-00:00:01.5', '-Infinity', NULL, NULL)")
    conn = Connection(title="Odd")
    conn.entity1.provider, conn.entity1.connection_string = "postgresql", pg_url
    conn.entity1.select, conn.entity1.primary_key = table, ["id"]
    conn.entity2.provider = "sqlite"
    conn.entity2.connection_string = f"Data Source={tmp_path / 'x.db'};"
    conn.entity2.select, conn.entity2.primary_key = "odd", ["id"]
    ConnectionStore(config_dir).save(conn)
    try:
        yield table
    finally:
        with engine.begin() as c:
            c.exec_driver_sql(f"DROP TABLE {table}")
        engine.dispose()


def test_preview_as_json_gives_times_durations_and_non_numbers_as_text(
        run_cli: CliRunner, pg_odd_values: str) -> None:
    result = run_cli("preview", "Odd", "--entity", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    rows = json.loads(result.stdout, parse_constant=lambda name: pytest.fail(f"JSON has {name}"))
    assert [(r["t"], r["i"], r["f"]) for r in rows] == [("12:30:05", "1 day 02:00:03", "NaN"),
                                                       (None, "-00:00:01.5", "-Infinity")]


def test_preview_as_json_gives_jsonb_as_json_and_bytea_as_hex(
        run_cli: CliRunner, pg_odd_values: str) -> None:
    result = run_cli("preview", "Odd", "--entity", "1", "--format", "json")
    assert result.returncode == 0, result.stderr
    assert [(r["j"], r["b"]) for r in json.loads(result.stdout)] == [({"a": [1, "x"]}, "dead"),
                                                                   (None, None)]


def test_preview_as_csv_gives_jsonb_as_json_and_bytea_as_hex(
        run_cli: CliRunner, pg_odd_values: str) -> None:
    result = run_cli("preview", "Odd", "--entity", "1", "--format", "csv")
    assert result.returncode == 0, result.stderr
    rows = list(csv.DictReader(io.StringIO(result.stdout)))
    assert [(r["t"], r["i"], r["f"], r["j"], r["b"]) for r in rows] == [
        ("12:30:05", "1 day 02:00:03", "NaN", '{"a": [1, "x"]}', "dead"),
        ("", "-00:00:01.5", "-Infinity", "", "")]


def test_preview_as_a_table_gives_jsonb_as_json(run_cli: CliRunner, pg_odd_values: str) -> None:
    result = run_cli("preview", "Odd", "--entity", "1")
    assert result.returncode == 0, result.stderr
    assert '{"a": [1, "x"]}' in result.stdout and "'a'" not in result.stdout


def _mariadb_as_entity2(config_dir: Path, emulator: Any, tmp_path: Path, *,
                        password_env: str) -> None:
    """The connection "Accounts", its entity 2 the test MariaDB, its password from
    ``password_env`` (skipped without MariaDB)."""
    base = os.environ.get("L2TUI_TEST_MYSQL_URL")
    if not base:
        pytest.skip("no MySQL/MariaDB: run the tests with scripts/test")
    conn = _save(config_dir, emulator.connection_string(), tmp_path / "x.db")
    conn.entity2.title, conn.entity2.provider = "MariaDB accounts", "mysql"
    url = sa.make_url(base)
    conn.entity2.connection_string = (f"Server={url.host};Port={url.port};"
                                      f"Database={url.database};User ID={url.username};")
    conn.entity2.password_env = password_env
    ConnectionStore(config_dir).save(conn)


def test_a_database_refusing_a_sign_in_without_the_password_env_names_the_variable(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    """cron's environment lacks the variable: the driver's "using password: NO" alone does not
    say where the password was looked for."""
    _mariadb_as_entity2(config_dir, emulator, tmp_path, password_env="L2TUI_TEST_NOT_SET")
    os.environ.pop("L2TUI_TEST_NOT_SET", None)  # (not set at all: set but empty is told apart)
    result = run_cli("verify", "Accounts", "--entity", "2")
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Access denied" in result.stdout
    assert result.stdout.rstrip().endswith(
        "; no password was found: set $L2TUI_TEST_NOT_SET, store one in the keyring (l2tui "
        "set-password accounts --entity 2), or run on a terminal to be asked")


def test_a_database_refusing_the_password_given_names_where_it_came_from(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    """The driver's "Access denied … (using password: YES)" does not say which password was
    refused: one from a variable reads that its variable's password was refused."""
    _mariadb_as_entity2(config_dir, emulator, tmp_path,
                        password_env="L2TUI_TEST_WRONG_PASSWORD")
    result = run_cli("verify", "Accounts", "--entity", "2",
                     env={"L2TUI_TEST_WRONG_PASSWORD": "not-the-password-l2tui"})
    assert result.returncode == 3, result.stdout + result.stderr
    assert "Access denied" in result.stdout
    assert result.stdout.rstrip().endswith(
        "; the password in $L2TUI_TEST_WRONG_PASSWORD was refused: check it")
    assert "not-the-password-l2tui" not in result.stdout + result.stderr


def test_verify_refuses_a_modified_column_the_entity_lacks_as_run_does(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.entity2.modified_column = "nosuch"
    ConnectionStore(config_dir).save(conn)
    refused = "entity2.modified_column: entity 2 has no column 'nosuch'"
    assert refused in run_cli("run", "Accounts", "--dry-run").stderr
    result = run_cli("verify", "Accounts", "--entity", "2")
    assert result.returncode == 2, result.stdout
    assert f"Entity 2 (SQLite accounts): FAILED — {refused}" in result.stdout


def test_a_mistyped_mapped_column_gets_the_nearest_column_named(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.mapping.columns = [ColumnPair(left="name", right="revenu")]
    ConnectionStore(config_dir).save(conn)
    assert "Mapping: FAILED — mapping.columns[0].right: entity 2 has no column 'revenu' (did you " \
        "mean 'revenue'?)" in run_cli("verify", "Accounts").stdout


def test_a_mapped_column_of_a_wide_table_names_ten_of_its_columns_and_how_many_there_are(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    """A message is one short line: a table of 300 columns is not listed whole."""
    db = tmp_path / "crm.db"
    columns = ", ".join(f"extra_{n:03d} TEXT" for n in range(30))
    with sqlite3.connect(db) as sqlite:
        sqlite.execute(f"CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, {columns})")
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.mapping.columns = [ColumnPair(left="name", right="zzz")]
    ConnectionStore(config_dir).save(conn)
    listed = ", ".join(["accountid", *(f"extra_{n:03d}" for n in range(9))])
    assert f"entity 2 has no column 'zzz' (its columns: {listed}, … (32 in all))" in \
        run_cli("verify", "Accounts").stdout


def test_verify_checks_the_mapping_against_both_entities_as_run_does(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.mapping.columns = [ColumnPair(left="name", right="nosuch")]
    ConnectionStore(config_dir).save(conn)
    refused = "mapping.columns[0].right: entity 2 has no column 'nosuch'"
    assert refused in run_cli("run", "Accounts", "--dry-run").stderr
    result = run_cli("verify", "Accounts")
    assert result.returncode == 2, result.stdout
    assert "Entity 2 (SQLite accounts): ok" in result.stdout
    assert f"Mapping: FAILED — {refused}" in result.stdout


def test_verify_says_a_run_into_dynamics_cannot_write_a_choice_s_label(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.entity1.select = "$select=accountid,name,statecodename"
    conn.direction = Direction.RIGHT_TO_LEFT
    conn.mapping.columns = [ColumnPair(left="statecodename", right="name")]
    ConnectionStore(config_dir).save(conn)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 2, result.stdout
    assert "Mapping: FAILED — mapping.columns[0]: 'statecodename' is read-only in entity 1 (the " \
        "service fills it from statecode) and cannot be written" in result.stdout


def test_verify_names_match_key_values_rows_share_as_run_refuses_them(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path
) -> None:
    for name, rows in (("left.db", [(1, "ACC-01"), (2, "acc-01"), (3, "ACC-03")]), ("right.db", [])):
        with sqlite3.connect(tmp_path / name) as db:
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, accountnumber TEXT COLLATE NOCASE)")
            db.executemany("INSERT INTO t VALUES (?, ?)", rows)
    conn = Connection(title="Numbers")
    for entity, name in ((conn.entity1, "left.db"), (conn.entity2, "right.db")):
        entity.provider, entity.select, entity.primary_key = "sqlite", "t", ["id"]
        entity.connection_string = f"Data Source={tmp_path / name};"
    conn.mapping.match_key = ColumnPair(left="accountnumber", right="accountnumber")
    ConnectionStore(config_dir).save(conn)
    assert "appears 2 times" in run_cli("run", "Numbers", "--dry-run").stderr
    result = run_cli("verify", "Numbers")
    assert "Mapping: ok — 1 column pair, matched by accountnumber\n  warning: Entity 1: 1 value(s) " \
           "of accountnumber appear more than once ('ACC-01' / 'acc-01': 2 times): their rows " \
           "are not synced from it\n" in result.stdout


@pytest.mark.parametrize("command", [("verify",), ("preview", "--entity", "2"), ("run", "--dry-run")],
                         ids=["verify", "preview", "run"])
def test_a_connection_file_other_users_can_write_is_not_used_to_connect(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any, command: tuple[str, ...]
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    assert conn.path is not None and conn.path.stat().st_mode & 0o777 == 0o600
    conn.path.chmod(0o620)
    result = run_cli(command[0], "Accounts", *command[1:])
    assert result.returncode == 2, result.stdout
    assert result.stderr.count("\n") == 1
    assert f"can be written by other users, who could change where it connects: " \
           f"chmod 600 {conn.path}" in result.stderr
    assert result.stdout == ""


def test_a_connection_folder_other_users_can_write_is_not_used_to_connect(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    _save(config_dir, emulator.connection_string(), db)
    config_dir.chmod(0o777)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 2, result.stdout
    assert f"the folder {config_dir} can be written by other users" in result.stderr
    assert f"chmod 700 {config_dir}" in result.stderr


def test_a_connection_folder_its_group_can_write_is_not_used_to_connect(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    """As a file its group can write is not: the group's users could rename the user's files
    there (one connection's file in another's place), as others could without the sticky bit."""
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    _save(config_dir, emulator.connection_string(), db)
    config_dir.chmod(0o770)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 2, result.stdout
    assert f"the folder {config_dir} can be written by other users" in result.stderr
    assert f"chmod 700 {config_dir}" in result.stderr


def test_a_connection_folder_its_group_can_write_with_the_sticky_bit_is_used(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    """The sticky bit lets the group change only files of its own, which are refused."""
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    _save(config_dir, emulator.connection_string(), db)
    config_dir.chmod(0o1770)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 0, result.stderr


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_a_connection_file_of_another_user_is_not_used_to_connect(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _sqlite_with_accounts(db)
    conn = _save(config_dir, emulator.connection_string(), db)
    assert conn.path is not None
    os.chown(conn.path, 65534, 65534)
    result = run_cli("verify", "Accounts")
    assert result.returncode == 2, result.stdout
    assert f"the file {conn.path} belongs to another user" in result.stderr
    assert f"chmod 600 {conn.path}" in result.stderr


def test_verify_names_sql_keys_paired_with_a_guid_that_differ_only_by_case_as_run_refuses_them(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    guid = "3250c8e2-0000-4000-8000-000000000001"
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as sql:
        sql.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, revenue NUMERIC)")
        sql.executemany("INSERT INTO accounts VALUES (?, 'Contoso', NULL)", [(guid,), (guid.upper(),)])
    conn = _save(config_dir, emulator.connection_string(), db)
    conn.direction = Direction.RIGHT_TO_LEFT
    ConnectionStore(config_dir).save(conn)
    assert "appears 2 times" in run_cli("run", "Accounts", "--dry-run").stderr
    result = run_cli("verify", "Accounts")
    assert f"  warning: Entity 2: 1 value(s) of accountid appear more than once ('{guid.upper()}' / " \
           f"'{guid}': 2 times): their rows are not synced from it\n" in result.stdout
