"""Runs from SQLite tables whose dates and booleans are written as their users write them: each
reaches Dataverse as it reads, and a value that reads as nothing fails its row alone."""

from __future__ import annotations

import sqlite3
import uuid
from contextlib import closing
from pathlib import Path
from typing import Any

from l2tui.config.model import ColumnPair, Connection, Direction, Entity, Mapping
from l2tui.config.store import ConnectionStore
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from l2tui.sync.events import Event, ItemError, RunReport
from tests.conftest import CliRunner
from tests.sync.support import Pair

CONTACT_COLUMNS = "contactid, firstname, lastname, emailaddress1, birthdate"


class Contacts:
    """A SQLite table of contacts (birthdate DATE, and a DATETIME column no side maps) and a
    connection from it to the emulator's contacts."""

    def __init__(self, emu: Any, path: Path, direction: Direction) -> None:
        self.emu = emu
        self.path = path
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE contacts (contactid TEXT PRIMARY KEY, firstname TEXT, "
                       "lastname TEXT, emailaddress1 TEXT, birthdate DATE, noted_at DATETIME)")
        self.conn = Connection(
            title="SQLite contacts", direction=direction,
            entity1=Entity(provider="odata", connection_string=emu.connection_string("contacts"),
                           select=f"$select={CONTACT_COLUMNS.replace(' ', '')}"),
            entity2=Entity(provider="sqlite", connection_string=f"Data Source={path};",
                           select="contacts", primary_key=["contactid"]),
            mapping=Mapping(auto=True, columns=[]))
        self.events: list[Event] = []

    def insert(self, birthdate: object, *, noted_at: object = None, name: str = "Row") -> str:
        """A row as a SQLite user writes it; its key."""
        key = str(uuid.uuid4())
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute("INSERT INTO contacts VALUES (?, ?, ?, ?, ?, ?)",
                       (key, name, "Row", "row@example.com", birthdate, noted_at))
        return key

    def set(self, key: str, column: str, value: object) -> None:
        """Change one value of a row."""
        with closing(sqlite3.connect(self.path)) as db, db:
            db.execute(f"UPDATE contacts SET {column} = ? WHERE contactid = ?", (value, key))

    def right(self, key: str) -> tuple[Any, ...]:
        """A row's first name and birthdate as the table holds them."""
        with closing(sqlite3.connect(self.path)) as db:
            return tuple(db.execute("SELECT firstname, birthdate FROM contacts WHERE contactid = ?",
                                    (key,)).fetchone())

    def left(self) -> dict[str, tuple[Any, Any]]:
        """Dataverse contacts by id: (first name, birthdate)."""
        return {r["contactid"]: (r["firstname"], r["birthdate"])
                for r in self.emu.store.rows("contacts")}

    def run(self, **kwargs: Any) -> RunReport:
        """One run through the real runner and providers."""
        self.events.clear()
        return Runner(resolve_paths()).run(self.conn, sink=self.events.append, **kwargs)

    def errors(self) -> dict[str, str]:
        """The last run's item errors: message by key."""
        return {e.key: e.message for e in self.events if isinstance(e, ItemError)}


def test_sqlite_dates_written_with_a_time_reach_dataverse_as_their_day_and_one_that_is_no_date_fails_its_row_alone(  # noqa: E501
        emu: Any, tmp_path: Path) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.RIGHT_TO_LEFT)
    days = {contacts.insert(text): day for text, day in [
        ("1980-01-02 00:00:00", "1980-01-02"), ("2021-05-06T07:08:09", "2021-05-06"),
        ("2021-05-06T07:08:09+05:00", "2021-05-06"), ("2021-05-06T07:08:09Z", "2021-05-06"),
        ("1990-03-04", "1990-03-04")]}
    bad = contacts.insert("03/04/2005")
    number = contacts.insert(20200101)

    report = contacts.run()

    assert report.outcome == "errors" and report.errors_right == 2
    assert report.created_left == len(days) and report.errors_left == 0
    assert contacts.errors() == {
        f'["{bad}"]': "birthdate: '03/04/2005' cannot be read as a date",
        f'["{number}"]': "birthdate: 20200101 cannot be read as a date"}
    left = contacts.left()
    assert {k: left[k][1] for k in days} == days
    assert bad not in left and number not in left
    again = contacts.run()
    assert again.plan is not None and again.plan.writes == 0
    assert again.errors_right == 2 and len(contacts.errors()) == 2


def test_a_sqlite_value_that_is_no_date_in_a_column_not_synced_is_no_matter(
        emu: Any, tmp_path: Path) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.RIGHT_TO_LEFT)
    key = contacts.insert("1980-01-02", noted_at="27/11/2026 10:00")
    report = contacts.run()
    assert report.outcome == "success" and report.created_left == 1
    assert contacts.left()[key] == ("Row", "1980-01-02")


