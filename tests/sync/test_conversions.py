"""Manual mapping pairs between differently named and typed SQL columns, run both ways."""

from __future__ import annotations

import uuid
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Connection, Direction, Entity, Mapping
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from l2tui.sync.events import ItemError, LogLine
from l2tui.sync.side import match_values
from tests.sync.support import make_into_dataverse, make_pair, manual_mapping, sqlite_url


def _sql_entity(url: str, table: str, key: str) -> Entity:
    if url.startswith("sqlite"):
        return Entity(provider="sqlite", connection_string=f"Data Source={url[len('sqlite:///'):]};",
                      select=table, primary_key=[key])
    return Entity(provider="postgresql", connection_string=url, select=table, primary_key=[key])


def test_a_datetime_mapped_to_a_date_column_is_not_cut_to_midnight_on_the_next_run(
        db_url: str, tmp_path: Path) -> None:
    left_url = sqlite_url(tmp_path / "left.db")
    left_engine, right_engine = sa.create_engine(left_url), sa.create_engine(db_url)
    right_table = f"days_{uuid.uuid4().hex[:8]}"
    with left_engine.begin() as c:
        c.exec_driver_sql("CREATE TABLE items (id TEXT PRIMARY KEY, at DATETIME)")
        c.exec_driver_sql("INSERT INTO items VALUES ('a', '2026-01-02 15:30:00')")
    with right_engine.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {right_table} (item_id VARCHAR(10) PRIMARY KEY, day DATE)")
    conn = Connection(
        title="Datetime to date", direction=Direction.BIDIRECTIONAL,
        entity1=_sql_entity(left_url, "items", "id"),
        entity2=_sql_entity(db_url, right_table, "item_id"),
        mapping=Mapping(auto=False, columns=[ColumnPair("id", "item_id"), ColumnPair("at", "day")]),
    )
    runner = Runner(resolve_paths())
    try:
        assert runner.run(conn).created_right == 1
        second = runner.run(conn)
        with left_engine.connect() as c:
            at = c.exec_driver_sql("SELECT at FROM items").scalar_one()
        with right_engine.connect() as c:
            day = c.exec_driver_sql(f"SELECT day FROM {right_table}").scalar_one()
    finally:
        with right_engine.begin() as c:
            c.exec_driver_sql(f"DROP TABLE {right_table}")
    assert str(at).startswith("2026-01-02 15:30:00")
    assert str(day) == "2026-01-02"
    assert second.plan is not None and second.plan.writes == 0


def test_a_value_its_target_column_cannot_take_fails_that_row_alone_naming_it(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts")
    manual_mapping(pair, [("accountid", "accountid"), ("name", "revenue")])
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "12.5"})  # one name that is a number: it goes in
    report = pair.run()
    assert report.created_right == 1 and report.errors_right == 19
    errors = {e.key: e.message for e in pair.events if isinstance(e, ItemError)}
    names = {k: v[0] for k, v in pair.left().items()}
    for mkey, message in errors.items():
        name = names[match_values(mkey)[0]]
        assert message == f"revenue: {name!r} cannot be stored as NUMERIC(38, 10)"



@pytest.mark.parametrize("name", ["x" * 161, "\U0001F600" * 81], ids=["ascii", "emoji"])
def test_a_text_too_long_for_its_dataverse_column_fails_its_row_and_is_not_cut(
        emu: Any, tmp_path: Path, name: str) -> None:
    """(name holds 160 UTF-16 units in Dataverse: 81 emoji are 162 of them)"""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    with accounts.engine.begin() as c:
        c.exec_driver_sql("UPDATE accts SET name = ? WHERE acctno = 'AC-000001'", (name,))
    events: list[Any] = []
    for _ in range(2):
        events.clear()
        report = Runner(accounts.paths).run(accounts.conn, sink=events.append)
        assert (report.errors_left, accounts.pairs()) == (1, 2)
        errors = {e.key: e.message for e in events if isinstance(e, ItemError)}
        assert list(errors) == ['["AC-000001"]']
        assert "The length of the 'name' attribute of the 'account' entity exceeded the " \
               "maximum allowed length of '160'" in errors['["AC-000001"]']
    made = {r["accountnumber"]: r["name"] for r in emu.store.rows("accounts")
            if r["accountnumber"].startswith("AC-")}
    assert made == {"AC-000000": "SQL account 0", "AC-000002": "SQL account 2"}
    assert [n for a, n, _ in accounts.right()][1] == name

