"""PostgreSQL json, jsonb, arrays and intervals copied by a run, to PostgreSQL columns of either
kind."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterator

import pytest
import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Connection, Direction, Entity, Mapping
from l2tui.errors import ConfigError
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from l2tui.sync.events import Event, ItemError, RunReport

Copy = Callable[..., RunReport]


@pytest.fixture
def pg(pg_url: str) -> Iterator[sa.Engine]:
    """The test PostgreSQL (skipped without one)."""
    engine = sa.create_engine(pg_url)
    yield engine
    engine.dispose()


@pytest.fixture
def copy(pg: sa.Engine) -> Iterator[Callable[[str, str, list[str]], tuple[Copy, str]]]:
    """Make a source table ``src (id int, v <source type>)`` with rows ``(i, value)`` and a target
    ``dst (id int, v <target type>)``; returns a run of the connection between them (left to
    right) and the target's name."""
    made: list[str] = []

    def make(source: str, target: str, values: list[str], url: str | None = None,
             mapped: bool = False) -> tuple[Copy, str]:
        src, dst = (f"{side}_{uuid.uuid4().hex[:8]}" for side in ("src", "dst"))
        made.extend((src, dst))
        with pg.begin() as c:
            c.exec_driver_sql(f"CREATE TABLE {src} (id int PRIMARY KEY, v {source})")
            c.exec_driver_sql(f"CREATE TABLE {dst} (id int PRIMARY KEY, v {target})")
            for i, value in enumerate(values):
                c.exec_driver_sql(f"INSERT INTO {src} VALUES ({i}, {value})")
        url = url or pg.url.render_as_string(hide_password=False)
        conn = Connection(
            title=f"Copy {src}", direction=Direction.LEFT_TO_RIGHT,
            entity1=Entity(provider="postgresql", connection_string=url, select=src,
                           primary_key=["id"]),
            entity2=Entity(provider="postgresql", connection_string=url, select=dst,
                           primary_key=["id"]))
        if mapped:  # the pair v → v named in the connection, not found by auto mapping
            conn.mapping = Mapping(auto=False, columns=[ColumnPair("id", "id"),
                                                        ColumnPair("v", "v")])
        return (lambda **kwargs: Runner(resolve_paths()).run(conn, **kwargs)), dst

    yield make
    with pg.begin() as c:
        for table in made:
            c.exec_driver_sql(f"DROP TABLE IF EXISTS {table}")


def _column(pg: sa.Engine, sql: str) -> list[object]:
    with pg.connect() as c:
        return [r[0] for r in c.exec_driver_sql(sql)]


def test_a_jsonb_document_copied_into_jsonb_stays_a_document(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    run, dst = copy("jsonb", "jsonb", ["'{\"b\": [1, \"x\"], \"a\": {\"k\": null}}'", "'[1, 2]'"])
    assert run().created_right == 2
    assert _column(pg, f"SELECT v::text FROM {dst} ORDER BY id") == [
        '{"a": {"k": null}, "b": [1, "x"]}', "[1, 2]"]


@pytest.mark.parametrize("target", ["jsonb", "json"])
def test_a_null_copied_into_a_json_column_is_sql_null_not_the_json_null(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]], target: str) -> None:
    run, dst = copy("text", target, ["NULL", "'{\"a\": 1}'"])
    assert run().created_right == 2
    assert _column(pg, f"SELECT v IS NULL FROM {dst} ORDER BY id") == [True, False]


