"""``l2tui run`` and ``l2tui demo --headless`` as a script uses them."""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import pty
import re
import signal
import sqlite3
import stat
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.commands.run import stopping_on_signals
from l2tui.config.model import ConflictResolution, Direction
from l2tui.config.store import ConnectionStore
from l2tui.paths import resolve_paths
from l2tui.runner import Runner
from tests.conftest import REPO, CliRunner, TerminalRunner
from tests.sync.support import FIELDS, Pair, make_pair, manual_mapping, sqlite_url


def test_run_prints_a_summary_and_exits_0(pair: Pair, run_cli: CliRunner) -> None:
    result = run_cli("run", pair.save())
    assert result.returncode == 0, result.stderr
    assert "20 created" in result.stdout


def test_run_whose_dynamics_sign_in_fails_names_the_entity_as_verify_does(
        emulator_factory: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    """A wrong password: the one-line error says which entity could not sign in (its number and
    title), in the history too, as verify's "Entity 1 (Dynamics accounts): FAILED" does."""
    emu = emulator_factory(rows=5, auth=True)
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.password_env = "CRM_PASSWORD"
    name = pair.save()
    env = {"CRM_PASSWORD": "wrong", "L2TUI_AUTHORITY_REWRITE":
           f"https://login.fake.test={emu.root_url}"}
    result = run_cli("run", name, env=env)
    assert result.returncode == 3, result.stderr
    assert result.stderr.startswith("l2tui: entity 1 (Dynamics accounts): sign-in as "), \
        result.stderr
    [run] = json.loads(run_cli("history", name, "--json").stdout)
    assert run["message"].startswith("entity 1 (Dynamics accounts): sign-in as "), run


def test_run_json_prints_the_report_for_scripts(pair: Pair, run_cli: CliRunner) -> None:
    result = run_cli("run", pair.save(), "--json")
    report = json.loads(result.stdout)
    assert report["outcome"] == "success" and report["created_right"] == 20


def test_run_json_names_its_run_log_and_exit_code_as_the_answer_of_a_failed_run_does(
        pair: Pair, run_cli: CliRunner) -> None:
    """A monitor attaches the run's log to its alert: the report of a run that ended (with item
    errors, cancelled: exit 1) had no ``log``, its run number only under ``details`` and no
    ``exit_code``, which the answer of a run that failed has at its top."""
    name = pair.save()
    report = json.loads(run_cli("run", name, "--json").stdout)
    [run] = json.loads(run_cli("history", name, "--json").stdout)
    assert (report["run"], report["log"], report["exit_code"]) == (run["run"], run["log"], 0)
    assert Path(report["log"]).is_file()


def test_run_json_gives_its_start_and_end_as_iso_text_as_history_json_does(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    report = json.loads(run_cli("run", name, "--json").stdout)
    [run] = json.loads(run_cli("history", name, "--json").stdout)
    assert (report["started"], report["finished"]) == (run["started"], run["finished"])
    assert report["started"][10] == "T"


def test_run_on_a_target_with_rows_of_its_own_says_they_were_left_alone(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.right_insert({"name": "only here"})
    result = run_cli("run", pair.save())
    assert "  unchanged: 0; only on Data Entity 2 (right), left alone: 1; conflicts: 0" in \
        result.stdout


def test_run_json_counts_target_rows_left_alone_apart_from_the_unchanged(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.right_insert({"name": "only here"})
    report = json.loads(run_cli("run", pair.save(), "--json").stdout)
    assert (report["unchanged"], report["only_right"], report["only_left"]) == (0, 1, 0)


def test_run_after_a_change_of_settings_says_both_sides_were_matched_again(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    pair.conn.entity1.select = pair.conn.entity1.select.replace(",creditonhold", "")
    lines = run_cli("run", pair.save()).stdout.splitlines()
    assert lines[1] == "  the mapping, a select or the match key changed: both sides matched by " \
        "key again (20 pairs synced before)"


def test_dry_run_writes_nothing(pair: Pair, run_cli: CliRunner) -> None:
    result = run_cli("run", pair.save(), "--dry-run")
    assert result.returncode == 0 and "would be created" in result.stdout
    assert pair.right_count() == 0



def with_a_contact_column(emu: Any, tmp_path: Path) -> Pair:
    """A bidirectional pair whose SQL table holds the accounts' primary contact as text."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL,
                     left_select="$select=accountid,name,_primarycontactid_value,modifiedon")
    with pair.engine.begin() as c:
        c.execute(sa.text("ALTER TABLE accounts ADD COLUMN _primarycontactid_value VARCHAR(36)"))
    return pair


def test_a_value_that_is_no_guid_written_into_a_dataverse_lookup_names_the_column_and_value(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = with_a_contact_column(emu, tmp_path)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    key = sorted(pair.left())[0]
    with pair.engine.begin() as c:
        c.execute(sa.text("UPDATE accounts SET _primarycontactid_value = 'not-a-guid' "
                          "WHERE accountid = :k"), {"k": key})
    result = run_cli("run", name)
    assert result.returncode == 1
    assert (f'error on the left for {key}: _primarycontactid_value: \'not-a-guid\' cannot be '
            "written as a GUID") in result.stderr.splitlines()


def test_run_summary_and_log_name_one_error_in_the_singular(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = with_a_contact_column(emu, tmp_path)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    with pair.engine.begin() as c:
        c.execute(sa.text("UPDATE accounts SET _primarycontactid_value = 'not-a-guid' "
                          "WHERE accountid = :k"), {"k": sorted(pair.left())[0]})
    result = run_cli("run", name)
    assert "  Data Entity 1 (left): 0 created, 0 updated, 0 deleted, 1 error" in \
        result.stdout.splitlines()
    newest = json.loads(run_cli("history", name, "--json").stdout)[0]
    assert "0 deleted, 1 error; right:" in Path(newest["log"]).read_text()


def test_run_says_the_first_20_item_errors_on_stderr_then_how_many_more_its_log_has(
        emulator_factory: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    """Cron mails stderr: 3,000 rows a target refuses were 3,000 lines at each run, every 15
    minutes, until they were mended; the run's log has every one."""
    pair = with_a_contact_column(emulator_factory(rows=25, auth=False), tmp_path)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    with pair.engine.begin() as c:
        c.execute(sa.text("UPDATE accounts SET _primarycontactid_value = 'not-a-guid'"))
    result = run_cli("run", name)
    assert result.returncode == 1
    lines = result.stderr.splitlines()
    [log] = [run["log"] for run in json.loads(run_cli("history", name, "--json").stdout)
             if run["run"] == 2]
    assert [line for line in lines if line.startswith("error on the left for ")] == \
        [line.split(" ", 1)[1] for line in Path(log).read_text().splitlines()
         if " error on the left for " in line][:20]
    assert lines[20:] == [f"l2tui: … and 5 more item errors; the run's log has every one: {log}"]
    assert "  Data Entity 1 (left): 0 created, 0 updated, 0 deleted, 25 errors" in \
        result.stdout.splitlines()


def test_run_says_the_first_20_conflicts_on_stderr_then_how_many_more_its_log_has(
        emulator_factory: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = make_pair(emulator_factory(rows=25, auth=False), sqlite_url(tmp_path / "r.db"),
                     "accounts", direction=Direction.BIDIRECTIONAL)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    for key in pair.left():
        pair.left_update(key, {"name": "left edit"})
        pair.right_update(key, {"name": "right edit"})
    result = run_cli("run", name)
    assert result.returncode == 0, result.stderr
    [log] = [run["log"] for run in json.loads(run_cli("history", name, "--json").stdout)
             if run["run"] == 2]
    lines = result.stderr.splitlines()
    assert len(lines) == 21 and all(line.startswith("conflict ") for line in lines[:20]), lines
    assert lines[20] == f"l2tui: … and 5 more conflicts; the run's log has every one: {log}"


def test_a_dry_run_whose_plan_holds_item_errors_exits_1_as_the_run_would(
        pair: Pair, run_cli: CliRunner) -> None:
    """A row that cannot be read (a SQLite boolean 'maybe') is an item error of the plan: the
    dry run says so in its exit code and its --json ``ok``, as the real run would."""
    pair.conn.direction = Direction.BIDIRECTIONAL
    name = pair.save()
    key = pair.right_insert({"name": "unsure"})
    with pair.engine.begin() as c:
        c.execute(sa.text("UPDATE accounts SET creditonhold = 'maybe' WHERE accountid = :k"),
                  {"k": key})
    result = run_cli("run", name, "--dry-run", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["outcome"], report["errors_right"], report["ok"]) == ("dry_run", 1, False)
    assert pair.right_count() == 1


def test_a_dry_run_past_the_deletion_guard_exits_0_with_force_as_the_run_would(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.synced_then_emptied(run_cli)
    result = run_cli("run", name, "--dry-run", "--force", "--json")
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["ok"] is True
    assert pair.right_count() == 20


def test_a_dry_run_that_would_leave_a_conflict_unresolved_exits_1_as_the_run_would(
        pair: Pair, run_cli: CliRunner) -> None:
    """Policy skip: a row edited on both sides stays a conflict; the real run exits 1, and so
    does its dry run (--json: ok false), writing nothing."""
    pair.conn.direction = Direction.BIDIRECTIONAL
    pair.conn.conflict_resolution = ConflictResolution.SKIP
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "left edit"})
    pair.right_update(key, {"name": "right edit"})
    result = run_cli("run", name, "--dry-run", "--json")
    assert result.returncode == 1, result.stderr
    report = json.loads(result.stdout)
    assert (report["outcome"], report["ok"], report["conflicts"]) == ("dry_run", False, 1)
    assert pair.right()[key][FIELDS.index("name")] == "right edit"


def test_the_deletion_guard_exits_1_with_one_line(pair: Pair, run_cli: CliRunner,
                                                  emu: Any) -> None:
    name = pair.synced_then_emptied(run_cli)
    result = run_cli("run", name)
    assert result.returncode == 1 and "max_delete_ratio" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert pair.right_count() == 20


def test_dry_run_past_the_deletion_guard_shows_the_plan_and_deletes_nothing(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.synced_then_emptied(run_cli)
    result = run_cli("run", name, "--dry-run")
    assert result.returncode == 1, result.stderr  # (as the real run would: refused)
    assert "20 would be deleted" in result.stdout
    assert "a real run would refuse to delete 20 of the 20 synced items" in result.stderr
    assert pair.right_count() == 20


def test_dry_run_past_the_deletion_guard_says_in_its_summary_that_a_run_would_stop(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.synced_then_emptied(run_cli)
    summary = run_cli("run", name, "--dry-run").stdout.split("\nTo delete on ")[0]
    assert summary.splitlines()[-1].startswith(
        "  a real run would refuse to delete 20 of the 20 synced items")


def planned(stdout: str, heading: str) -> list[str]:
    """The lines a dry run lists under ``heading`` (its items, then how many more)."""
    lines = stdout.splitlines()
    start = lines.index(heading) + 1
    end = next((i for i in range(start, len(lines)) if not lines[i].startswith("  ")),
               len(lines))
    return [line.removeprefix("  ") for line in lines[start:end]]


def test_dry_run_lists_by_match_key_the_items_it_would_create_after_its_summary(
        pair: Pair, run_cli: CliRunner) -> None:
    out = run_cli("run", pair.save(), "--dry-run").stdout
    assert out.index("  unchanged: 0") < out.index("To create on Data Entity 2 (right): 20")
    assert sorted(planned(out, "To create on Data Entity 2 (right): 20")) == sorted(pair.left())


def test_dry_run_lists_20_items_of_a_kind_then_how_many_more(pair: Pair,
                                                              run_cli: CliRunner) -> None:
    for n in range(5):
        pair.left_insert({"name": f"Other {n}"})
    listed = planned(run_cli("run", pair.save(), "--dry-run").stdout,
                     "To create on Data Entity 2 (right): 25")
    assert len(listed) == 21 and listed[-1] == "… and 5 more"
    assert set(listed[:20]) < set(pair.left())


def test_dry_run_lists_the_items_it_would_update_with_the_values_it_would_write(
        pair: Pair, run_cli: CliRunner) -> None:
    """A one-way run that does not read its target writes every mapped column of an update."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    key = sorted(pair.left())[3]
    pair.left_update(key, {"name": "edited"})
    out = run_cli("run", name, "--dry-run").stdout
    [line] = planned(out, "To update on Data Entity 2 (right): 1")
    assert line.startswith(f"{key}: name = 'edited', ") and line.endswith(", and 1 more")


def test_a_full_dry_run_lists_an_update_with_only_the_values_that_differ(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    key = sorted(pair.left())[3]
    pair.left_update(key, {"name": "edited"})
    out = run_cli("run", name, "--dry-run", "--full").stdout
    assert planned(out, "To update on Data Entity 2 (right): 1") == [f"{key}: name = 'edited'"]


def test_dry_run_json_gives_each_planned_update_with_the_values_it_would_write(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    key = sorted(pair.left())[3]
    pair.left_update(key, {"name": "edited"})
    report = json.loads(run_cli("run", name, "--dry-run", "--full", "--json").stdout)
    assert report["plan"]["items"]["right"]["update"] == [[key]]
    assert report["plan"]["updates"] == {"left": [],
                                         "right": [{"key": [key], "values": {"name": "edited"}}]}
    assert "planned_updates" not in report["details"]


def test_dry_run_past_the_deletion_guard_lists_the_items_it_would_delete(
        pair: Pair, run_cli: CliRunner) -> None:
    synced = set(pair.left())
    name = pair.synced_then_emptied(run_cli)
    out = run_cli("run", name, "--dry-run").stdout
    assert set(planned(out, "To delete on Data Entity 2 (right): 20")) == synced


def test_dry_run_json_lists_the_planned_items_under_the_plan(pair: Pair,
                                                             run_cli: CliRunner) -> None:
    report = json.loads(run_cli("run", pair.save(), "--dry-run", "--json").stdout)
    items = report["plan"]["items"]
    assert sorted(key for [key] in items["right"]["create"]) == sorted(pair.left())
    assert items["left"] == {"create": [], "update": [], "delete": []}
    assert "planned" not in report["details"]


def test_run_json_prints_a_refused_run_on_stdout_too(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.synced_then_emptied(run_cli)
    result = run_cli("run", name, "--json")
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert report["ok"] is False and report["outcome"] == "failed" and report["exit_code"] == 1
    assert "max_delete_ratio" in report["message"]
    assert report["connection"] == pair.conn.title


def test_run_json_of_a_run_that_failed_midway_gives_what_its_history_recorded(
        emulator_factory: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    """The service refuses the read's second page (of 5,000 accounts): the JSON on stdout has
    the run's number, start and end, log and counts as ``history --json`` has them (the counts
    at the top too, as a report has them), with the error's message and exit code."""
    emu = emulator_factory(rows=5001, auth=False)
    name = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts").save()
    emu.faults.delay_next(1, 0.0, method="GET", path_contains="/accounts")  # (the first page)
    emu.faults.fail_next(10**6, status=400, method="GET", path_contains="/accounts")
    result = run_cli("run", name, "--json")
    emu.faults.clear()
    assert result.returncode == 3, result.stderr
    answer = json.loads(result.stdout)
    [run] = json.loads(run_cli("history", name, "--json").stdout)
    assert {key: answer.get(key) for key in run} == run
    assert answer["created_right"] == run["counts"]["created_right"]
    assert (answer["outcome"], answer["ok"], answer["exit_code"]) == ("failed", False, 3)
    assert answer["message"] == result.stderr.removeprefix("l2tui: ").strip()


def test_summary_lists_data_entity_1_before_data_entity_2(pair: Pair, run_cli: CliRunner) -> None:
    out = run_cli("run", pair.save()).stdout
    assert out.index("Data Entity 1 (left)") < out.index("Data Entity 2 (right)")


def test_the_progress_line_fits_a_terminal_narrower_than_40_columns(
        pair: Pair, run_on_terminal: TerminalRunner) -> None:
    """Redrawn after a carriage return: a line wider than the terminal wraps, and each redraw
    would leave a line behind."""
    code, shown = run_on_terminal("run", pair.save(), columns=24)
    assert code == 0, shown
    progress = [part for line in shown.splitlines() for part in line.split("\r")
                if part.startswith("read ")]
    assert progress and all(len(part) < 24 for part in progress), progress


def test_reset_answered_no_on_a_terminal_runs_nothing(pair: Pair,
                                                      run_on_terminal: TerminalRunner) -> None:
    name = pair.save()
    code, shown = run_on_terminal("run", name, "--reset", answers=["n"])
    assert code == 0, shown
    assert "Not reset; nothing was run." in shown and "created" not in shown
    assert pair.right_count() == 0


def test_reset_answered_yes_on_a_terminal_runs(pair: Pair,
                                               run_on_terminal: TerminalRunner) -> None:
    code, shown = run_on_terminal("run", pair.save(), "--reset", answers=["y"])
    assert code == 0, shown
    assert "20 created" in shown


def test_reset_without_a_terminal_needs_yes(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name, "--reset").returncode == 2
    assert run_cli("run", name, "--reset", "--yes").returncode == 0


def saved_file(pair: Pair) -> str:
    return str(ConnectionStore(pair.paths.connections).path_for(pair.conn.title))


def test_a_select_naming_a_missing_dataverse_column_names_file_and_key(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.conn.entity1.select = "$select=name,nosuchcol"
    result = run_cli("run", pair.save())
    assert result.returncode == 2
    assert result.stderr.strip().startswith(
        f"l2tui: {saved_file(pair)}: entity1.select: 'nosuchcol' is not a column of accounts "
        "(its columns: ")


def test_a_primary_key_naming_a_missing_sql_column_names_file_and_key(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.conn.entity2.primary_key = ["nosuch"]
    result = run_cli("run", pair.save())
    assert result.returncode == 2
    assert result.stderr.strip() == (
        f"l2tui: {saved_file(pair)}: entity2.primary_key: column 'nosuch' not found in table "
        "'accounts' (its columns: accountid, accountnumber, changed_at, creditonhold, name, "
        "numberofemployees, revenue)")


def test_a_select_the_service_refuses_names_file_and_key_with_its_reason(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.conn.entity1.select = "$select=name&$filter=name eq"
    result = run_cli("run", pair.save())
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"l2tui: {saved_file(pair)}: entity1.select: the service refused the select: "
        "Syntax error: unexpected 'end of input' in 'name eq'.")


def test_an_entity_set_the_service_does_not_have_names_file_and_key(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.conn.entity1.connection_string = pair.emu.connection_string("acounts")
    result = run_cli("run", pair.save())
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip() == (
        f"l2tui: {saved_file(pair)}: entity1.connection_string: the service at "
        f"127.0.0.1:{pair.emu.port} has no entity set 'acounts' (did you mean 'accounts'?)")


def test_a_primary_key_naming_a_missing_dataverse_column_names_file_and_key(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.conn.entity1.primary_key = ["nosuchkey"]
    result = run_cli("run", pair.save())
    assert result.returncode == 2, result.stderr
    assert result.stderr.strip().startswith(
        f"l2tui: {saved_file(pair)}: entity1.primary_key: column 'nosuchkey' not found in entity "
        "set 'accounts' (its columns: ")


def test_a_mapping_to_a_missing_column_names_the_file(pair: Pair, run_cli: CliRunner) -> None:
    manual_mapping(pair, [("name", "NoSuchColumn")])
    result = run_cli("run", pair.save())
    assert result.returncode == 2
    assert result.stderr.startswith(f"l2tui: {saved_file(pair)}: mapping.columns[0].right: "
                                    "entity 2 has no column 'NoSuchColumn'")


def test_the_demo_connection_after_the_demo_says_its_emulator_is_gone(
        run_cli: CliRunner) -> None:
    assert run_cli("demo", "--headless", "--rows", "20").returncode == 0
    started = time.monotonic()
    result = run_cli("run", "demo-dynamics-accounts-to-sqlite")
    assert result.returncode == 3
    assert "Connection refused: nothing listens there" in result.stderr
    assert "`l2tui demo` serves only while the demo runs" in result.stderr
    assert time.monotonic() - started < 15  # not retried as if the service were restarting


def test_an_unknown_connection_exits_2(run_cli: CliRunner) -> None:
    assert run_cli("run", "no-such-connection").returncode == 2


def test_run_json_answers_on_stdout_for_an_unknown_connection(run_cli: CliRunner) -> None:
    result = run_cli("run", "no-such-connection", "--json")
    assert result.returncode == 2
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert answer["connection"] == "no-such-connection" and answer["message"]


def test_demo_headless_syncs_the_emulator_into_sqlite(run_cli: CliRunner) -> None:
    result = run_cli("demo", "--headless", "--rows", "50")
    assert result.returncode == 0, result.stderr
    assert "50 created" in result.stdout


def test_the_demo_database_is_readable_by_its_owner_alone(
        run_cli: CliRunner, isolated_dirs: dict[str, Path]) -> None:
    assert run_cli("demo", "--headless", "--rows", "20").returncode == 0
    assert stat.S_IMODE((isolated_dirs["data"] / "demo.db").stat().st_mode) == 0o600


def test_each_demo_starts_from_a_fresh_database_and_sync_state(
        run_cli: CliRunner, isolated_dirs: dict[str, Path]) -> None:
    data = isolated_dirs["data"]
    data.mkdir(parents=True)
    (data / "other.db").write_text("not the demo's")
    assert run_cli("demo", "--headless").returncode == 0
    again = run_cli("demo", "--headless", "--rows", "100")  # a new emulator, 100 accounts
    assert again.returncode == 0, again.stderr
    assert "Data Entity 2 (right): 100 created, 0 updated, 0 deleted" in again.stdout
    with contextlib.closing(sqlite3.connect(data / "demo.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM accounts").fetchone() == (100,)
    assert (data / "other.db").read_text() == "not the demo's"


def test_the_demo_syncs_into_the_demo_database_of_the_data_folder_it_names(
        run_cli: CliRunner, tmp_path: Path) -> None:
    # the demo's connection file was written under another data folder ($L2TUI_DATA_DIR changed):
    # the demo synced into the old folder's demo.db, while it named (and emptied) the new one
    old, new = tmp_path / "old-data", tmp_path / "new-data"
    assert run_cli("demo", "--headless", "--rows", "20",
                   env={"L2TUI_DATA_DIR": str(old)}).returncode == 0
    again = run_cli("demo", "--headless", "--rows", "30", env={"L2TUI_DATA_DIR": str(new)})
    assert again.returncode == 0, again.stderr
    assert f"SQLite: {new / 'demo.db'}" in again.stderr
    assert "Data Entity 2 (right): 30 created, 0 updated, 0 deleted" in again.stdout
    with contextlib.closing(sqlite3.connect(new / "demo.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM accounts").fetchone() == (30,)
    with contextlib.closing(sqlite3.connect(old / "demo.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM accounts").fetchone() == (20,)


def test_a_demo_started_while_the_demo_runs_changes_nothing_and_names_the_running_one(
        run_cli: CliRunner, isolated_dirs: dict[str, Path]) -> None:
    assert run_cli("demo", "--headless", "--rows", "20").returncode == 0
    paths = resolve_paths()
    conn = ConnectionStore(paths.connections).load("demo-dynamics-accounts-to-sqlite")
    assert conn.path is not None
    before = conn.path.read_text()
    fd = os.open(Runner(paths).lock_path(conn), os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)  # the first demo's run, going on
        os.pwrite(fd, b"4242", 0)
        again = run_cli("demo", "--headless", "--rows", "100")
    finally:
        os.close(fd)
    assert again.returncode == 1
    assert again.stderr == ("l2tui: 'Demo: Dynamics accounts to SQLite' is already running (PID "
                            "4242); the demo starts afresh once it has ended, and nothing was "
                            "changed\n")
    with contextlib.closing(sqlite3.connect(isolated_dirs["data"] / "demo.db")) as db:
        assert db.execute("SELECT COUNT(*) FROM accounts").fetchone() == (20,)
    assert conn.path.read_text() == before


def running(name: str, terminal: int | None = None,
            ignoring: signal.Signals | None = None,
            options: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """``l2tui run NAME [options]`` in the background, its standard streams on the
    pseudo-terminal ``terminal`` (else pipes); started with the signal ``ignoring`` ignored, as
    a shell starts a background job."""
    streams = subprocess.PIPE if terminal is None else terminal
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    if terminal is not None:  # (buffered, as a terminal's streams are outside the tests)
        env.pop("PYTHONUNBUFFERED", None)
    return subprocess.Popen([sys.executable, "-m", "l2tui", "run", name, *options], cwd=str(REPO),
                            env=env, text=True, stdin=terminal, stdout=streams, stderr=streams,
                            preexec_fn=None if ignoring is None else
                            lambda: signal.signal(ignoring, signal.SIG_IGN))


def reading_slowly(pair: Pair, name: str, seconds: float,
                   ignoring: signal.Signals | None = None,
                   terminal: int | None = None,
                   options: tuple[str, ...] = ()) -> subprocess.Popen[str]:
    """``l2tui run NAME`` in the background (as ``running`` starts it), once its first page
    request is under way and held back ``seconds`` by the emulator (a signal then meets a run
    in the middle of its read)."""
    pair.emu.faults.delay_next(1, seconds, path_contains="/accounts")
    pair.emu.recent_requests.clear()
    proc = running(name, terminal, ignoring, options)
    deadline = time.monotonic() + 30
    while not any("/accounts?" in r for r in list(pair.emu.recent_requests)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    return proc


def writing_slowly(pair: Pair, terminal: int | None = None,
                   ) -> tuple[subprocess.Popen[str], str, Any]:
    """A run from right to left of a row renamed on the right (``l2tui run NAME`` in the
    background, as ``running`` starts it; NAME; the row's key), once its Dataverse write is
    under way and held back 8 s by the emulator: the first signal waits for it (a write's
    answer always is), the second does not."""
    pair.run()
    key = next(iter(pair.right()))
    pair.right_update(key, {"name": "Renamed on the right"})
    pair.conn.direction = Direction.RIGHT_TO_LEFT
    name = pair.save()
    pair.emu.faults.delay_next(1, 8.0, method="POST", path_contains="$batch")
    pair.emu.recent_requests.clear()
    proc = running(name, terminal)
    deadline = time.monotonic() + 30
    while not any("$batch" in r for r in list(pair.emu.recent_requests)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    return proc, name, key


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGHUP], ids=["SIGTERM", "SIGHUP"])
def test_sigterm_or_sighup_stops_a_run_cleanly_like_ctrl_c_and_the_next_run_completes(
        pair: Pair, run_cli: CliRunner, signum: signal.Signals) -> None:
    name = pair.save()
    proc = reading_slowly(pair, name, seconds=3.0)
    proc.send_signal(signum)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (proc.returncode, err)
    assert out.startswith("Cancelled: ") and "stopping after the current batch" in err
    again = run_cli("run", name)
    assert again.returncode == 0, again.stderr
    assert pair.right() == pair.left()


def test_a_run_whose_terminal_hangs_up_exits_with_its_own_code_not_120(
        pair: Pair, run_cli: CliRunner) -> None:
    """The SSH session of a run left going in the background dropped: the terminal its stdout
    and stderr write to is gone, and each write fails. The run goes on to its end and exits 1
    (its summary was not said), where it exited 120, Python's code for a stream it could not
    flush as it exited (the progress lines stderr could not take were still buffered)."""
    name = pair.save()
    main, child = pty.openpty()
    try:
        proc = reading_slowly(pair, name, seconds=1.0, terminal=child)
    finally:
        os.close(child)
    os.close(main)  # (the terminal hangs up)
    assert proc.wait(timeout=60) == 1
    [record] = json.loads(run_cli("history", name, "--json").stdout)
    assert record["outcome"] == "success"
    assert pair.right() == pair.left()


def test_a_cancelled_dry_run_says_it_wrote_nothing(pair: Pair) -> None:
    """Its summary read "Cancelled" and "20 created", as a real run's: nothing was written."""
    proc = reading_slowly(pair, pair.save(), seconds=3.0, options=("--dry-run",))
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    assert proc.returncode == 1
    assert out.startswith("Cancelled dry run (nothing written): "), out
    assert "  Data Entity 2 (right): 0 would be created, 0 would be updated, 0 would be " \
        "deleted, 0 errors" in out.splitlines()


def test_run_json_says_whether_the_run_was_a_dry_run_as_history_json_does(pair: Pair) -> None:
    """A dry run that was cancelled reads "cancelled" as a real run does: ``dry_run`` tells."""
    proc = reading_slowly(pair, pair.save(), seconds=3.0, options=("--dry-run", "--json"))
    proc.send_signal(signal.SIGTERM)
    out, _ = proc.communicate(timeout=60)
    report = json.loads(out)
    assert (report["outcome"], report["dry_run"]) == ("cancelled", True)


def test_the_log_of_a_cancelled_run_ends_saying_what_it_wrote(pair: Pair) -> None:
    """As the history and the summary do: it ended "cancelled in 0.5s; cancelled"."""
    name = pair.save()
    proc = reading_slowly(pair, name, seconds=3.0)
    proc.send_signal(signal.SIGTERM)
    assert proc.wait(timeout=60) == 1
    [log] = pair.paths.run_logs(name).glob("*.log")
    last = log.read_text().splitlines()[-1]
    assert re.fullmatch(r"\d\d:\d\d:\d\d run finished: cancelled in \S+; left 0 created, "
                        r"0 updated, 0 deleted; right 0 created, 0 updated, 0 deleted", last), last


def test_a_signal_off_a_terminal_writes_no_blank_line_before_saying_it_stops(
        pair: Pair) -> None:
    proc = reading_slowly(pair, pair.save(), seconds=3.0)
    proc.send_signal(signal.SIGINT)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (proc.returncode, err)
    assert err.startswith("l2tui: stopping after the current batch (Ctrl-C again to interrupt)")
    assert "" not in err.splitlines()


def test_a_second_signal_interrupts_and_the_run_log_says_so(pair: Pair,
                                                            run_cli: CliRunner) -> None:
    """The first signal waits for the batch being written (here: a Dataverse write the service
    answers slowly, whose answer is always waited for); the second does not. (It was a wait on
    a lock another program holds on the SQLite target, which the first signal now ends.)"""
    proc, name, key = writing_slowly(pair)
    proc.send_signal(signal.SIGTERM)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _, err = proc.communicate(timeout=60)
    assert proc.returncode == 130 and "l2tui: interrupted" in err, (proc.returncode, err)
    logs = pair.paths.run_logs(name).glob("*.log")
    assert any("run interrupted mid-batch" in log.read_text() for log in logs)
    records = json.loads(run_cli("history", name, "--json").stdout)
    assert sorted(record["outcome"] for record in records) == ["failed", "success"]
    assert [record["message"] for record in records if record["outcome"] == "failed"] == \
        ["interrupted"]
    assert run_cli("run", name).returncode == 0
    assert pair.right() == pair.left() and pair.left()[key][0] == "Renamed on the right"


def test_a_second_sighup_after_the_terminal_hung_up_interrupts_with_exit_130(
        pair: Pair) -> None:
    """Saying "interrupted" on a terminal that hung up failed, and that error ended the command
    with exit 1 in place of 130."""
    main, child = pty.openpty()
    try:
        proc, _, _ = writing_slowly(pair, terminal=child)
    finally:
        os.close(child)
    os.close(main)  # (the terminal hangs up)
    proc.send_signal(signal.SIGHUP)
    time.sleep(0.5)
    proc.send_signal(signal.SIGHUP)
    assert proc.wait(timeout=60) == 130


def test_a_second_signal_met_while_a_generator_is_finalised_still_interrupts(
        capfd: pytest.CaptureFixture[str]) -> None:
    """The second signal can land in a generator's clean-up as Python finalises it (the
    engine's page reader, joining its reading thread as the cancelled run unwinds): Python
    printed its KeyboardInterrupt as "Exception ignored in …" with a traceback and dropped it,
    and the run went on to print "Cancelled" and exit 1. It is raised again, said nowhere."""
    def pages() -> Iterator[int]:
        try:
            yield 1
        finally:  # (the reader's thread joined: the second signal arrives meanwhile)
            signal.raise_signal(signal.SIGTERM)
            time.sleep(0.1)

    cancel = threading.Event()
    with pytest.raises(KeyboardInterrupt), stopping_on_signals(cancel):
        signal.raise_signal(signal.SIGTERM)  # the first: stop after the current batch
        reader = pages()
        next(reader)
        del reader  # (finalised here)
        time.sleep(1)  # (the rest of the cancelled run)
    assert cancel.is_set()
    assert "Exception ignored" not in capfd.readouterr().err


def test_a_signal_while_the_service_does_not_answer_its_description_cancels_the_run_at_once(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    pair.emu.faults.delay_next(10, 15.0, path_contains="EntityDefinitions")
    pair.emu.recent_requests.clear()
    proc = subprocess.Popen([sys.executable, "-m", "l2tui", "run", name], cwd=str(REPO),
                            env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.monotonic() + 30
    while not any("EntityDefinitions" in r for r in list(pair.emu.recent_requests)):
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    time.sleep(0.3)  # (the describe's requests are out and waiting)
    proc.send_signal(signal.SIGTERM)
    stopped = time.monotonic()
    out, err = proc.communicate(timeout=60)
    assert time.monotonic() - stopped < 5  # not once the service answers (15 s)
    assert proc.returncode == 1 and out.startswith("Cancelled"), (proc.returncode, out, err)
    [record] = json.loads(run_cli("history", name, "--json").stdout)
    assert record["outcome"] == "cancelled"


def test_a_data_dir_that_cannot_be_made_exits_2_naming_the_folder_and_variable(
        pair: Pair, run_cli: CliRunner, tmp_path: Path) -> None:
    name = pair.save()
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = run_cli("run", name, env={"L2TUI_DATA_DIR": str(taken)})
    assert result.returncode == 2, result.stderr
    assert str(taken / "state") in result.stderr and "L2TUI_DATA_DIR" in result.stderr
    assert "unexpected error" not in result.stderr and len(result.stderr.splitlines()) == 1


def run_with_a_file_for_its_log_folder(pair: Pair, run_cli: CliRunner
                                       ) -> tuple[subprocess.CompletedProcess[str], Path]:
    """Run once, then put a file where the connection's log folder goes and run again: that
    run's result, and the log folder."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    logs = resolve_paths().run_logs(name)
    for old in logs.iterdir():
        old.unlink()
    logs.rmdir()
    logs.write_text("not a folder")
    return run_cli("run", name), logs


def test_a_log_folder_that_cannot_be_written_exits_2_and_runs_nothing(
        pair: Pair, run_cli: CliRunner) -> None:
    """A folder l2tui cannot use is a setup problem, as a data folder that cannot be made is."""
    result, logs = run_with_a_file_for_its_log_folder(pair, run_cli)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"l2tui: cannot write the run log in {logs}: Not a directory; " \
        "nothing was run\n"


def test_a_run_that_cannot_write_its_log_is_the_latest_run_a_monitor_reads_failed(
        pair: Pair, run_cli: CliRunner) -> None:
    """Not the success before it: ``list --json`` gives the run that could not write its log,
    failed with the message it exited with."""
    result, _ = run_with_a_file_for_its_log_folder(pair, run_cli)
    [latest] = json.loads(run_cli("list", "--json").stdout)
    assert latest["last_run"]["outcome"] == "failed"
    assert latest["last_run"]["message"] == result.stderr.removeprefix("l2tui: ").strip()


def test_a_lock_file_that_cannot_be_opened_exits_2_and_is_the_latest_run_failed(
        pair: Pair, run_cli: CliRunner) -> None:
    """A folder in the lock file's place is a setup problem, as a log folder that cannot be
    written is: exit 2, and ``list --json`` gives this run, failed with the message it exited
    with (not the success before it)."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    lock = Runner(resolve_paths()).lock_path(pair.conn)
    lock.unlink()
    lock.mkdir()
    result = run_cli("run", name)
    assert result.returncode == 2, result.stderr
    assert result.stderr == f"l2tui: cannot open the lock file {lock}: Is a directory; " \
        "nothing was run\n"
    [latest] = json.loads(run_cli("list", "--json").stdout)
    assert latest["last_run"]["outcome"] == "failed"
    assert latest["last_run"]["message"] == result.stderr.removeprefix("l2tui: ").strip()


def test_a_symbolic_link_in_place_of_the_lock_file_exits_1_and_is_the_latest_run_failed(
        pair: Pair, run_cli: CliRunner, tmp_path: Path) -> None:
    """Refused as the README says (exit 1, its target not made), and in the history too."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    lock = Runner(resolve_paths()).lock_path(pair.conn)
    lock.unlink()
    lock.symlink_to(tmp_path / "missing" / "x.lock")
    result = run_cli("run", name)
    assert result.returncode == 1, result.stderr
    assert "it is a symbolic link, which l2tui does not follow" in result.stderr
    assert not (tmp_path / "missing").exists()
    [latest] = json.loads(run_cli("list", "--json").stdout)
    assert latest["last_run"]["outcome"] == "failed"
    assert latest["last_run"]["message"] == result.stderr.removeprefix("l2tui: ").strip()


def test_a_state_folder_others_can_write_exits_2_in_one_line_and_runs_nothing(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    pair.paths.state.mkdir(parents=True)
    pair.paths.state.chmod(0o777)
    result = run_cli("run", name)
    assert result.returncode == 2, result.stderr
    assert result.stderr.splitlines() == [
        f"l2tui: the folder {pair.paths.state} can be written by other users, who could change "
        f"l2tui's files in it: chmod 700 {pair.paths.state} (or choose another folder with "
        "$L2TUI_DATA_DIR)"]
    assert pair.right_count() == 0


def test_verify_with_a_cache_folder_others_can_write_exits_2_before_any_sign_in(
        pair: Pair, run_cli: CliRunner) -> None:
    """verify signs in and writes the token cache: its folder is checked as a run's is."""
    name = pair.save()
    pair.paths.cache.mkdir(parents=True)
    pair.paths.cache.chmod(0o777)
    result = run_cli("verify", name)
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"the folder {pair.paths.cache} can be written by other users" in result.stderr


def test_run_after_a_change_of_settings_deletes_what_the_source_deleted_since_the_last_run(
        pair: Pair, run_cli: CliRunner) -> None:
    pair.conn.max_delete_ratio = 0.5
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    for key in sorted(pair.left())[:5]:
        pair.left_delete(key)
    pair.conn.entity1.select += ",name"  # harmless: a column listed twice
    result = run_cli("run", pair.save())
    assert result.returncode == 0, result.stderr
    assert "  Data Entity 2 (right): 0 created, 0 updated, 5 deleted, 0 errors" in result.stdout
    assert "left alone" not in run_cli("run", name, "--full").stdout
    assert pair.right() == pair.left()


def test_sigterm_stops_the_headless_demo_cleanly_as_it_stops_a_run(
        run_cli: CliRunner) -> None:
    """systemctl stop, or a cron timeout, meets the demo's sync: it ends between batches, says
    so, and its history reads cancelled (it was killed, leaving an unfinished run)."""
    proc = subprocess.Popen([sys.executable, "-m", "l2tui", "demo", "--headless", "--rows",
                             "100000"], cwd=str(REPO),
                            env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    assert proc.stderr is not None
    assert proc.stderr.readline().startswith("Emulator: ")  # (the sync begins)
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 1, (proc.returncode, err)
    assert out.startswith("Cancelled: ") and "stopping after the current batch" in err
    [record] = json.loads(run_cli("history", "demo", "--json").stdout)
    assert record["outcome"] == "cancelled"


def refusing_every_insert(pair: Pair) -> str:
    """The pair's connection saved, its SQL table refusing every new row (each an item error,
    a line on stderr)."""
    with pair.engine.begin() as c:
        c.execute(sa.text("CREATE TRIGGER refuse BEFORE INSERT ON accounts "
                          "BEGIN SELECT RAISE(ABORT, 'refused by a trigger'); END"))
    return pair.save()


def run_unread(stream: str, *args: str) -> subprocess.Popen[str]:
    """``l2tui ARGS`` whose ``stream`` (stdout or stderr) no one reads: its reader went away
    before the run began (`2>&1 | head -1`, a journal restarted)."""
    proc = subprocess.Popen([sys.executable, "-m", "l2tui", *args], cwd=str(REPO),
                            env={**os.environ, "PYTHONPATH": str(REPO)}, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    getattr(proc, stream).close()
    proc.communicate(timeout=60)
    return proc


def test_a_run_whose_stderr_no_one_reads_goes_to_its_end(pair: Pair, run_cli: CliRunner) -> None:
    name = refusing_every_insert(pair)
    proc = run_unread("stderr", "run", name)
    assert proc.returncode == 1  # its item errors, not a broken pipe
    [record] = json.loads(run_cli("history", name, "--json").stdout)
    assert (record["outcome"], record["counts"]["errors_right"]) == ("errors", 20)


def test_a_run_whose_summary_no_one_reads_still_exits_as_it_went(
        pair: Pair, run_cli: CliRunner) -> None:
    name = refusing_every_insert(pair)
    assert run_unread("stdout", "run", name).returncode == 1  # (it was 0: `| head` hid the errors)


@pytest.mark.parametrize("stream", ["stdout", "stderr"])
def test_a_run_that_cannot_start_exits_with_its_code_when_no_one_reads_the_error(
        run_cli: CliRunner, stream: str) -> None:
    assert run_unread(stream, "run", "no-such-connection", "--json").returncode == 2


def test_a_run_from_a_crontab_that_closes_stdout_and_stderr_runs(
        pair: Pair, run_cli: CliRunner) -> None:
    """``l2tui run NAME >&- 2>&-``: the output is dropped, not the run."""
    name = pair.save()
    closed = subprocess.run(["sh", "-c", 'exec "$0" -m l2tui run "$1" >&- 2>&-', sys.executable,
                             name], cwd=str(REPO), env={**os.environ, "PYTHONPATH": str(REPO)},
                            timeout=60)
    assert closed.returncode == 0
    [record] = json.loads(run_cli("history", name, "--json").stdout)
    assert record["outcome"] == "success" and pair.right() == pair.left()


def test_a_demo_database_that_cannot_be_replaced_exits_2_naming_it(
        run_cli: CliRunner, isolated_dirs: dict[str, Path]) -> None:
    in_the_way = isolated_dirs["data"] / "demo.db"
    (in_the_way / "x").mkdir(parents=True)  # (read-only folders do not stop root)
    result = run_cli("demo", "--headless", "--rows", "20")
    assert result.returncode == 2
    assert result.stderr.startswith(f"l2tui: cannot replace the demo's database {in_the_way}: ")
    assert "$L2TUI_DATA_DIR" in result.stderr and "unexpected" not in result.stderr


def test_ctrl_c_at_a_script_leaves_the_run_it_started_in_the_background_going(
        pair: Pair) -> None:
    """`l2tui run a & l2tui run b & wait`: the shell starts each ignoring SIGINT."""
    proc = reading_slowly(pair, pair.save(), seconds=1.0, ignoring=signal.SIGINT)
    proc.send_signal(signal.SIGINT)
    out, err = proc.communicate(timeout=60)
    assert proc.returncode == 0, (proc.returncode, err)
    assert out.startswith("Done: ") and pair.right() == pair.left()


def test_a_folder_in_place_of_the_sync_state_is_a_setup_problem_for_run_and_history(
        pair: Pair, run_cli: CliRunner) -> None:
    """As a lock file that cannot be opened: exit 2 naming the file, not 1 (a run that
    failed)."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    for path in state.parent.glob(state.name + "*"):
        path.unlink()
    state.mkdir()
    for command in ("run", "history", "conflicts"):
        result = run_cli(command, name)
        assert (result.returncode, result.stderr) == (
            2, f"l2tui: the sync state {state} cannot be used: Is a directory\n"), command


def test_a_sync_state_that_is_no_database_exits_2_saying_reset_starts_over(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    pair.paths.ensure()
    state = pair.paths.state_db(name)
    state.write_bytes(b"not a database, " * 512)
    result = run_cli("run", name)
    assert (result.returncode, result.stderr) == (
        2, f"l2tui: the sync state {state} cannot be used: file is not a database (l2tui run "
           f"{name} --reset starts over, keeping the old file beside it)\n")
    assert state.read_bytes() == b"not a database, " * 512


def test_a_symbolic_link_in_place_of_the_sync_state_exits_1(
        pair: Pair, run_cli: CliRunner, tmp_path: Path) -> None:
    """Refused as the README says, its target untouched: not a setup problem to fix by hand."""
    name = pair.save()
    pair.paths.ensure()
    state = pair.paths.state_db(name)
    state.symlink_to(tmp_path / "elsewhere.sqlite")
    result = run_cli("run", name)
    assert result.returncode == 1, result.stderr
    assert "it is a symbolic link, which l2tui does not follow" in result.stderr
    assert not (tmp_path / "elsewhere.sqlite").exists()


def test_an_exclude_naming_no_column_names_the_file(pair: Pair, run_cli: CliRunner) -> None:
    pair.conn.mapping.exclude = ["descripton"]
    result = run_cli("run", pair.save())
    assert result.returncode == 2
    assert result.stderr.startswith(f"l2tui: {saved_file(pair)}: mapping.exclude: 'descripton' "
                                    "is a column of neither entity (their columns: accountid, ")
