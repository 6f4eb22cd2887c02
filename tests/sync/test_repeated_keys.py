"""Runs from a SQL table without a primary key whose key value more than one row holds: those rows
are not synced (an item error a key, every run), their partner is left as it is, the others sync."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import Connection, Direction, Entity, Mapping
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from l2tui.sync.events import Event, ItemError, LogLine, RunReport
from tests.sync.conftest import database_url
from tests.sync.support import make_into_dataverse, sqlite_url

REPEATED = "appears 2 times: primary_key must be unique; add a unique index"
ROWS = [(1, "a"), (2, "b"), (2, "b-dup"), (None, "n"), (3, "c")]


class Table:
    """A table (id, name) in a database; ``keyed``: id is its primary key; ``id_type``: the type
    of id; ``collation``: a SQLite collation the table's own connections define, as another
    program's would (l2tui's do not)."""

    def __init__(self, url: str, keyed: bool, rows: list[tuple[Any, str]],
                 id_type: str = "INTEGER", collation: str = "") -> None:
        self.url = url
        self.engine = sa.create_engine(url)
        if collation:
            sa.event.listen(self.engine, "connect", lambda dbapi, _: dbapi.create_collation(
                collation, lambda a, b: (a > b) - (a < b)))
        self.name = f"t_{uuid.uuid4().hex[:10]}"
        key = " PRIMARY KEY" if keyed else ""
        with self.engine.begin() as c:
            c.exec_driver_sql(f"CREATE TABLE {self.name} (id {id_type}{key}, name VARCHAR(20))")
        self.insert(*rows)

    def entity(self) -> Entity:
        """This table as a connection's entity, matched by id."""
        if self.engine.dialect.name == "sqlite":
            provider, text = "sqlite", f"Data Source={self.engine.url.database};"
        else:
            provider, text = "postgresql", self.url
        return Entity(provider=provider, connection_string=text, select=self.name,
                      primary_key=["id"])

    def run(self, sql: str, **values: Any) -> None:
        """Run a statement on the table (``{t}``: its name)."""
        with self.engine.begin() as c:
            c.execute(sa.text(sql.format(t=self.name)), values)

    def insert(self, *rows: tuple[Any, str]) -> None:
        """Insert rows (id, name)."""
        for key, name in rows:
            self.run("INSERT INTO {t} VALUES (:id, :name)", id=key, name=name)

    def rows(self) -> list[tuple[Any, str]]:
        """The rows, ordered (a NULL id first)."""
        with self.engine.connect() as c:
            rows = c.exec_driver_sql(f"SELECT id, name FROM {self.name}").all()
        return sorted(((k, n) for k, n in rows), key=lambda r: (r[0] is not None, r[0] or 0, r[1]))

    def drop(self) -> None:
        """Drop the table."""
        with self.engine.begin() as c:
            c.exec_driver_sql(f"DROP TABLE {self.name}")
        self.engine.dispose()


class Sync:
    """A connection between two tables, and the item errors of its last run."""

    def __init__(self, left: Table, right: Table, direction: Direction) -> None:
        self.left, self.right = left, right
        self.conn = Connection(title=f"Repeats {uuid.uuid4().hex[:6]}", direction=direction,
                               max_delete_ratio=1.0, entity1=left.entity(),
                               entity2=right.entity(), mapping=Mapping(auto=True, columns=[]))
        self.events: list[Event] = []

    def run(self, **kwargs: Any) -> RunReport:
        """One run through the real runner and providers."""
        self.events.clear()
        return Runner(resolve_paths()).run(self.conn, sink=self.events.append, **kwargs)

    def errors(self) -> list[tuple[str, str, str]]:
        """The last run's item errors: (side, key, message)."""
        return [(e.side, e.key, e.message) for e in self.events if isinstance(e, ItemError)]


@pytest.fixture
def tables() -> Iterator[list[Table]]:
    """The tables a test makes, dropped after it."""
    made: list[Table] = []
    yield made
    for table in made:
        table.drop()


def _table(tables: list[Table], url: str, keyed: bool, rows: list[tuple[Any, str]],
           **options: str) -> Table:
    table = Table(url, keyed, rows, **options)
    tables.append(table)
    return table


