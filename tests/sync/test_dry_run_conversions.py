"""A dry run converts each value it would write as the real write converts it: the values its
target would refuse are the dry run's item errors, as they are the real run's."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Direction, Mapping
from l2tui.sync.events import ItemError, RunReport
from tests.conftest import postgresql_url
from tests.sync.support import Pair, make_into_dataverse, make_pair, manual_mapping, sqlite_url


def errors_of(run: Any, events: list[Any]) -> tuple[RunReport, list[tuple[str, str, str]]]:
    """A run's report and its item errors (side, item, message), in the order met."""
    events.clear()
    report = run()
    return report, [(e.side, e.key, e.message) for e in events if isinstance(e, ItemError)]


def assert_dry_run_fails_as_the_real_run(pair: Pair) -> list[tuple[str, str, str]]:
    """The dry run's errors, counts and outcome are the real run's that follows it."""
    dry, dry_errors = errors_of(lambda: pair.run(dry_run=True), pair.events)
    real, real_errors = errors_of(pair.run, pair.events)
    assert real_errors and sorted(dry_errors) == sorted(real_errors)
    assert (dry.errors_left, dry.errors_right) == (real.errors_left, real.errors_right)
    assert (dry.created_right, dry.updated_right) == (real.created_right, real.updated_right)
    assert not dry.ok and not real.ok
    return real_errors


def test_a_dry_run_into_sqlite_fails_the_texts_a_decimal_column_refuses(
        emu: Any, tmp_path: Path) -> None:
    """Account numbers ('ACC-…') mapped onto a NUMERIC column: no row converts, dry or real."""
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    manual_mapping(pair, [("accountid", "accountid"), ("name", "name"),
                          ("accountnumber", "revenue")])
    errors = assert_dry_run_fails_as_the_real_run(pair)
    assert len(errors) == 20
    assert all("cannot be stored as NUMERIC" in message for _, _, message in errors)


def test_a_dry_run_into_postgresql_fails_the_texts_an_array_column_refuses(emu: Any) -> None:
    """Account numbers mapped onto an integer[] column: no text is a JSON array, dry or real."""
    pair = make_pair(emu, postgresql_url(), "dry_conversions")
    with pair.engine.begin() as c:
        c.execute(sa.text("ALTER TABLE dry_conversions ADD COLUMN codes integer[]"))
    manual_mapping(pair, [("accountid", "accountid"), ("name", "name"),
                          ("accountnumber", "codes")])
    errors = assert_dry_run_fails_as_the_real_run(pair)
    assert len(errors) == 20
    assert all("cannot be stored as INTEGER[]" in message for _, _, message in errors)


def test_a_dry_run_into_dataverse_fails_the_texts_a_guid_column_refuses(
        emu: Any, tmp_path: Path) -> None:
    """SQL texts mapped onto Dataverse's accountid: each that is no GUID is refused before it is
    sent, by the dry run as by the real run; the one that is a GUID is created by both."""
    into = make_into_dataverse(emu, tmp_path / "accts.db", 3)
    with into.engine.begin() as c:
        c.execute(sa.text("UPDATE accts SET acctno = '0b7c2d2e-3f1a-4d6e-9a51-2c3b4d5e6f70' "
                          "WHERE id = 1"))
    into.conn.mapping = Mapping(auto=False, columns=[ColumnPair("name", "name"),
                                                     ColumnPair("accountid", "acctno")],
                                match_key=ColumnPair("accountnumber", "name"))
    into.conn.direction = Direction.RIGHT_TO_LEFT
    pair = Pair(emu, into.engine, sa.Table("accts", sa.MetaData()), into.conn, into.paths)
    errors = assert_dry_run_fails_as_the_real_run(pair)
    assert len(errors) == 2
    assert all("cannot be written as a GUID" in message for _, _, message in errors)


def test_a_dry_run_into_sqlite_fails_an_update_whose_text_a_decimal_column_refuses(
        emu: Any, tmp_path: Path) -> None:
    """Account numbers that are numbers are synced into a NUMERIC column; one edited into text
    fails its update, in the dry run as in the real run."""
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    manual_mapping(pair, [("accountid", "accountid"), ("name", "name"),
                          ("accountnumber", "revenue")])
    keys = list(pair.left())
    for number, key in enumerate(keys):
        pair.left_update(key, {"accountnumber": str(number)})
    assert pair.run().ok
    pair.left_update(keys[0], {"accountnumber": "ACC-1"})
    pair.left_update(keys[1], {"accountnumber": "700"})
    errors = assert_dry_run_fails_as_the_real_run(pair)
    assert errors == [("right", f'["{keys[0]}"]', "revenue: 'ACC-1' cannot be stored as "
                      "NUMERIC(38, 10)")]
