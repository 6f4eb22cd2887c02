"""SQLite keeps any value in any column: dates, datetimes and booleans read as their users write
them, and a value that reads as none is named, its row read all the same."""

from __future__ import annotations

import datetime as dt

import pytest

from l2tui.providers.base import ColumnType, Page, Record
from l2tui.providers.booleans import FALSE_TEXTS, TRUE_TEXTS
from l2tui.providers.sql import types
from l2tui.sync.normalize import normalize
from tests.providers.sql.conftest import Database

PLUS5 = dt.timezone(dt.timedelta(hours=5))


def _pages(db: Database, table: str, values: list[object], sql_type: str) -> list[Page]:
    db.run(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, v {sql_type})")
    with db.engine.begin() as conn:
        conn.exec_driver_sql(f"INSERT INTO {table} VALUES (?, ?)",
                             [(i, v) for i, v in enumerate(values)])
    return list(db.open(table).read())


def _values(pages: list[Page]) -> list[object]:
    return [r["v"] for p in pages for r in p.records]


def test_a_sqlite_date_column_reads_iso_texts_as_the_day_they_write(sqlite_db: Database) -> None:
    days = {
        "1980-01-02": dt.date(1980, 1, 2),
        "1980-01-02 00:00:00": dt.date(1980, 1, 2),
        "2021-05-06T07:08:09": dt.date(2021, 5, 6),
        "2021-05-07 07:08:09.123456": dt.date(2021, 5, 7),
        "2021-05-08T23:08:09+05:00": dt.date(2021, 5, 8),  # the day written, not the UTC day
        "2021-05-09T23:08:09-05:00": dt.date(2021, 5, 9),
        "2021-05-10T07:08:09Z": dt.date(2021, 5, 10),
        "2021-05-11t07:08:09z": dt.date(2021, 5, 11),
        " 2021-05-12 ": dt.date(2021, 5, 12),
        "2021-05-13Z": dt.date(2021, 5, 13),
    }
    pages = _pages(sqlite_db, "days", [*days, None, "", " "], "DATE")
    assert _values(pages) == [*days.values(), None, None, None]  # blank: null, as synced
    assert not any(p.unreadable for p in pages)