@pytest.mark.parametrize("kind", ["sqlite", "postgresql"])
@pytest.mark.parametrize("direction", [Direction.LEFT_TO_RIGHT, Direction.RIGHT_TO_LEFT])
def test_a_one_way_run_fails_a_source_key_two_rows_hold_and_syncs_the_others_every_run(
        tmp_path: Path, tables: list[Table], kind: str, direction: Direction) -> None:
    source = _table(tables, database_url(kind, tmp_path), False, ROWS)
    target = _table(tables, sqlite_url(tmp_path / "target.db"), True, [])
    forward = direction == Direction.LEFT_TO_RIGHT
    sync = Sync(*((source, target) if forward else (target, source)), direction)
    side = "left" if forward else "right"

    first = sync.run()

    assert first.outcome == "errors"
    assert (first.created_right if forward else first.created_left) == 2
    assert (first.errors_left if forward else first.errors_right) == 2  # (and the NULL id)
    assert sync.errors() == [(side, '["2"]', REPEATED)]
    assert target.rows() == [(1, "a"), (3, "c")]
    for full in (False, True):
        again = sync.run(full=full)
        assert again.plan.writes == 0, again.message  # type: ignore[union-attr]
        assert sync.errors() == [(side, '["2"]', REPEATED)]
        assert target.rows() == [(1, "a"), (3, "c")]


def test_a_first_one_way_run_leaves_the_targets_row_of_a_repeated_source_key_as_it_is(
        tmp_path: Path, tables: list[Table]) -> None:
    source = _table(tables, sqlite_url(tmp_path / "s.db"), False, ROWS)
    target = _table(tables, sqlite_url(tmp_path / "t.db"), True, [(2, "kept"), (3, "c-old")])
    sync = Sync(source, target, Direction.LEFT_TO_RIGHT)
    report = sync.run()
    assert (report.created_right, report.updated_right, report.deleted_right) == (1, 1, 0)
    assert target.rows() == [(1, "a"), (2, "kept"), (3, "c")]
    assert sync.run(full=True).plan.writes == 0  # type: ignore[union-attr]
    assert target.rows() == [(1, "a"), (2, "kept"), (3, "c")]


def test_a_synced_pair_whose_source_key_comes_to_repeat_is_left_as_it_is_until_it_is_unique(
        tmp_path: Path, tables: list[Table]) -> None:
    source = _table(tables, sqlite_url(tmp_path / "s.db"), False, [(1, "a"), (2, "b")])
    target = _table(tables, sqlite_url(tmp_path / "t.db"), True, [])
    sync = Sync(source, target, Direction.LEFT_TO_RIGHT)
    assert sync.run().outcome == "success"
    source.insert((2, "b-dup"))
    source.run("UPDATE {t} SET name = 'a2' WHERE id = 1")

    for full in (False, True, False):
        report = sync.run(full=full)
        assert sync.errors() == [("left", '["2"]', REPEATED)]
        assert report.deleted_right == 0
        assert target.rows() == [(1, "a2"), (2, "b")]

    source.run("DELETE FROM {t} WHERE name = 'b'")
    report = sync.run()
    assert report.outcome == "success" and report.updated_right == 1
    assert target.rows() == [(1, "a2"), (2, "b-dup")]


@pytest.mark.parametrize("repeats_on", ["left", "right"])
def test_a_bidirectional_run_fails_a_key_two_rows_of_a_side_hold_and_leaves_its_partner_alone(
        tmp_path: Path, tables: list[Table], repeats_on: str) -> None:
    repeats = _table(tables, sqlite_url(tmp_path / "r.db"), False,
                     [(1, "a"), (2, "b"), (2, "b-dup"), (3, "c")])
    other = _table(tables, sqlite_url(tmp_path / "o.db"), True, [(2, "other"), (4, "d")])
    sides = (repeats, other) if repeats_on == "left" else (other, repeats)
    sync = Sync(*sides, Direction.BIDIRECTIONAL)

    for full in (False, False, True):
        report = sync.run(full=full)
        assert report.conflicts == 0 and report.deleted_left == report.deleted_right == 0
        assert sync.errors() == [(repeats_on, '["2"]', REPEATED)]
        assert repeats.rows() == [(1, "a"), (2, "b"), (2, "b-dup"), (3, "c"), (4, "d")]
        assert other.rows() == [(1, "a"), (2, "other"), (3, "c"), (4, "d")]
    assert report.plan.writes == 0  # type: ignore[union-attr]