def test_a_synced_row_whose_date_turns_unreadable_is_neither_deleted_nor_overwritten_until_fixed(
        emu: Any, tmp_path: Path) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.BIDIRECTIONAL)
    assert contacts.run().outcome == "success"
    key, (first, day) = next(iter(sorted((k, v) for k, v in contacts.left().items()
                                         if v[1] is not None)))
    contacts.set(key, "birthdate", "03/04/2005")
    emu.store.update("contacts", key, {"firstname": "Edited"})  # not carried while unreadable

    report = contacts.run()

    assert report.outcome == "errors" and report.errors_right == 1
    assert report.deleted_left == report.deleted_right == 0
    assert report.updated_left == report.updated_right == 0
    assert contacts.errors() == {f'["{key}"]': "birthdate: '03/04/2005' cannot be read as a date"}
    assert contacts.left()[key] == ("Edited", day)
    assert contacts.right(key) == (first, "03/04/2005")
    contacts.set(key, "birthdate", day)  # fixed: the edit goes through
    assert contacts.run().outcome == "success"
    assert contacts.right(key) == ("Edited", day)


def test_a_first_run_leaves_a_row_that_reads_as_nothing_as_it_is_though_its_partner_is_new(
        emu: Any, tmp_path: Path) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.BIDIRECTIONAL)
    key = sorted(contacts.left())[0]
    with closing(sqlite3.connect(contacts.path)) as db, db:
        db.execute("INSERT INTO contacts (contactid, firstname, birthdate) VALUES (?, ?, ?)",
                   (key, "Mine", "03/04/2005"))

    report = contacts.run()

    assert report.outcome == "errors" and report.errors_right == 1
    assert report.created_right == len(contacts.left()) - 1
    assert contacts.right(key) == ("Mine", "03/04/2005")


def test_a_synced_source_row_whose_date_turns_unreadable_is_not_taken_as_deleted(
        emu: Any, tmp_path: Path) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.RIGHT_TO_LEFT)
    keys = [contacts.insert(f"1980-01-0{day}") for day in (1, 2, 3)]
    assert contacts.run().created_left == 3
    contacts.set(keys[0], "birthdate", "first of May")

    report = contacts.run()

    assert report.outcome == "errors" and report.errors_right == 1
    assert report.deleted_left == 0 and contacts.left()[keys[0]] == ("Row", "1980-01-01")
    assert contacts.errors() == {
        f'["{keys[0]}"]': "birthdate: 'first of May' cannot be read as a date"}


def test_a_row_whose_match_key_turns_unreadable_is_not_taken_as_deleted(tmp_path: Path) -> None:
    paths = []
    for side in ("left", "right"):
        path = tmp_path / f"{side}.db"
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE days (id INTEGER PRIMARY KEY, day DATE, label TEXT)")
            db.executemany("INSERT INTO days VALUES (?, ?, ?)",
                           [(1, "2001-02-03", "a"), (2, "2001-02-04", "b")])
        paths.append(path)
    conn = Connection(
        title="Days", direction=Direction.BIDIRECTIONAL, max_delete_ratio=1.0,
        entity1=Entity(provider="sqlite", connection_string=f"Data Source={paths[0]};",
                       select="days", primary_key=["id"]),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={paths[1]};",
                       select="days", primary_key=["id"]),
        mapping=Mapping(auto=False, columns=[ColumnPair("label", "label")],
                        match_key=ColumnPair("day", "day")))
    runner = Runner(resolve_paths())
    assert runner.run(conn).outcome == "success"
    with closing(sqlite3.connect(paths[1])) as db, db:
        db.execute("UPDATE days SET day = 'someday' WHERE id = 1")

    report = runner.run(conn)

    assert report.outcome == "errors" and report.errors_right == 1
    assert report.deleted_left == 0 and report.created_left == 0
    with closing(sqlite3.connect(paths[0])) as db:
        assert db.execute("SELECT id, day FROM days ORDER BY id").fetchall() == [
            (1, "2001-02-03"), (2, "2001-02-04")]


def test_a_run_from_a_sqlite_row_that_is_no_date_finishes_with_errors_naming_it(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.RIGHT_TO_LEFT)
    contacts.insert("1980-01-02")
    bad = contacts.insert("1980-01-02 00:00:00x")
    ConnectionStore(resolve_paths().connections).save(contacts.conn)
    result = run_cli("run", contacts.conn.slug)
    assert result.returncode == 1 and "unexpected error" not in result.stderr, result.stderr
    assert f"error on the right for {bad}: birthdate: '1980-01-02 00:00:00x' cannot be read as a " \
           "date" in result.stderr
    assert "Finished with errors" in result.stdout and "1 created" in result.stdout