def test_jsonb_numbers_and_booleans_copied_into_jsonb_keep_their_json_type(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    run, dst = copy("jsonb", "jsonb", ["'5'", "'1.5'", "'true'", "'\"5\"'"])
    assert run().created_right == 4
    assert _column(pg, f"SELECT jsonb_typeof(v) FROM {dst} ORDER BY id") == [
        "number", "number", "boolean", "string"]


def test_a_full_run_after_copying_jsonb_writes_nothing(
        copy: Callable[..., tuple[Copy, str]]) -> None:
    run, _ = copy("jsonb", "jsonb", ["'5'", "'1.5'", "'true'", "'\"x\"'", "'{\"a\": 1}'"])
    run()
    again = run(full=True)
    assert (again.created_right, again.updated_right, again.errors_right) == (0, 0, 0)


def test_a_full_run_after_copying_compact_json_text_into_jsonb_writes_nothing(
        copy: Callable[..., tuple[Copy, str]]) -> None:
    run, _ = copy("text", "jsonb", ["'{\"c\":2}'", "'[1,2]'", "'{\"b\": 1, \"a\": 2}'"])
    assert run().created_right == 3
    again = run(full=True)
    assert (again.updated_right, again.errors_right, again.unchanged) == (0, 0, 3)


def test_a_json_document_copied_into_text_is_its_json_text(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    run, dst = copy("json", "text", ["'{\"a\": 1, \"b\": [true, null]}'"])
    run()
    assert _column(pg, f"SELECT v FROM {dst}") == ['{"a": 1, "b": [true, null]}']


def test_an_array_copied_into_an_array_column_keeps_its_elements(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    run, dst = copy("text[]", "text[]", ["ARRAY['a b', 'c''s', '']", "ARRAY[]::text[]"])
    assert run().created_right == 2
    assert _column(pg, f"SELECT v FROM {dst} ORDER BY id") == [["a b", "c's", ""], []]


def test_an_array_copied_into_text_is_a_json_array(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    run, dst = copy("text[]", "text", ["ARRAY['a', 'b''s']"])
    run()
    assert _column(pg, f"SELECT v FROM {dst}") == ['["a", "b\'s"]']


def test_a_value_too_long_for_its_column_is_an_error_naming_the_column_type_and_its_length(
        copy: Callable[..., tuple[Copy, str]]) -> None:
    run, _ = copy("text", "varchar(5)", ["'longer than five'"])
    events: list[Event] = []
    report = run(sink=events.append)
    assert report.errors_right == 1
    errors = [e.message for e in events if isinstance(e, ItemError)]
    assert any("value too long for type character varying(5)" in m for m in errors), errors


@pytest.mark.parametrize("kind", ["timestamptz", "timestamp", "date"])
def test_an_infinite_date_or_timestamp_is_copied_as_it_is_and_a_full_run_writes_nothing(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]], kind: str) -> None:
    run, dst = copy(kind, kind, ["'infinity'", "'-infinity'", "'2024-01-02'"])
    first = run()
    assert (first.created_right, first.errors_right) == (3, 0)
    assert _column(pg, f"SELECT v::text FROM {dst} ORDER BY id")[:2] == ["infinity", "-infinity"]
    again = run(full=True)
    assert (again.updated_right, again.errors_right, again.unchanged) == (0, 0, 3)



@pytest.mark.parametrize(("kind", "midnight"), [("time", "24:00:00"), ("timetz", "24:00:00+02")])
def test_a_time_of_24_00_is_copied_as_it_is_and_a_full_run_writes_nothing(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]], kind: str, midnight: str) -> None:
    """(a time no Python time holds: the driver failed the whole read, and every run with it)"""
    run, dst = copy(kind, kind, [f"'{midnight}'", "'12:30:00'"])
    first = run()
    assert (first.outcome, first.created_right, first.errors_right) == ("success", 2, 0)
    assert _column(pg, f"SELECT v::text FROM {dst} ORDER BY id")[0] == midnight
    again = run(full=True)
    assert (again.updated_right, again.errors_right, again.unchanged) == (0, 0, 2)

INTERVALS = ["'1 mon 2 days'", "'-3 hours'", "'1 year 2 mons -3 days 04:05:06.5'", "'00:00:00'",
             "NULL"]


def test_an_interval_copied_into_an_interval_keeps_its_months_days_and_time(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    """A month is no number of days (psycopg's timedelta took '1 mon' as 30 days)."""
    run, dst = copy("interval", "interval", INTERVALS)
    assert (run().created_right, run(full=True).updated_right) == (5, 0)
    assert _column(pg, f"SELECT v::text FROM {dst} ORDER BY id") == [
        "1 mon 2 days", "-03:00:00", "1 year 2 mons -3 days +04:05:06.5", "00:00:00", None]


def test_an_interval_copied_into_text_is_postgresql_s_own_text(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    run, dst = copy("interval", "text", ["'1 day 02:03:04.5'", "'1 mon'"])
    run()
    assert _column(pg, f"SELECT v FROM {dst} ORDER BY id") == ["1 day 02:03:04.5", "1 mon"]


def test_intervals_are_read_whatever_interval_style_the_server_gives_the_session(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    """(psycopg reads only the 'postgres' style: an ISO 8601 server failed the whole read)"""
    url = pg.url.update_query_dict({"options": "-c intervalstyle=iso_8601"})
    run, dst = copy("interval", "interval", INTERVALS,
                    url=url.render_as_string(hide_password=False))
    report = run()
    assert (report.outcome, report.created_right) == ("success", 5)
    assert _column(pg, f"SELECT v::text FROM {dst} ORDER BY id")[:2] == ["1 mon 2 days",
                                                                          "-03:00:00"]


@pytest.mark.parametrize("source", ["integer", "numeric", "boolean", "date", "timestamptz"])
def test_a_number_or_a_moment_mapped_onto_an_interval_is_a_config_error_naming_both(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]], source: str) -> None:
    """(an integer was written as that many seconds: a Dynamics duration is minutes)"""
    run, dst = copy(source, "interval", [], mapped=True)
    with pytest.raises(ConfigError, match=r"'v' \(.+\) and 'v' \(interval\) cannot be "
                       r"converted into each other: an interval takes an interval or text"):
        run()


def test_an_interval_mapped_onto_a_number_is_a_config_error(
        copy: Callable[..., tuple[Copy, str]]) -> None:
    run, _ = copy("interval", "bigint", [], mapped=True)
    with pytest.raises(ConfigError, match=r"'v' \(interval\) and 'v' \(integer\) cannot"):
        run()


def test_text_copied_into_an_interval_is_read_by_postgresql(
        pg: sa.Engine, copy: Callable[..., tuple[Copy, str]]) -> None:
    run, dst = copy("text", "interval", ["'P1DT2H'", "'90 minutes'"], mapped=True)
    assert run().created_right == 2
    assert _column(pg, f"SELECT v::text FROM {dst} ORDER BY id") == ["1 day 02:00:00",
                                                                     "01:30:00"]
