"""A SQL table's own key mapped as a value: two tables keyed by ``id``, matched by ``email``, their
ids mapped by name (auto mapping). A row whose id is edited on one side is written to the row of
its new id on the other, and the row it left there is not left behind as a second row of its
match key."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Connection, Deletions, Direction, Entity, Mapping
from l2tui.errors import GuardRefused
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from l2tui.sync.events import Event, ItemError, RunReport
from tests.sync.support import make_into_dataverse, sqlite_url

ROWS = [(1, "a@x", "A"), (2, "b@x", "B"), (3, "c@x", "C")]


def _writes(report: RunReport) -> tuple[int, ...]:
    return (report.created_left, report.updated_left, report.deleted_left,
            report.created_right, report.updated_right, report.deleted_right)


class People:
    """``people (id, email, name)`` in two SQLite files, synced once by email."""

    def __init__(self, tmp_path: Path, direction: Direction,
                 deletions: Deletions = Deletions.PROPAGATE, max_delete_ratio: float = 1.0) -> None:
        self.engines = {side: sa.create_engine(sqlite_url(tmp_path / f"{side}.db"))
                        for side in ("left", "right")}
        for engine in self.engines.values():
            with engine.begin() as c:
                c.exec_driver_sql("CREATE TABLE people (id INTEGER PRIMARY KEY, "
                                  "email VARCHAR(50) NOT NULL, name TEXT)")
        with self.engines["left"].begin() as c:
            c.exec_driver_sql("INSERT INTO people VALUES (?, ?, ?)", ROWS)

        def entity(side: str) -> Entity:
            return Entity(provider="sqlite", select="people", primary_key=["id"],
                          connection_string=f"Data Source={tmp_path / f'{side}.db'};")

        self.conn = Connection(title="People", direction=direction, deletions=deletions,
                               max_delete_ratio=max_delete_ratio,
                               entity1=entity("left"), entity2=entity("right"),
                               mapping=Mapping(auto=True, columns=[],
                                               match_key=ColumnPair("email", "email")))
        assert self.run().created_right == 3

    def run(self, **kwargs: object) -> RunReport:
        """One run through the real runner and providers."""
        return Runner(resolve_paths()).run(self.conn, **kwargs)

    def sql(self, side: str, *statements: str) -> None:
        """Edit one side's table."""
        with self.engines[side].begin() as c:
            for statement in statements:
                c.exec_driver_sql(statement)

    def rows(self, side: str) -> list[tuple[object, ...]]:
        """A side's rows by id."""
        with self.engines[side].connect() as c:
            return [tuple(r) for r in c.exec_driver_sql("SELECT * FROM people ORDER BY id")]


def _settled(people: People, expected: list[tuple[object, ...]]) -> None:
    """Both sides hold ``expected``, and the runs after write nothing."""
    assert people.rows("left") == people.rows("right") == expected
    for again in (people.run(), people.run(full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message
    assert people.rows("left") == people.rows("right") == expected


@pytest.mark.parametrize("direction", [Direction.BIDIRECTIONAL, Direction.LEFT_TO_RIGHT])
def test_an_id_edited_on_one_side_moves_its_row_on_the_other_and_leaves_no_second_row(
        tmp_path: Path, direction: Direction) -> None:
    """(the row of the old id was left on the other side, holding the email too: a second row of
    the item, which every run after failed as a match key that appears 2 times)"""
    people = People(tmp_path, direction)
    people.sql("left", "UPDATE people SET id = 20, name = 'B moved' WHERE id = 2")
    report = people.run()
    assert report.outcome == "success", report.message
    assert (report.created_right, report.deleted_right, report.errors_right) == (1, 1, 0)
    _settled(people, [(1, "a@x", "A"), (3, "c@x", "C"), (20, "b@x", "B moved")])


def test_the_row_an_edited_id_leaves_counts_for_the_deletion_guard(tmp_path: Path) -> None:
    people = People(tmp_path, Direction.BIDIRECTIONAL, max_delete_ratio=0.2)
    people.sql("left", "UPDATE people SET id = 20 WHERE id = 2")
    with pytest.raises(GuardRefused, match="refusing to delete 1 of the 3 synced items on the right"):
        people.run()
    assert people.rows("right") == ROWS
    assert people.run(force=True).deleted_right == 1
    assert people.rows("right") == [(1, "a@x", "A"), (3, "c@x", "C"), (20, "b@x", "B")]


def test_ids_swapped_on_one_side_are_swapped_on_the_other_and_no_row_is_deleted(
        tmp_path: Path) -> None:
    people = People(tmp_path, Direction.BIDIRECTIONAL)
    people.sql("left", "UPDATE people SET id = -1 WHERE id = 1",
               "UPDATE people SET id = 1 WHERE id = 2", "UPDATE people SET id = 2 WHERE id = -1")
    report = people.run()
    assert report.outcome == "success", report.message
    assert (report.deleted_left, report.deleted_right, report.created_right) == (0, 0, 0)
    _settled(people, [(1, "b@x", "B"), (2, "a@x", "A"), (3, "c@x", "C")])



def test_a_dataverse_value_written_into_a_sql_key_and_edited_there_is_not_undone(
        emu: Any, tmp_path: Path) -> None:
    """numberofemployees is written into the SQL table's own key (id): edited in Dataverse, the
    account's row there becomes the row of its new id (the update left id as it was, and the
    next run wrote the old id back over the Dynamics user's edit)."""
    accounts = make_into_dataverse(emu, tmp_path / "r.db", 3)
    accounts.conn.entity1.select += ",numberofemployees"
    accounts.conn.mapping.columns.append(ColumnPair("numberofemployees", "id"))
    accounts.conn.direction = Direction.BIDIRECTIONAL
    runner = Runner(accounts.paths)
    assert runner.run(accounts.conn).outcome == "success"
    record = next(r for r in emu.store.rows("accounts") if r["accountnumber"] == "AC-000001")
    emu.store.update("accounts", record["accountid"], {"numberofemployees": 77})
    report = runner.run(accounts.conn)
    assert (report.outcome, report.created_right, report.deleted_right) == ("success", 1, 1)
    for again in (runner.run(accounts.conn), runner.run(accounts.conn, full=True)):
        assert (again.outcome, _writes(again)) == ("success", (0,) * 6), again.message
    assert emu.store.get("accounts", record["accountid"])["numberofemployees"] == 77
    with accounts.engine.connect() as c:
        assert c.exec_driver_sql("SELECT id, acctno FROM accts WHERE acctno LIKE 'AC-%' "
                                "ORDER BY id").all() == \
            [(1, "AC-000000"), (3, "AC-000002"), (77, "AC-000001")]


def test_an_id_edited_where_the_other_side_keeps_its_match_key_unique_fails_naming_the_row_left(
        tmp_path: Path) -> None:
    """(its error said 'values swapped between rows are written only where the column allows
    NULL', though nothing was swapped: the row the item left holds its email)"""
    people = People(tmp_path, Direction.LEFT_TO_RIGHT)
    people.sql("right", "CREATE UNIQUE INDEX people_email ON people (email)")
    people.sql("left", "UPDATE people SET id = 20 WHERE id = 2")
    events: list[Event] = []
    for _ in range(2):
        events.clear()
        report = people.run(sink=events.append)
        assert (report.outcome, report.errors_right, _writes(report)) == \
            ("errors", 1, (0,) * 6), report.message
    assert [e.message for e in events if isinstance(e, ItemError)] == [
        "email: the row id = 2 holds this value (a unique index)"]
    assert people.rows("right") == ROWS