def _accounts(emu: Any, path: Path, flags: list[object]) -> tuple[Connection, dict[str, object]]:
    """A SQLite table of accounts whose creditonhold (BOOLEAN) holds ``flags``, and a
    right-to-left connection into the emulator's accounts; keys of the flags."""
    keys = {str(uuid.uuid4()): flag for flag in flags}
    with closing(sqlite3.connect(path)) as db, db:
        db.execute("CREATE TABLE accounts (accountid TEXT PRIMARY KEY, name TEXT, "
                   "creditonhold BOOLEAN)")
        db.executemany("INSERT INTO accounts VALUES (?, ?, ?)",
                       [(k, f"Account {flag!r}", flag) for k, flag in keys.items()])
    conn = Connection(
        title="SQLite accounts", direction=Direction.RIGHT_TO_LEFT,
        entity1=Entity(provider="odata", connection_string=emu.connection_string("accounts"),
                       select="$select=accountid,name,creditonhold"),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={path};",
                       select="accounts", primary_key=["accountid"]),
        mapping=Mapping(auto=True, columns=[]))
    return conn, keys


def test_sqlite_boolean_texts_reach_dataverse_as_they_read_and_a_second_run_has_nothing_to_do(
        emu: Any, tmp_path: Path) -> None:
    falses, trues = ["false", "False", "no", "0", 0, "f", "off"], ["true", "yes", 1, "T", "on"]
    conn, keys = _accounts(emu, tmp_path / "a.db", [*falses, *trues])
    runner = Runner(resolve_paths())

    report = runner.run(conn)

    assert report.outcome == "success" and report.created_left == len(keys)
    held = {r["accountid"]: r["creditonhold"] for r in emu.store.rows("accounts")}
    assert {k: held[k] for k in keys} == {k: flag in trues for k, flag in keys.items()}
    again = runner.run(conn)
    assert again.outcome == "success" and again.plan is not None and again.plan.writes == 0


def test_a_sqlite_boolean_text_that_is_neither_true_nor_false_fails_its_row_alone(
        emu: Any, tmp_path: Path) -> None:
    conn, keys = _accounts(emu, tmp_path / "a.db", ["maybe", "no", "yes"])
    events: list[Event] = []
    report = Runner(resolve_paths()).run(conn, sink=events.append)
    maybe = next(k for k, flag in keys.items() if flag == "maybe")
    assert report.outcome == "errors" and report.errors_right == 1 and report.created_left == 2
    assert [(e.key, e.message) for e in events if isinstance(e, ItemError)] == [
        (f'["{maybe}"]', "creditonhold: 'maybe' cannot be read as true or false")]
    assert maybe not in {r["accountid"] for r in emu.store.rows("accounts")}


def test_a_one_way_run_writes_over_a_target_row_holding_a_value_that_reads_as_nothing(
        pair: Pair) -> None:
    assert pair.run().outcome == "success"
    key = sorted(pair.left())[0]
    with pair.engine.begin() as c:
        c.exec_driver_sql("UPDATE accounts SET creditonhold = 'maybe', changed_at = 'soon' "
                          "WHERE accountid = ?", (key,))

    report = pair.run(full=True)

    assert report.outcome == "success" and report.updated_right == 1, report.message
    with pair.engine.connect() as c:
        held = c.exec_driver_sql("SELECT creditonhold FROM accounts WHERE accountid = ?",
                                 (key,)).scalar_one()
    assert held == int(pair.left()[key][-1])


def test_a_nan_written_into_a_sqlite_number_column_is_kept_as_nan_and_a_full_run_writes_nothing(
        tmp_path: Path) -> None:
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    for path in (source, target):
        with closing(sqlite3.connect(path)) as db, db:
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, f DOUBLE, n NUMERIC(10, 2))")
    with closing(sqlite3.connect(source)) as db, db:
        db.execute("INSERT INTO t VALUES (1, 'NaN', 'NaN')")  # (SQLite keeps a NaN as text)
    conn = Connection(
        title="NaN", direction=Direction.LEFT_TO_RIGHT,
        entity1=Entity(provider="sqlite", connection_string=f"Data Source={source};",
                       select="t", primary_key=["id"]),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={target};",
                       select="t", primary_key=["id"]),
        mapping=Mapping(auto=True, columns=[]))
    runner = Runner(resolve_paths())
    assert runner.run(conn).created_right == 1
    with closing(sqlite3.connect(target)) as db:
        assert db.execute("SELECT f, n FROM t").fetchone() == ("NaN", "NaN")  # not NULL
    again = runner.run(conn, full=True)
    assert (again.updated_right, again.errors_right, again.unchanged) == (0, 0, 1)


