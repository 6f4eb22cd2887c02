"""A change of mapping, select or match key: the new match is planned before anything is written,
and refused when it would write over many rows instead of finding the old pairs again; the pairs
synced before are still known, so a side's deletions since the last run are not lost."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import ColumnPair, Connection, Direction, Entity, Mapping
from l2tui.errors import RunError
from l2tui.providers.base import Column, ColumnType
from l2tui.runner import Runner
from l2tui.sync.events import ItemError, LogLine
from l2tui.sync.mapping import MappingPlan, build_mapping, changes, compared
from l2tui.sync.summaries import record_text
from tests.sync.support import LEFT_SELECT, Pair, make_pair, manual_mapping, sqlite_url


@pytest.fixture
def synced(emu: Any, tmp_path: Path) -> Pair:
    """A bidirectional pair (deletion guard at 20 %) that has run once: 20 pairs."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, max_delete_ratio=0.2)
    assert pair.run().created_right == 20
    return pair


def test_a_match_key_that_finds_no_old_pair_is_refused_and_writes_nothing(synced: Pair) -> None:
    left, right = synced.left(), synced.right()
    synced.conn.mapping.match_key = ColumnPair("accountnumber", "name")
    with pytest.raises(RunError, match="find too few of the 20 pairs synced before: on the left "
                                       "20 created and 0 deleted, on the right 20 created"):
        synced.run()
    assert synced.left() == left and synced.right() == right


def test_a_target_select_that_hides_rows_is_refused_and_writes_nothing(synced: Pair) -> None:
    left, right = synced.left(), synced.right()
    hide(synced, 10)  # (pairs synced before, no longer on the right: deletions there)
    with pytest.raises(RunError, match="on the left 0 created and 10 deleted"):
        synced.run()
    assert synced.left() == left and synced.right() == right


def test_the_refusal_says_the_new_match_was_planned_first(synced: Pair) -> None:
    synced.conn.mapping.match_key = ColumnPair("accountnumber", "name")
    with pytest.raises(RunError):
        synced.run()
    warnings = [e.message for e in synced.events if isinstance(e, LogLine)
                and e.level == "warning"]
    assert any("planning the new match first" in w for w in warnings)


def test_a_refused_rematch_is_refused_again_until_the_settings_are_mended(synced: Pair) -> None:
    synced.conn.mapping.match_key = ColumnPair("accountnumber", "name")
    for _ in range(2):
        with pytest.raises(RunError, match="find too few"):
            synced.run()
    synced.conn.mapping.match_key = None
    report = synced.run()
    assert report.ok and report.plan is not None and report.plan.writes == 0


def hide(pair: Pair, count: int, keys: list[str] | None = None) -> list[str]:
    """Give the right a select whose WHERE leaves out ``count`` of its rows, or the rows of
    ``keys`` (they stay)."""
    hidden = keys or sorted(pair.right())[:count]
    pair.conn.entity2.select = ("SELECT * FROM accounts WHERE accountid NOT IN ("
                                + ", ".join(f"'{key}'" for key in hidden) + ")")
    return hidden


def unsynced_twins(pair: Pair, count: int) -> list[str]:
    """``count`` new accounts on the left and, with the same keys and other names, as many new
    rows on the right, all made after the last run (never synced); their keys."""
    keys = []
    for number in range(count):
        key = pair.left_insert({"name": f"Twin {number}", "accountnumber": f"TW-{number}"})
        pair.right_insert({"name": f"Other twin {number}"}, key=key)
        keys.append(key)
    return keys


def test_forced_a_create_still_never_writes_over_a_row_the_target_select_hides(
        synced: Pair) -> None:
    hidden = hide(synced, 0, unsynced_twins(synced, 10))  # never synced: new on the left
    right = synced.right()
    report = synced.run(force=True)
    assert report.created_right == 0 and report.errors_right == 10
    assert synced.right() == right
    errors = [e.message for e in synced.events if isinstance(e, ItemError)]
    assert f"a row with accountid='{hidden[0]}' is in the table but not in the select" in \
        "\n".join(errors)


