"""`l2tui create-table`: the target SQL table made from the other entity's columns, DDL shown first."""

from __future__ import annotations

import sqlite3
import stat
from pathlib import Path
from typing import Any

from l2tui.config.model import ColumnPair, Connection
from l2tui.config.store import ConnectionStore
from tests.conftest import CliRunner


def _save(config_dir: Path, emulator: Any, db: Path) -> None:
    _save_from(config_dir, emulator.connection_string(), db)


def _save_from(config_dir: Path, source: str, db: Path) -> None:
    """The connection "Accounts": entity 1 the Dynamics accounts at ``source`` (a connection
    string), entity 2 the table crm_accounts in the SQLite file ``db``."""
    conn = Connection(title="Accounts")
    conn.entity1.provider = "odata"
    conn.entity1.connection_string = source
    conn.entity1.select = "$select=accountid,name,revenue,modifiedon"
    conn.entity1.primary_key = ["accountid"]
    conn.entity2.provider = "sqlite"
    conn.entity2.connection_string = f"Data Source={db};"
    conn.entity2.select = "crm_accounts"
    conn.entity2.primary_key = ["accountid"]
    ConnectionStore(config_dir).save(conn)


def _tables(db: Path) -> list[str]:
    if not db.exists():
        return []
    with sqlite3.connect(db) as con:
        return [r[0] for r in con.execute("SELECT name FROM sqlite_master WHERE type='table'")]