def test_text_mapped_into_a_typed_column_is_warned_of_before_the_run(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts")
    manual_mapping(pair, [("accountid", "accountid"), ("name", "revenue")])
    pair.run()
    warnings = [e.message for e in pair.events if isinstance(e, LogLine) and e.level == "warning"]
    assert "'name' (text) goes into 'revenue' (decimal): a value that is not a decimal fails " \
           "its row" in warnings


def _texts_into(tmp_path: Path, integer: str, strict: str = "") -> Connection:
    """A SQLite table ``words (id, q TEXT)`` holding a number and a word, one way into an empty
    ``numbers (id, n <integer>)`` of another file (``strict``: "STRICT" or ""), q into n."""
    words, numbers = sqlite_url(tmp_path / "words.db"), sqlite_url(tmp_path / "numbers.db")
    with sa.create_engine(words).begin() as c:
        c.exec_driver_sql("CREATE TABLE words (id TEXT PRIMARY KEY, q TEXT)")
        c.exec_driver_sql("INSERT INTO words VALUES ('a', '12'), ('b', 'many')")
    with sa.create_engine(numbers).begin() as c:
        c.exec_driver_sql(f"CREATE TABLE numbers (id TEXT PRIMARY KEY, n {integer}) {strict}")
    return Connection(title="Words to numbers", direction=Direction.LEFT_TO_RIGHT,
                      entity1=_sql_entity(words, "words", "id"),
                      entity2=_sql_entity(numbers, "numbers", "id"),
                      mapping=Mapping(auto=False, columns=[ColumnPair("id", "id"),
                                                           ColumnPair("q", "n")]))


def _warnings(events: list[Any]) -> list[str]:
    return [e.message for e in events if isinstance(e, LogLine) and e.level == "warning"]


def test_text_mapped_into_a_strict_sqlite_tables_integer_column_is_warned_of_as_an_integer(
        tmp_path: Path) -> None:
    """(This test asserted the warning for a plain SQLite BIGINT column, which keeps any text.)"""
    events: list[Any] = []
    report = Runner(resolve_paths()).run(_texts_into(tmp_path, "INTEGER", "STRICT"),
                                         sink=events.append)
    assert "'q' (text) goes into 'n' (integer): a value that is not an integer fails its row" \
        in _warnings(events)
    assert (report.created_right, report.errors_right) == (1, 1)


@pytest.mark.parametrize("integer", ["INTEGER", "BIGINT"])
def test_text_mapped_into_a_plain_sqlite_integer_column_is_not_said_to_fail_its_row(
        tmp_path: Path, integer: str) -> None:
    """SQLite keeps a text that is no number in a plain INTEGER column (type affinity): the
    warning that such a text fails its row was untrue, and the row is written."""
    events: list[Any] = []
    conn = _texts_into(tmp_path, integer)
    report = Runner(resolve_paths()).run(conn, sink=events.append)
    assert not [w for w in _warnings(events) if "fails its row" in w]
    assert (report.outcome, report.created_right) == ("success", 2)
    engine = sa.create_engine(sqlite_url(tmp_path / "numbers.db"))
    assert _rows(engine, "numbers") == [("a", 12), ("b", "many")]


def test_a_mapping_warning_is_a_warning_once_then_a_line_of_the_log(
        emu: Any, tmp_path: Path) -> None:
    """cron mails what reaches stderr: a mapping warned of is not mailed again every run."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts")
    manual_mapping(pair, [("accountid", "accountid"), ("name", "revenue")])
    pair.run()
    pair.events.clear()
    pair.run()
    said = [(e.level, e.message) for e in pair.events if isinstance(e, LogLine)
            and "goes into 'revenue'" in e.message]
    assert [level for level, _ in said] == ["info"]


def _sql_pair(left_url: str, left_table: str, right_url: str, right_table: str,
              direction: Direction = Direction.BIDIRECTIONAL) -> Connection:
    """Two SQL tables keyed by ``id``, their columns mapped by name."""
    return Connection(title="SQL to SQL", direction=direction,
                      entity1=_sql_entity(left_url, left_table, "id"),
                      entity2=_sql_entity(right_url, right_table, "id"),
                      mapping=Mapping(auto=True, columns=[]))


def _rows(engine: sa.Engine, table: str) -> list[tuple[Any, ...]]:
    with engine.connect() as c:
        return [tuple(r) for r in c.exec_driver_sql(f"SELECT * FROM {table} ORDER BY id")]


def _drop(engine: sa.Engine, table: str) -> None:
    with engine.begin() as c:
        c.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def _texts_and_numbers(db_url: str, tmp_path: Path, table: str, texts: str,
                       number: str) -> Connection:
    """A table ``table (id, q TEXT)`` on ``db_url`` holding the rows ``texts`` (SQL values)
    and an empty SQLite table ``t_num (id, q <number>)``, bidirectional."""
    with sa.create_engine(db_url).begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, q TEXT)")
        c.exec_driver_sql(f"INSERT INTO {table} VALUES {texts}")
    numbers_url = sqlite_url(tmp_path / "numbers.db")
    with sa.create_engine(numbers_url).begin() as c:
        c.exec_driver_sql(f"CREATE TABLE t_num (id INTEGER PRIMARY KEY, q {number})")
    return _sql_pair(db_url, table, numbers_url, "t_num")


def test_numbers_in_a_text_column_paired_with_a_number_column_are_not_rewritten_by_a_second_run(
        db_url: str, tmp_path: Path) -> None:
    texts, table = sa.create_engine(db_url), f"t_txt_{uuid.uuid4().hex[:8]}"
    conn = _texts_and_numbers(db_url, tmp_path, table, "(1, '1.000'), (2, '2.50'), (3, '7')",
                              "NUMERIC")
    runner = Runner(resolve_paths())
    try:
        assert runner.run(conn).created_right == 3
        second = runner.run(conn)
        held = _rows(texts, table)
    finally:
        _drop(texts, table)
    assert second.plan is not None and second.plan.writes == 0
    assert held == [(1, "1.000"), (2, "2.50"), (3, "7")]



def test_booleans_in_a_text_column_paired_with_a_boolean_column_are_not_rewritten_by_a_second_run(
        db_url: str, tmp_path: Path) -> None:
    """(compared as text, 'yes' was no true: the second run wrote 'true' over it, and a full run
    of a one-way connection wrote every such value again)"""
    texts, table = sa.create_engine(db_url), f"t_txt_{uuid.uuid4().hex[:8]}"
    conn = _texts_and_numbers(db_url, tmp_path, table, "(1, 'yes'), (2, '0'), (3, 'T')",
                              "BOOLEAN")
    runner = Runner(resolve_paths())
    try:
        assert runner.run(conn).created_right == 3
        second = runner.run(conn)
        full = runner.run(conn, full=True)
        held = _rows(texts, table)
    finally:
        _drop(texts, table)
    assert second.plan is not None and second.plan.writes == 0
    assert full.plan is not None and full.plan.writes == 0
    assert held == [(1, "yes"), (2, "0"), (3, "T")]
    assert _rows(sa.create_engine(sqlite_url(tmp_path / "numbers.db")), "t_num") == \
        [(1, 1), (2, 0), (3, 1)]

def test_a_text_with_a_fraction_is_not_cut_to_a_whole_number_in_an_integer_column(
        db_url: str, tmp_path: Path) -> None:
    texts, table = sa.create_engine(db_url), f"t_txt_{uuid.uuid4().hex[:8]}"
    conn = _texts_and_numbers(db_url, tmp_path, table, "(1, '1.5')", "INTEGER")
    runner = Runner(resolve_paths())
    try:
        runner.run(conn)
        runner.run(conn)  # (bidirectional: a 1 written would come back over the text)
        held = _rows(texts, table)
    finally:
        _drop(texts, table)
    assert held == [(1, "1.5")]
    assert _rows(sa.create_engine(sqlite_url(tmp_path / "numbers.db")), "t_num") == [(1, 1.5)]


def test_a_synced_number_column_altered_to_text_is_no_change(pg_url: str, tmp_path: Path) -> None:
    pg, table = sa.create_engine(pg_url), f"t_alt_{uuid.uuid4().hex[:8]}"
    numbers_url = sqlite_url(tmp_path / "numbers.db")
    with pg.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, q NUMERIC(10, 3))")
        c.exec_driver_sql(f"INSERT INTO {table} VALUES (1, 1), (2, 2.5)")
    with sa.create_engine(numbers_url).begin() as c:
        c.exec_driver_sql("CREATE TABLE t_num (id INTEGER PRIMARY KEY, q NUMERIC)")
    conn = _sql_pair(pg_url, table, numbers_url, "t_num")
    runner = Runner(resolve_paths())
    try:
        assert runner.run(conn).created_right == 2
        with pg.begin() as c:
            c.exec_driver_sql(f"ALTER TABLE {table} ALTER COLUMN q TYPE TEXT")
        second = runner.run(conn)
        held = _rows(pg, table)
    finally:
        _drop(pg, table)
    assert second.plan is not None and second.plan.writes == 0
    assert held == [(1, "1.000"), (2, "2.500")]


def test_fractions_of_a_second_are_carried_between_sql_columns_that_hold_them(
        db_url: str, tmp_path: Path) -> None:
    left_url = sqlite_url(tmp_path / "left.db")
    left, right, table = sa.create_engine(left_url), sa.create_engine(db_url), \
        f"t_ts_{uuid.uuid4().hex[:8]}"
    with left.begin() as c:
        c.exec_driver_sql("CREATE TABLE moments (id INTEGER PRIMARY KEY, at DATETIME)")
        c.exec_driver_sql("INSERT INTO moments VALUES (1, '2038-01-19 03:14:08.123456'), "
                          "(2, '2038-01-19 03:14:08')")
    with right.begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, at TIMESTAMP)")
    conn = _sql_pair(left_url, "moments", db_url, table)
    runner = Runner(resolve_paths())
    try:
        assert runner.run(conn).created_right == 2
        second = runner.run(conn, full=True)
        moments = sa.Table(table, sa.MetaData(), autoload_with=right)
        with right.connect() as c:
            held = c.execute(sa.select(moments.c.at).order_by(moments.c.id)).scalars().all()
    finally:
        _drop(right, table)
    assert held == [datetime(2038, 1, 19, 3, 14, 8, 123456), datetime(2038, 1, 19, 3, 14, 8)]
    assert second.plan is not None and second.plan.writes == 0


def _not_null_texts(db_url: str, tmp_path: Path, table: str) -> Connection:
    """A SQLite table of a NOT NULL text holding '' and 'x', and an empty table ``table`` alike
    on ``db_url``, bidirectional."""
    left_url = sqlite_url(tmp_path / "left.db")
    with sa.create_engine(left_url).begin() as c:
        c.exec_driver_sql("CREATE TABLE texts (id INTEGER PRIMARY KEY, s TEXT NOT NULL)")
        c.exec_driver_sql("INSERT INTO texts VALUES (1, ''), (2, 'x')")
    with sa.create_engine(db_url).begin() as c:
        c.exec_driver_sql(f"CREATE TABLE {table} (id INTEGER PRIMARY KEY, s VARCHAR(10) NOT NULL)")
    return _sql_pair(left_url, "texts", db_url, table)


def test_an_empty_text_is_created_in_a_not_null_text_column_as_empty_text(
        db_url: str, tmp_path: Path) -> None:
    right, table = sa.create_engine(db_url), f"t_empty_{uuid.uuid4().hex[:8]}"
    conn = _not_null_texts(db_url, tmp_path, table)
    runner = Runner(resolve_paths())
    try:
        first = runner.run(conn)
        second = runner.run(conn)
        held = _rows(right, table)
    finally:
        _drop(right, table)
    assert (first.created_right, first.errors_right) == (2, 0)
    assert held == [(1, ""), (2, "x")]
    assert second.plan is not None and second.plan.writes == 0


def test_a_text_emptied_is_written_into_a_not_null_text_column_as_empty_text(
        db_url: str, tmp_path: Path) -> None:
    right, table = sa.create_engine(db_url), f"t_empty_{uuid.uuid4().hex[:8]}"
    conn = _not_null_texts(db_url, tmp_path, table)
    runner = Runner(resolve_paths())
    try:
        with right.begin() as c:
            c.exec_driver_sql(f"INSERT INTO {table} VALUES (1, ''), (2, 'x')")
        runner.run(conn)
        with sa.create_engine(sqlite_url(tmp_path / "left.db")).begin() as c:
            c.exec_driver_sql("UPDATE texts SET s = '' WHERE id = 2")
        emptied = runner.run(conn)
        held = _rows(right, table)
    finally:
        _drop(right, table)
    assert (emptied.updated_right, emptied.errors_right) == (1, 0)
    assert held == [(1, ""), (2, "")]