def test_a_new_match_that_finds_the_old_pairs_writes_nothing_and_runs_at_once(
        synced: Pair) -> None:
    synced.conn.mapping.match_key = ColumnPair("accountid", "accountid")
    report = synced.run()
    assert report.ok and report.plan is not None and report.plan.writes == 0
    assert report.unchanged == 20


def test_a_first_run_never_writes_over_a_row_the_target_select_hides(synced: Pair) -> None:
    right = synced.right()
    hide(synced, 10)
    report = synced.run(reset=True)  # no state: nothing to plan against, the writes must hold
    assert report.created_right == 0 and report.errors_right == 10
    assert synced.right() == right


def test_a_create_never_writes_over_a_dataverse_record_the_filter_hides(synced: Pair) -> None:
    hidden = unsynced_twins(synced, 10)  # never synced: new on the right once the left hides them
    left = synced.left()
    synced.conn.entity1.select += "&$filter=" + " and ".join(f"accountid ne {key}"
                                                               for key in hidden)
    report = synced.run(force=True)
    assert report.created_left == 0 and report.errors_left == 10
    assert synced.left() == left
    errors = "\n".join(e.message for e in synced.events if isinstance(e, ItemError))
    assert "is in Dataverse but not in the select ($filter or $top leaves it out)" in errors


def narrow(pair: Pair) -> None:
    """A left select without one mapped column: the mapping changes, the old pairs are found."""
    pair.conn.entity1.select = LEFT_SELECT.replace(",creditonhold", "")


def test_a_rematch_planned_first_is_one_run_in_the_history(synced: Pair) -> None:
    narrow(synced)
    assert synced.run().ok
    assert [r.outcome for r in Runner(synced.paths).history(synced.conn)] == ["success", "success"]


def test_a_rematch_in_the_history_says_the_settings_changed(synced: Pair) -> None:
    narrow(synced)
    synced.run()
    newest = Runner(synced.paths).history(synced.conn)[0]
    assert record_text(newest).startswith("settings changed, matched by key again: left 0 created")
    assert newest.counts["rematched"] == 20


def test_a_refused_rematch_is_in_the_history_as_a_failed_run_saying_why(synced: Pair) -> None:
    synced.conn.mapping.match_key = ColumnPair("accountnumber", "name")
    with pytest.raises(RunError):
        synced.run()
    newest, first = Runner(synced.paths).history(synced.conn)
    assert (newest.outcome, first.outcome) == ("failed", "success")
    assert "find too few of the 20 pairs synced before" in newest.message


def test_a_rematch_says_once_that_it_matches_by_key_again(synced: Pair) -> None:
    narrow(synced)
    synced.run()
    said = [e for e in synced.events if isinstance(e, LogLine) and "matching both sides by key "
            "again" in e.message]
    assert len(said) == 1