def test_dry_run_prints_the_ddl_and_creates_nothing(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    result = run_cli("create-table", "Accounts", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith("CREATE TABLE crm_accounts (")
    assert "PRIMARY KEY (accountid)" in result.stdout
    assert "crm_accounts" not in _tables(db)


def test_without_a_terminal_it_asks_for_yes(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    result = run_cli("create-table", "Accounts")
    assert result.returncode == 2
    assert "add --yes" in result.stderr
    assert "crm_accounts" not in _tables(db)


def test_yes_creates_the_table_and_a_run_then_fills_it(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    created = run_cli("create-table", "Accounts", "--yes")
    assert created.returncode == 0, created.stderr
    with sqlite3.connect(db) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(crm_accounts)")]
    assert columns == ["accountid", "name", "revenue", "modifiedon"]
    run = run_cli("run", "Accounts")
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM crm_accounts").fetchone()[0] == emulator.store.count("accounts")


def test_a_sqlite_file_it_creates_is_readable_by_its_owner_alone(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    assert run_cli("create-table", "Accounts", "--yes").returncode == 0
    assert stat.S_IMODE(db.stat().st_mode) == 0o600


def test_an_existing_table_is_left_alone(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    with sqlite3.connect(db) as con:
        con.execute("CREATE TABLE crm_accounts (accountid TEXT PRIMARY KEY, name TEXT)")
    _save(config_dir, emulator, db)
    result = run_cli("create-table", "Accounts", "--yes")
    assert result.returncode == 0
    assert "Nothing created: the table of entity 2 (crm_accounts) already exists" in result.stderr
    with sqlite3.connect(db) as con:
        assert len(list(con.execute("PRAGMA table_info(crm_accounts)"))) == 2


def test_an_odata_entity_cannot_be_created_and_the_file_and_key_are_named(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    _save(config_dir, emulator, tmp_path / "crm.db")
    result = run_cli("create-table", "Accounts", "--entity", "1", "--yes")
    assert result.returncode == 2
    assert result.stderr == (f"l2tui: {config_dir / 'accounts.toml'}: entity1.provider: entity1 "
                             "is not a SQL table; only SQL tables can be created\n")



def test_a_table_made_from_dataverse_takes_an_account_without_its_business_required_name(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    """Dataverse asks for an account's name on its forms (ApplicationRequired), but its Web API
    makes accounts without one: the table made for them must take them, run after run."""
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    assert run_cli("create-table", "Accounts", "--yes").returncode == 0
    emulator.store.insert("accounts", {"accountnumber": "NONAME-1"})
    run = run_cli("run", "Accounts")
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT count(*) FROM crm_accounts WHERE name IS NULL").fetchone()[0] == 1


def test_a_table_made_from_dataverse_money_takes_its_four_decimal_places(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    _save(config_dir, emulator, tmp_path / "crm.db")
    result = run_cli("create-table", "Accounts", "--dry-run")
    assert result.returncode == 0, result.stderr
    assert "revenue NUMERIC(19, 4)" in result.stdout


def test_a_table_made_from_dataverse_has_its_label_and_related_name_columns_as_text(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    conn = ConnectionStore(config_dir).load("Accounts")
    conn.entity1.select = "$select=accountid,name,statecodename,primarycontactidname"
    ConnectionStore(config_dir).save(conn)
    assert run_cli("create-table", "Accounts", "--yes").returncode == 0
    with sqlite3.connect(db) as con:
        columns = {r[1]: r[2] for r in con.execute("PRAGMA table_info(crm_accounts)")}
    con.close()
    assert (columns["statecodename"], columns["primarycontactidname"]) == ("TEXT", "TEXT")
    run = run_cli("run", "Accounts")
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as con:
        labels = dict(con.execute("SELECT accountid, statecodename FROM crm_accounts"))
    con.close()
    assert labels == {r["accountid"]: ["Active", "Inactive"][r["statecode"]]
                      for r in emulator.store.rows("accounts")}


def test_a_table_takes_the_names_the_mapping_and_match_key_give_its_columns(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path
) -> None:
    source, db = tmp_path / "source.db", tmp_path / "target.db"
    with sqlite3.connect(source) as con:
        con.execute("CREATE TABLE a (code TEXT PRIMARY KEY, title TEXT, qty INTEGER)")
        con.execute("INSERT INTO a VALUES ('A1', 'first', 1)")
    con.close()
    conn = Connection(title="Renamed")
    conn.entity1.provider = conn.entity2.provider = "sqlite"
    conn.entity1.connection_string = f"Data Source={source};"
    conn.entity1.select = "a"
    conn.entity1.primary_key = ["code"]
    conn.entity2.connection_string = f"Data Source={db};"
    conn.entity2.select = "b"
    conn.entity2.primary_key = ["acct"]
    conn.mapping.columns = [ColumnPair("title", "name")]
    conn.mapping.match_key = ColumnPair("code", "acct")
    ConnectionStore(config_dir).save(conn)
    assert run_cli("create-table", "Renamed", "--yes").returncode == 0
    with sqlite3.connect(db) as con:
        columns = [r[1] for r in con.execute("PRAGMA table_info(b)")]
    con.close()
    assert columns == ["acct", "name", "qty"]
    run = run_cli("run", "Renamed")
    assert run.returncode == 0, run.stderr
    with sqlite3.connect(db) as con:
        assert con.execute("SELECT acct, name, qty FROM b").fetchall() == [("A1", "first", 1)]
    con.close()


def test_the_question_on_a_terminal_names_the_table_and_its_sqlite_file_whole(
    run_on_terminal: Any, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    code, shown = run_on_terminal("create-table", "Accounts", answers=["n"])
    assert code == 0, shown
    assert f"Create the table main.crm_accounts in the SQLite file {db} for entity 2? [y/N]" \
        in shown.replace("\r", "")
    assert "crm_accounts" not in _tables(db)


def test_yes_says_which_table_it_created_in_which_sqlite_file(
    run_cli: CliRunner, config_dir: Path, tmp_path: Path, emulator: Any
) -> None:
    db = tmp_path / "crm.db"
    _save(config_dir, emulator, db)
    created = run_cli("create-table", "Accounts", "--yes")
    assert created.returncode == 0, created.stderr
    assert f"Created the table main.crm_accounts in the SQLite file {db} for entity 2.\n" \
        == created.stderr


def test_a_source_that_is_not_there_is_named_as_a_run_names_it(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    """The table is made from entity 1's columns: the error said "GET http://…: Connection
    refused" without naming which entity it could not reach."""
    _save_from(config_dir, "URL=http://127.0.0.1:9/api/data/v9.2/accounts;Authentication=none;",
               tmp_path / "crm.db")
    result = run_cli("create-table", "Accounts", "--dry-run")
    assert result.returncode == 3
    assert result.stderr.startswith("l2tui: entity 1 (odata): GET http://127.0.0.1:9/"), \
        result.stderr