def test_a_sqlite_datetime_column_reads_iso_texts_as_the_moment_they_write(
        sqlite_db: Database) -> None:
    moments = {
        "2021-05-06 07:08:09": dt.datetime(2021, 5, 6, 7, 8, 9),
        "2021-05-06T07:08:09": dt.datetime(2021, 5, 6, 7, 8, 9),
        "2021-05-06 07:08:09.250000": dt.datetime(2021, 5, 6, 7, 8, 9, 250000),
        "2021-05-06T07:08:09.25": dt.datetime(2021, 5, 6, 7, 8, 9, 250000),
        "2021-05-06 07:08": dt.datetime(2021, 5, 6, 7, 8),
        "2021-05-06": dt.datetime(2021, 5, 6),
        "2021-05-06T07:08:09+05:00": dt.datetime(2021, 5, 6, 7, 8, 9, tzinfo=PLUS5),
        "2021-05-06T07:08:09Z": dt.datetime(2021, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        "2021-05-06t07:08:09z": dt.datetime(2021, 5, 6, 7, 8, 9, tzinfo=dt.UTC),
        "2021-05-06+05:00": dt.datetime(2021, 5, 6, tzinfo=PLUS5),  # not 05:00 o'clock
    }
    pages = _pages(sqlite_db, "moments", [*moments, None, ""], "DATETIME")
    values = _values(pages)
    assert values == [*moments.values(), None, None]
    assert [v.utcoffset() for v in values[:-2]] == [m.utcoffset() for m in moments.values()]
    assert not any(p.unreadable for p in pages)


@pytest.mark.parametrize(("sql_type", "value", "message"), [
    ("DATE", "03/04/2005", "v: '03/04/2005' cannot be read as a date"),
    ("DATE", 20200101, "v: 20200101 cannot be read as a date"),
    ("DATE", "2021-13-40", "v: '2021-13-40' cannot be read as a date"),
    ("DATETIME", "27/11/2026 10:00", "v: '27/11/2026 10:00' cannot be read as a date and time"),
    ("TIMESTAMP", "soon", "v: 'soon' cannot be read as a date and time"),
    ("BOOLEAN", "maybe", "v: 'maybe' cannot be read as true or false"),
    ("TIME", "noon", "v: 'noon' cannot be read as TIME"),
])
def test_a_sqlite_value_its_column_type_cannot_read_is_named_and_its_row_read_as_it_is(
        sqlite_db: Database, sql_type: str, value: object, message: str) -> None:
    pages = _pages(sqlite_db, "odd", [None, value, None], sql_type)
    assert _values(pages) == [None, value, None]
    assert [(u.index, u.column, u.message) for u in pages[0].unreadable] == [(1, "v", message)]


def test_an_unreadable_sqlite_value_leaves_the_other_values_of_its_page_converted(
        sqlite_db: Database) -> None:
    sqlite_db.run("CREATE TABLE mixed (id INTEGER PRIMARY KEY, day DATE, flag BOOLEAN)",
                  "INSERT INTO mixed VALUES (1, '2001-02-03', 'false'), (2, 'someday', 1), "
                  "(3, '2001-02-04 10:00:00', 'maybe')")
    [page] = list(sqlite_db.open("mixed").read())
    records: list[Record] = page.records
    assert [(r["day"], r["flag"]) for r in records] == [
        (dt.date(2001, 2, 3), False), ("someday", True), (dt.date(2001, 2, 4), "maybe")]
    assert [(u.index, u.column) for u in page.unreadable] == [(1, "day"), (2, "flag")]


def test_an_unreadable_sqlite_value_is_named_in_a_read_asked_about_versions(
        sqlite_db: Database) -> None:
    sqlite_db.run("CREATE TABLE days (id INTEGER PRIMARY KEY, day DATE)",
                  "INSERT INTO days VALUES (1, '2001-02-03'), (2, '03/04/2005')")
    pages = list(sqlite_db.open("days").read(seen=lambda keys, versions: set()))
    assert [r["day"] for p in pages for r in p.records] == [dt.date(2001, 2, 3), "03/04/2005"]
    assert [(u.index, u.column) for p in pages for u in p.unreadable] == [(1, "day")]


def test_a_sqlite_boolean_column_reads_false_and_true_texts_as_they_say(
        sqlite_db: Database) -> None:
    falses = ["false", "False", "FALSE", "no", "No", "0", 0, "f", "off", " OFF ", "n"]
    trues = ["true", "True", "yes", "YES", "1", 1, 2, "t", "on", "y"]
    pages = _pages(sqlite_db, "flags", [*falses, *trues, None, ""], "BOOLEAN")
    assert _values(pages) == [False] * len(falses) + [True] * len(trues) + [None, None]
    assert not any(p.unreadable for p in pages)


@pytest.mark.parametrize("text", sorted(TRUE_TEXTS | FALSE_TEXTS))
def test_a_sqlite_boolean_text_reads_as_the_sync_normalises_it(text: str) -> None:
    for spelled in (text, text.upper(), f" {text} "):
        assert types.sqlite_boolean(spelled) is normalize(spelled, ColumnType.BOOLEAN)


@pytest.mark.parametrize("bad", [1, 7])  # (the first row is read with the statement)
def test_a_sqlite_text_that_is_not_utf8_is_named_and_every_other_row_read_once(
        sqlite_db: Database, bad: int) -> None:
    sqlite_db.run("CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)")
    with sqlite_db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO notes VALUES (?, ?)",
                             [(i, f"note {i}") for i in range(1, 11)])
        conn.exec_driver_sql("UPDATE notes SET note = CAST(x'41ff42' AS TEXT) WHERE id = ?", (bad,))

    pages = list(sqlite_db.open("notes", page_size=3).read())

    assert [r["id"] for p in pages for r in p.records] == list(range(1, 11))
    assert [r["note"] for p in pages for r in p.records if r["id"] != bad] == [
        f"note {i}" for i in range(1, 11) if i != bad]
    assert [(p.records[u.index]["id"], u.column, u.message) for p in pages
            for u in p.unreadable] == [(bad, "note", "note: b'A\\xffB' cannot be read as UTF-8 text")]


def test_a_read_past_a_sqlite_text_that_is_not_utf8_keeps_to_the_rows_as_the_read_began(
        sqlite_db: Database) -> None:
    sqlite_db.run("PRAGMA journal_mode=WAL", "CREATE TABLE notes (id INTEGER PRIMARY KEY, note TEXT)")
    with sqlite_db.engine.begin() as conn:
        conn.exec_driver_sql("INSERT INTO notes VALUES (?, ?)",
                             [(i, f"note {i}") for i in range(1, 11)])
        conn.exec_driver_sql("UPDATE notes SET note = CAST(x'41ff42' AS TEXT) WHERE id = 7")
    pages = iter(sqlite_db.open("notes", page_size=3).read())
    ids = [r["id"] for r in next(pages).records]

    with sqlite_db.engine.begin() as conn:  # written while the read goes on
        conn.exec_driver_sql("INSERT INTO notes VALUES (0, 'new'), (11, 'new')")
    ids += [r["id"] for p in pages for r in p.records]

    assert ids == list(range(1, 11))


def test_only_a_plain_sqlite_integer_column_is_described_as_keeping_any_text(
        sqlite_db: Database) -> None:
    """SQLite keeps a text that is no number in an INTEGER column by type affinity; not in a
    STRICT table's, nor in an INTEGER PRIMARY KEY (the rowid)."""
    sqlite_db.run("CREATE TABLE plain (id INTEGER PRIMARY KEY, n INTEGER, b BIGINT, r REAL)",
                  "CREATE TABLE strict (id TEXT PRIMARY KEY, n INTEGER) STRICT")
    kept = {table: {c.name for c in sqlite_db.open(table, ["id"]).describe() if c.keeps_text}
            for table in ("plain", "strict")}
    assert kept == {"plain": {"n", "b"}, "strict": set()}