def test_a_nan_written_into_a_sqlite_table_without_a_unique_key_is_kept_as_nan_too(
        tmp_path: Path) -> None:
    """The general write path (no primary key or unique index on the match key: no fast upsert)
    keeps a NaN as the fast path does, as the text 'NaN', not as NULL; a full run then writes
    nothing."""
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    with closing(sqlite3.connect(source)) as db, db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, f DOUBLE, n NUMERIC(10, 2))")
        db.execute("INSERT INTO t VALUES (1, 'NaN', 'NaN')")
    with closing(sqlite3.connect(target)) as db, db:
        db.execute("CREATE TABLE t (id INTEGER, f DOUBLE, n NUMERIC(10, 2))")  # no key
    conn = Connection(
        title="NaN", direction=Direction.LEFT_TO_RIGHT,
        entity1=Entity(provider="sqlite", connection_string=f"Data Source={source};",
                       select="t", primary_key=["id"]),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={target};",
                       select="t", primary_key=["id"]),
        mapping=Mapping(auto=True, columns=[]))
    runner = Runner(resolve_paths())
    assert runner.run(conn).created_right == 1
    with closing(sqlite3.connect(target)) as db:
        assert db.execute("SELECT id, f, n FROM t").fetchall() == [(1, "NaN", "NaN")]
    again = runner.run(conn, full=True)
    assert (again.updated_right, again.errors_right, again.unchanged) == (0, 0, 1)


def test_a_text_key_written_into_a_sqlite_integer_primary_key_fails_its_row_saying_why(
        tmp_path: Path, run_cli: CliRunner) -> None:
    source, target = tmp_path / "source.db", tmp_path / "target.db"
    with closing(sqlite3.connect(source)) as db, db:
        db.execute("CREATE TABLE t (id TEXT PRIMARY KEY, v TEXT)")
        db.executemany("INSERT INTO t VALUES (?, ?)", [("1", "one"), ("x", "ex")])
    with closing(sqlite3.connect(target)) as db, db:
        db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, v TEXT)")
    conn = Connection(
        title="Keys", direction=Direction.LEFT_TO_RIGHT,
        entity1=Entity(provider="sqlite", connection_string=f"Data Source={source};",
                       select="t", primary_key=["id"]),
        entity2=Entity(provider="sqlite", connection_string=f"Data Source={target};",
                       select="t", primary_key=["id"]),
        mapping=Mapping(auto=True, columns=[]))
    ConnectionStore(resolve_paths().connections).save(conn)
    result = run_cli("run", conn.slug)
    assert result.returncode == 1, result.stderr
    assert "error on the right for x: id: 'x' cannot be stored: SQLite's INTEGER PRIMARY KEY " \
           "holds whole numbers only" in result.stderr
    assert "1 created" in result.stdout


def test_a_synced_row_whose_text_turns_into_bytes_that_are_not_utf8_fails_alone_until_fixed(
        emu: Any, tmp_path: Path) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.BIDIRECTIONAL)
    assert contacts.run().outcome == "success"
    key, (first, day) = sorted(contacts.left().items())[0]
    other = sorted(contacts.left())[-1]
    with closing(sqlite3.connect(contacts.path)) as db, db:
        db.execute("UPDATE contacts SET firstname = CAST(x'41ff42' AS TEXT) WHERE contactid = ?",
                   (key,))
    contacts.set(other, "lastname", "Edited")  # the other rows sync as usual

    for _ in range(2):  # and each run tries it again
        report = contacts.run()

        assert report.outcome == "errors" and report.errors_right == 1
        assert report.deleted_left == report.deleted_right == 0
        assert contacts.errors() == {
            f'["{key}"]': "firstname: b'A\\xffB' cannot be read as UTF-8 text"}
        assert contacts.left()[key] == (first, day)
    assert report.updated_left == 0
    assert any(r["lastname"] == "Edited" for r in emu.store.rows("contacts")
               if r["contactid"] == other)
    contacts.set(key, "firstname", "Fixed")
    assert contacts.run().outcome == "success"
    assert contacts.left()[key] == ("Fixed", day)


def test_a_one_way_run_writes_over_a_target_text_that_is_not_utf8(
        emu: Any, tmp_path: Path) -> None:
    contacts = Contacts(emu, tmp_path / "c.db", Direction.LEFT_TO_RIGHT)
    assert contacts.run().outcome == "success"
    key, (first, day) = sorted(contacts.left().items())[0]
    with closing(sqlite3.connect(contacts.path)) as db, db:
        db.execute("UPDATE contacts SET firstname = CAST(x'41ff42' AS TEXT) WHERE contactid = ?",
                   (key,))

    report = contacts.run(full=True)

    assert report.outcome == "success" and report.updated_right == 1
    assert contacts.right(key) == (first, day)