@pytest.mark.parametrize("repeats_on", ["left", "right"])
def test_a_bidirectional_pair_whose_key_comes_to_repeat_on_a_side_is_neither_written_nor_deleted(
        tmp_path: Path, tables: list[Table], repeats_on: str) -> None:
    repeats = _table(tables, sqlite_url(tmp_path / "r.db"), False, [(1, "a"), (2, "b")])
    other = _table(tables, sqlite_url(tmp_path / "o.db"), True, [])
    sides = (repeats, other) if repeats_on == "left" else (other, repeats)
    sync = Sync(*sides, Direction.BIDIRECTIONAL)
    assert sync.run().outcome == "success"
    repeats.insert((2, "b-dup"))
    other.run("UPDATE {t} SET name = 'b-other' WHERE id = 2")

    report = sync.run()
    assert sync.errors() == [(repeats_on, '["2"]', REPEATED)]
    assert report.plan.writes == 0  # type: ignore[union-attr]
    other.run("DELETE FROM {t} WHERE id = 2")
    report = sync.run()
    assert sync.errors() == [(repeats_on, '["2"]', REPEATED)]
    assert report.plan.writes == 0  # type: ignore[union-attr]
    assert repeats.rows() == [(1, "a"), (2, "b"), (2, "b-dup")]


def test_rows_sharing_a_match_key_that_is_not_their_key_create_no_two_dataverse_accounts(
        emu: Any, tmp_path: Path) -> None:
    into = make_into_dataverse(emu, tmp_path / "r.db", 3)
    with into.engine.begin() as c:
        c.execute(sa.text("INSERT INTO accts (acctno, name, revenue) VALUES ('AC-000001', "
                          "'Another', 7)"))
    events: list[Event] = []
    for _ in range(2):
        events.clear()
        report = Runner(into.paths).run(into.conn, sink=events.append)
        assert [(e.side, e.key, e.message) for e in events if isinstance(e, ItemError)] == [
            ("right", '["AC-000001"]',
             "appears 2 times: the match key (acctno) must be unique; add a unique index")]
    assert report.plan.writes == 0  # type: ignore[union-attr]
    numbers = [r["accountnumber"] for r in emu.store.rows("accounts")]
    assert numbers.count("AC-000001") == 0
    assert numbers.count("AC-000000") == numbers.count("AC-000002") == 1


def test_rows_whose_keys_differ_by_case_under_a_column_that_ignores_it_are_none_synced(
        tmp_path: Path, tables: list[Table]) -> None:
    """A key column that ignores case (SQLite's NOCASE; SQL Server's and MySQL's default
    collations) takes 'abc' and 'ABC' for one value: a write by either key would reach both
    rows, so neither is synced, each an error."""
    source = _table(tables, sqlite_url(tmp_path / "s.db"), False,
                    [("abc", "a"), ("ABC", "b"), ("x", "c")], id_type="VARCHAR(20) COLLATE NOCASE")
    target = _table(tables, sqlite_url(tmp_path / "t.db"), True, [], id_type="VARCHAR(20)")
    sync = Sync(source, target, Direction.LEFT_TO_RIGHT)

    report = sync.run()

    alike = ('appears 2 times (as ["ABC"], ["abc"]: one value to the database): primary_key '
             "must be unique; add a unique index")
    assert report.outcome == "errors"
    assert sync.errors() == [("left", '["ABC"]', alike), ("left", '["abc"]', alike)]
    assert target.rows() == [("x", "c")]


def test_a_source_whose_repeated_keys_cannot_be_looked_for_is_synced_with_a_warning(
        tmp_path: Path, tables: list[Table]) -> None:
    """Its key column's collation was defined by another program (Android's UNICODE): SQLite
    reads its rows but compares none of its values."""
    source = _table(tables, sqlite_url(tmp_path / "s.db"), False, [("a", "a"), ("b", "b")],
                    id_type="VARCHAR(20) COLLATE UNICODE", collation="UNICODE")
    target = _table(tables, sqlite_url(tmp_path / "t.db"), True, [], id_type="VARCHAR(20)")
    sync = Sync(source, target, Direction.LEFT_TO_RIGHT)
    assert sync.run().outcome == "success"
    assert target.rows() == [("a", "a"), ("b", "b")]
    assert [e.message for e in sync.events if isinstance(e, LogLine) and e.level == "warning"] == [
        "could not look for match keys that repeat: entity1.select: the statement failed: no such "
        "collation sequence: UNICODE"]