@pytest.fixture
def one_way(emu: Any, tmp_path: Path) -> Pair:
    """A left-to-right pair (deletions propagated, deletion guard at 20 %) synced once."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts", max_delete_ratio=0.2)
    assert pair.run().created_right == 20
    return pair


def harmless_edit(pair: Pair) -> None:
    """A left select listing a column twice: the same rows and columns, other settings."""
    pair.conn.entity1.select += ",name"


def test_source_deletions_since_the_last_run_reach_the_target_after_a_change_of_settings(
        one_way: Pair) -> None:
    for key in sorted(one_way.left())[:3]:
        one_way.left_delete(key)
    harmless_edit(one_way)
    report = one_way.run()
    assert report.ok and report.deleted_right == 3 and report.only_right == 0
    assert one_way.right() == one_way.left()
    assert one_way.run(full=True).only_right == 0


def test_items_never_synced_stay_left_alone_after_a_change_of_settings(one_way: Pair) -> None:
    mine = one_way.right_insert({"name": "the target's own"})
    gone = sorted(one_way.left())[0]
    one_way.left_delete(gone)
    harmless_edit(one_way)
    report = one_way.run()
    assert (report.deleted_right, report.only_right) == (1, 1)
    assert mine in one_way.right() and gone not in one_way.right()


def test_a_changed_select_that_hides_most_rows_is_refused_and_deletes_nothing(
        one_way: Pair) -> None:
    right = one_way.right()
    one_way.conn.entity1.select += "&$filter=name eq 'nomatch'"
    with pytest.raises(RunError, match="on the right 0 created and 20 deleted"):
        one_way.run()
    assert one_way.right() == right
    newest = Runner(one_way.paths).history(one_way.conn)[0]
    assert newest.outcome == "failed"


def test_a_changed_select_that_hides_most_rows_deletes_them_when_forced(one_way: Pair) -> None:
    one_way.conn.entity1.select += "&$filter=name eq 'nomatch'"
    report = one_way.run(force=True)
    assert report.ok and report.deleted_right == 20 and one_way.right() == {}


def test_after_a_change_of_settings_a_deletion_on_either_side_propagates(synced: Pair) -> None:
    on_left, on_right = sorted(synced.left())[:2]
    synced.left_delete(on_left)
    synced.right_delete(on_right)
    narrow(synced)
    report = synced.run()
    assert report.ok and (report.deleted_left, report.deleted_right) == (1, 1)
    assert report.created_left == report.created_right == 0
    assert on_right not in synced.left() and on_left not in synced.right()
    assert set(synced.left()) == set(synced.right()) and len(synced.left()) == 18


def test_the_warning_of_a_change_of_mapping_names_the_pairs_lost_and_new(one_way: Pair) -> None:
    with one_way.engine.begin() as c:  # the target's column renamed: auto mapping loses it
        c.execute(sa.text("ALTER TABLE accounts RENAME COLUMN creditonhold TO onhold"))
    one_way.run()
    manual_mapping(one_way, [("accountid", "accountid"), ("name", "name"),
                             ("creditonhold", "onhold")])
    one_way.run()
    warnings = [e.message for e in one_way.events if isinstance(e, LogLine)
                and e.level == "warning" and "matching both sides by key again" in e.message]
    assert "no longer mapped: creditonhold" in warnings[0]
    assert "newly mapped: creditonhold → onhold" in warnings[1]
    assert "no longer mapped: accountnumber, numberofemployees, revenue" in warnings[1]


def _accounts_plan(exclude: list[str]) -> MappingPlan:
    """The plan build_mapping gives a Dataverse → SQLite connection of three columns."""
    conn = Connection(
        title="Accounts",
        entity1=Entity(provider="odata", select="$select=accountid,name,description",
                       connection_string="URL=http://127.0.0.1:5555/api/data/v9.2/accounts;"),
        entity2=Entity(provider="sqlite", select="accounts", connection_string="Data Source=r.db;"),
        mapping=Mapping(exclude=exclude))
    columns = [Column("accountid", ColumnType.GUID, key=True), Column("name"), Column("description")]
    return build_mapping(conn, columns, columns, ["accountid"], ["accountid"])


def test_a_connection_without_exclude_keeps_the_signature_it_was_synced_under() -> None:
    """No state synced before mapping.exclude existed is matched again after the upgrade (nor
    after the signature came to name the pairs carried: the old form is compared as such)."""
    stored = ('{"entities":[["odata","/api/data/v9.2/accounts","$select=accountid,name,'
              'description"],["sqlite","Data Source=r.db;","accounts"]],"match":[["accountid",'
              '"accountid"]],"pairs":[["accountid","accountid"],["description","description"],'
              '["name","name"]]}')
    assert compared(stored, _accounts_plan([])) == stored


def test_excluding_a_column_is_a_change_of_mapping_that_names_the_pair_lost() -> None:
    assert changes(_accounts_plan([]).signature, _accounts_plan(["description"]).signature) == \
        ["no longer mapped: description"]


def test_a_run_after_a_column_is_excluded_matches_again_and_writes_nothing(
        one_way: Pair) -> None:
    one_way.run()
    one_way.conn.mapping.exclude = ["creditonhold"]
    report = one_way.run()
    assert report.ok and report.plan is not None and report.plan.writes == 0
    warnings = [e.message for e in one_way.events if isinstance(e, LogLine)
                and e.level == "warning" and "matching both sides by key again" in e.message]
    assert len(warnings) == 1 and "no longer mapped: creditonhold" in warnings[0]
