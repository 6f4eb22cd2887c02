"""``l2tui history``, ``l2tui conflicts`` and ``l2tui list``'s last run: what earlier runs did,
for a person or a script."""

from __future__ import annotations

import fcntl
import json
import os
import sqlite3
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.commands.history import local_time
from l2tui.config.model import ConflictResolution, Direction
from l2tui.runner import Runner
from l2tui.sync.state import StateStore
from tests.conftest import CliRunner
from tests.sync.support import Pair, make_pair, sqlite_url


def in_conflict(emu: Any, tmp_path: Path, resolution: ConflictResolution) -> Pair:
    """A bidirectional pair synced once, then one account's name edited on both sides."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=resolution)
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "left value"})
    pair.right_update(key, {"name": "right value"})
    return pair


def test_history_lists_runs_newest_first_with_what_each_side_got(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    assert run_cli("run", name, "--dry-run").returncode == 0
    result = run_cli("history", name)
    assert result.returncode == 0, result.stderr
    header, rule, newest, oldest = result.stdout.splitlines()
    assert header.split() == ["RUN", "STARTED", "OUTCOME", "SUMMARY"]
    assert newest.split()[0] == "2" and "dry run" in newest
    assert oldest.split()[0] == "1" and "success" in oldest and "right 20 created" in oldest
    assert f"logs: {pair.paths.run_logs(name)}" in result.stderr


def test_history_json_gives_each_run_for_scripts(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    [run] = json.loads(run_cli("history", name, "--json").stdout)
    assert run["run"] == 1 and run["outcome"] == "success"
    assert run["counts"]["created_right"] == 20 and run["seconds"] >= 0
    assert run["started"] <= run["finished"] and run["started"][10] == "T"


def test_history_limit_keeps_the_newest_runs(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    for _ in range(3):
        assert run_cli("run", name).returncode == 0
    runs = json.loads(run_cli("history", name, "--json", "--limit", "2").stdout)
    assert [r["run"] for r in runs] == [3, 2]


def test_history_before_any_run_says_how_to_start_one(pair: Pair, run_cli: CliRunner) -> None:
    result = run_cli("history", pair.save())
    assert result.returncode == 0
    assert f"No runs of '{pair.conn.title}' yet" in result.stdout
    assert f"l2tui run {pair.conn.slug}" in result.stdout


def test_history_of_an_unknown_connection_exits_2(run_cli: CliRunner) -> None:
    result = run_cli("history", "no-such-connection")
    assert result.returncode == 2 and "no-such-connection" in result.stderr
    assert "Traceback" not in result.stderr


def test_a_run_without_an_end_shows_as_running_while_its_lock_is_held(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    runner = Runner(pair.paths)
    state_path = pair.paths.state_db(name)
    pair.paths.ensure()
    state = StateStore(state_path)
    state.start_run()  # a run that has started and not ended (killed, or going on)
    state.close()
    assert json.loads(run_cli("history", name, "--json").stdout)[0]["outcome"] == "unfinished"
    fd = os.open(runner.lock_path(pair.conn), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242", 0)
        result = run_cli("history", name)
    finally:
        os.close(fd)
    assert "running (PID 4242)" in result.stdout


def test_conflicts_show_the_item_the_policy_and_the_values_that_differ(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.RIGHT_WINS)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    result = run_cli("conflicts", name)
    assert result.returncode == 0, result.stderr
    head, *values = result.stdout.splitlines()
    assert head.startswith("run 2, ") and head.endswith("Data Entity 2 (right) won")
    assert values == ['  name: left "left value", right "right value"']


def test_a_conflict_whose_winning_write_keeps_failing_shows_once_as_not_settled(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.LEFT_WINS)
    with pair.engine.begin() as c:  # the right refuses the left's winning value
        c.exec_driver_sql(f"CREATE TRIGGER refuse BEFORE UPDATE ON {pair.table.name} WHEN "
                          "NEW.name = 'left value' BEGIN SELECT RAISE(ABORT, 'no'); END")
    name = pair.save()
    assert run_cli("run", name).returncode == 1
    assert run_cli("run", name).returncode == 1
    result = run_cli("conflicts", name)
    assert result.returncode == 0, result.stderr
    head, *values = result.stdout.splitlines()
    assert head.startswith("run 2, ") and head.endswith(
        "Data Entity 1 (left) won, but its write was not made: not settled (the next run writes "
        "it again)")
    assert values == ['  name: left "left value", right "right value"']


def test_a_skipped_conflict_whose_sides_are_made_alike_reads_settled_by_the_run_that_found_it(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.SKIP)
    name = pair.save()
    assert run_cli("run", name).returncode == 1  # run 2: skipped
    assert run_cli("run", name).returncode == 1  # run 3: skipped again, recorded again
    key = next(iter(pair.left()))
    pair.right_update(key, {"name": "left value"})  # the user makes the sides agree
    result = run_cli("run", name, "--json")
    assert result.returncode == 0, result.stdout
    assert json.loads(result.stdout)["details"]["unresolved"] == 0
    heads = [line for line in run_cli("conflicts", name).stdout.splitlines()
             if line.startswith("run ")]
    assert [h.split(",")[0] for h in heads] == ["run 2", "run 3"]
    assert all(h.endswith(": skipped: both kept; settled by run 4") for h in heads), heads
    listed = json.loads(run_cli("conflicts", name, "--json").stdout)
    assert [(c["resolution"], c["settled"], c["settled_by"]) for c in listed] == \
        [("skipped", True, 4)] * 2
    assert listed[0]["right"]["name"] == "right value"  # (what run 2 met stays recorded)


def test_a_failed_winning_write_made_by_a_later_run_reads_settled_by_that_run(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.LEFT_WINS)
    with pair.engine.begin() as c:  # the right refuses the left's winning value, once
        c.exec_driver_sql(f"CREATE TRIGGER refuse BEFORE UPDATE ON {pair.table.name} WHEN "
                          "NEW.name = 'left value' BEGIN SELECT RAISE(ABORT, 'no'); END")
    name = pair.save()
    assert run_cli("run", name).returncode == 1  # run 2
    with pair.engine.begin() as c:
        c.exec_driver_sql("DROP TRIGGER refuse")
    assert run_cli("run", name).returncode == 0  # run 3 makes the write
    head, *values = run_cli("conflicts", name).stdout.splitlines()
    assert head.startswith("run 2, ") and head.endswith(
        "Data Entity 1 (left) won, but its write was not made; settled by run 3"), head
    assert values == ['  name: left "left value", right "right value"']


def test_conflicts_of_a_state_older_than_settling_read_as_recorded_then_upgrade(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.SKIP)
    name = pair.save()
    assert run_cli("run", name).returncode == 1  # run 2: skipped
    with sqlite3.connect(pair.paths.state_db(pair.conn.slug)) as db:  # (an older l2tui's)
        db.execute("ALTER TABLE conflicts DROP COLUMN settled")
    [listed] = json.loads(run_cli("conflicts", name, "--json").stdout)
    assert (listed["settled"], listed["settled_by"]) == (False, None)
    key = next(iter(pair.left()))
    pair.right_update(key, {"name": "left value"})
    assert run_cli("run", name).returncode == 0  # run 3: upgrades the state, settles it
    [listed] = json.loads(run_cli("conflicts", name, "--json").stdout)
    assert (listed["settled"], listed["settled_by"]) == (True, 3)


def test_conflicts_show_the_edited_values_a_deletion_won_over(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=ConflictResolution.RIGHT_WINS)
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"name": "edited in Dataverse ✓"})
    pair.right_delete(key)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    _, gone, values = run_cli("conflicts", name).stdout.splitlines()
    assert gone == "  deleted on Data Entity 2 (right); the other side edited it"
    assert values.startswith('  left: {"name": "edited in Dataverse ✓", ')


def test_conflicts_json_gives_both_sides_values(emu: Any, tmp_path: Path,
                                                run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.SKIP)
    name = pair.save()
    assert run_cli("run", name).returncode == 1  # an unresolved conflict
    [conflict] = json.loads(run_cli("conflicts", name, "--json", "--run", "2").stdout)
    assert conflict["resolution"] == "skipped"
    assert (conflict["left"]["name"], conflict["right"]["name"]) == ("left value", "right value")


def numbers_in_conflict(emu: Any, tmp_path: Path) -> Pair:
    """A bidirectional pair synced once, then one account's revenue and employees edited on
    both sides (right wins)."""
    pair = make_pair(emu, sqlite_url(tmp_path / "r.db"), "accounts",
                     direction=Direction.BIDIRECTIONAL, resolution=ConflictResolution.RIGHT_WINS)
    pair.run()
    key = next(iter(pair.left()))
    pair.left_update(key, {"revenue": 123456789012.3456, "numberofemployees": 14220})
    pair.right_update(key, {"revenue": Decimal("12.5"), "numberofemployees": 7})
    return pair


def test_conflicts_json_gives_numbers_as_exact_json_numbers(emu: Any, tmp_path: Path,
                                                           run_cli: CliRunner) -> None:
    pair = numbers_in_conflict(emu, tmp_path)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    [conflict] = json.loads(run_cli("conflicts", name, "--json").stdout, parse_float=Decimal)
    assert conflict["left"]["numberofemployees"] == 14220
    assert conflict["left"]["revenue"] == Decimal("123456789012.3456")
    assert (conflict["right"]["numberofemployees"], conflict["right"]["revenue"]) == \
        (7, Decimal("12.5"))


def test_conflicts_show_numbers_as_numbers_not_as_text(emu: Any, tmp_path: Path,
                                                       run_cli: CliRunner) -> None:
    pair = numbers_in_conflict(emu, tmp_path)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    _, *values = run_cli("conflicts", name).stdout.splitlines()
    assert values == ["  revenue: left 123456789012.3456, right 12.5",
                      "  numberofemployees: left 14220, right 7"]


def test_conflicts_of_a_run_without_any_say_so(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    result = run_cli("conflicts", name, "--run", "1")
    assert result.returncode == 0
    assert result.stdout.strip() == f"No conflicts recorded for run 1 of '{pair.conn.title}'."


def test_conflicts_of_a_run_not_in_the_history_exit_2_naming_the_latest_run(
        pair: Pair, run_cli: CliRunner) -> None:
    name, title = pair.save(), pair.conn.title
    before = run_cli("conflicts", name, "--run", "1")
    assert before.returncode == 2 and before.stdout == ""
    assert before.stderr == f"l2tui: no run 1 of '{title}' (it has not run yet)\n"
    assert run_cli("run", name).returncode == 0
    after = run_cli("conflicts", name, "--run", "999")
    assert after.returncode == 2 and after.stdout == ""
    assert after.stderr == (f"l2tui: no run 999 of '{title}' (its latest run is 1; see l2tui "
                            f"history {pair.conn.slug})\n")


def test_a_run_number_too_large_for_sqlite_is_a_run_not_in_the_history(
        pair: Pair, run_cli: CliRunner) -> None:
    name, title = pair.save(), pair.conn.title
    assert run_cli("run", name).returncode == 0
    result = run_cli("conflicts", name, "--run", "99999999999999999999")
    assert result.returncode == 2 and result.stdout == ""
    assert result.stderr == (f"l2tui: no run 99999999999999999999 of '{title}' (its latest run "
                             f"is 1; see l2tui history {pair.conn.slug})\n")


def test_a_history_limit_too_large_for_sqlite_shows_every_run(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    for _ in range(2):
        assert run_cli("run", name).returncode == 0
    result = run_cli("history", name, "--json", "--limit", "99999999999999999999")
    assert result.returncode == 0, result.stderr
    assert [r["run"] for r in json.loads(result.stdout)] == [2, 1]

@pytest.mark.parametrize("command", ["history", "conflicts"])
def test_history_and_conflicts_json_answer_an_unknown_connection_on_stdout_as_run_does(
        run_cli: CliRunner, command: str) -> None:
    result = run_cli(command, "no-such-connection", "--json")
    assert result.returncode == 2
    answer = json.loads(result.stdout)
    assert answer["ok"] is False and answer["exit_code"] == 2
    assert answer["connection"] == "no-such-connection"
    assert answer["message"] == result.stderr.removeprefix("l2tui: ").strip()


def test_conflicts_json_answers_a_run_not_in_the_history_on_stdout(pair: Pair,
                                                                   run_cli: CliRunner) -> None:
    result = run_cli("conflicts", pair.save(), "--run", "9", "--json")
    assert result.returncode == 2
    answer = json.loads(result.stdout)
    assert (answer["ok"], answer["exit_code"], answer["connection"]) == (False, 2, pair.conn.title)
    assert answer["message"] == f"no run 9 of '{pair.conn.title}' (it has not run yet)"


def test_history_piped_to_a_file_keeps_whole_lines(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.synced_then_emptied(run_cli)
    assert run_cli("run", name).returncode == 1  # the deletion guard: a long message
    newest = run_cli("history", name).stdout.splitlines()[2]
    assert "failed" in newest and "(check the select, or run with --force) — left " in newest
    assert newest.endswith("s") and "…" not in newest  # (its counts, after why, whole too)


def test_a_latest_wins_conflict_says_the_rule_and_the_side_kept_not_the_outcome_code(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    """``right_wins``/``left_wins`` read as if they were the rule; the line says the rule and
    which side's values were kept, in the run's output, its log and ``l2tui conflicts``."""
    pair = in_conflict(emu, tmp_path, ConflictResolution.LATEST_WINS)
    name = pair.save()
    result = run_cli("run", name)
    assert result.returncode == 0, result.stderr
    line = "latest wins, the left's values kept — name: 'left value' (left) ≠ 'right value' " \
        "(right)"  # (the SQLite side has no modified-on column: the left wins)
    assert line in result.stderr and "left_wins" not in result.stderr
    assert any(line in log.read_text()
               for log in pair.paths.run_logs(pair.conn.slug).glob("*.log"))
    head = run_cli("conflicts", name).stdout.splitlines()[0]
    assert head.endswith(": latest wins, Data Entity 1 (left) won"), head
    [listed] = json.loads(run_cli("conflicts", name, "--json").stdout)
    assert (listed["resolution"], listed["policy"]) == ("left_wins", "latest_wins")


def test_conflicts_of_a_state_older_than_the_rule_read_without_it(
        emu: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.LEFT_WINS)
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    with sqlite3.connect(pair.paths.state_db(pair.conn.slug)) as db:  # (an older l2tui's)
        db.execute("ALTER TABLE conflicts DROP COLUMN policy")
    [listed] = json.loads(run_cli("conflicts", name, "--json").stdout)
    assert (listed["resolution"], listed["policy"]) == ("left_wins", None)
    head = run_cli("conflicts", name).stdout.splitlines()[0]
    assert head.endswith(f"{next(iter(pair.left()))}: Data Entity 1 (left) won"), head


def test_run_prints_a_conflict_with_what_differs(emu: Any, tmp_path: Path,
                                                 run_cli: CliRunner) -> None:
    pair = in_conflict(emu, tmp_path, ConflictResolution.LEFT_WINS)
    result = run_cli("run", pair.save())
    assert result.returncode == 0, result.stderr
    assert "left wins, the left's values kept — name: 'left value' (left) ≠ 'right value' " \
        "(right)" in result.stderr
    logs = pair.paths.run_logs(pair.conn.slug).glob("*.log")
    assert any("name: 'left value' (left) ≠ 'right value' (right)" in log.read_text()
               for log in logs)


def test_a_run_in_the_history_starts_and_ends_when_its_report_says(pair: Pair) -> None:
    report = pair.run()
    [record] = Runner(pair.paths).history(pair.conn)
    assert (record.started, record.finished) == (report.started, report.finished)


def test_history_names_the_target_rows_a_run_left_alone(pair: Pair, run_cli: CliRunner) -> None:
    pair.right_insert({"name": "only here"})
    pair.run()
    newest = run_cli("history", pair.save()).stdout.splitlines()[2]
    assert newest.endswith("s; 1 only on the right, left alone")


def test_a_dry_run_whose_plan_holds_item_errors_says_how_many_in_the_history(
        pair: Pair, run_cli: CliRunner) -> None:
    """A row that cannot be read (a SQLite boolean 'maybe') is in the plan's line, as a run's
    errors are in its line: the dry run exited 1 for it."""
    pair.conn.direction = Direction.BIDIRECTIONAL
    name = pair.save()
    key = pair.right_insert({"name": "unsure"})
    with pair.engine.begin() as c:
        c.execute(sa.text("UPDATE accounts SET creditonhold = 'maybe' WHERE accountid = :k"),
                  {"k": key})
    assert run_cli("run", name, "--dry-run").returncode == 1
    newest = run_cli("history", name).stdout.splitlines()[2]
    assert newest.endswith("dry run  plan — right: 20 to create, 0 to update, 0 to delete; "
                           "0 unchanged; 1 error"), newest


def test_a_dry_run_past_the_deletion_guard_reads_in_the_history_as_refused(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.synced_then_emptied(run_cli)
    pair.run(dry_run=True)
    newest = run_cli("history", name).stdout.splitlines()[2]
    assert newest.endswith("20 to delete; 0 unchanged — a real run would refuse to delete 20 of "
                           "the 20 synced items on the right (100%), more than max_delete_ratio "
                           "20%; run it with --force")


def test_list_shows_each_connections_last_run(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    before = run_cli("list").stdout.splitlines()
    assert "LAST RUN" in before[0] and "never" in before[1]
    assert run_cli("run", name).returncode == 0
    header, line = run_cli("list").stdout.splitlines()
    started = Runner(pair.paths).history(pair.conn, 1)[0].started
    assert f"{local_time(started)} success" in line and line.endswith(f"{name}.toml")


def test_list_shows_the_last_run_cron_made_not_a_dry_run_after_it(
        pair: Pair, run_cli: CliRunner) -> None:
    """A monitor reads list --json: a person's look with --dry-run does not hide a failure."""
    good = pair.conn.entity1.select
    pair.conn.entity1.select += ",nosuchcolumn"
    name = pair.save()
    assert run_cli("run", name).returncode == 2
    pair.conn.entity1.select = good
    pair.save()
    assert run_cli("run", name, "--dry-run").returncode == 0
    [listed] = json.loads(run_cli("list", "--json").stdout)
    assert listed["last_run"]["run"] == 1 and listed["last_run"]["outcome"] == "failed"
    assert "failed" in run_cli("list").stdout.splitlines()[1]


def test_list_json_gives_each_connection_and_its_last_run_for_scripts(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    [never] = json.loads(run_cli("list", "--json").stdout)
    assert never["last_run"] is None and never["name"] == name
    assert run_cli("run", name).returncode == 0
    result = run_cli("list", "--json")
    assert result.returncode == 0, result.stderr
    [listed] = json.loads(result.stdout)
    assert listed["title"] == pair.conn.title and listed["file"] == str(pair.conn.path)
    assert listed["direction"] == pair.conn.direction.value
    assert (listed["entity1"], listed["entity2"]) == ("odata", "sqlite")
    # the latest run as ``history --json`` gives it
    assert listed["last_run"] == json.loads(run_cli("history", name, "--json").stdout)[0]
    assert listed["last_run"]["outcome"] == "success"


def test_list_json_names_a_connection_whose_state_cannot_be_read(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    pair.paths.ensure()
    pair.paths.state_db(name).write_bytes(b"not a database, " * 512)
    result = run_cli("list", "--json")
    [listed] = json.loads(result.stdout)
    assert listed["last_run"] is None and listed["state_error"]
    assert str(pair.paths.state_db(name)) in listed["state_error"]
    assert "(sync state unreadable)" in run_cli("list").stdout


def test_history_json_names_each_runs_own_log_file(pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    assert run_cli("run", name, "--dry-run").returncode == 0
    dry, real = json.loads(run_cli("history", name, "--json").stdout)
    logs = [Path(dry["log"]), Path(real["log"])]
    assert logs[0] != logs[1] and all(log.parent == pair.paths.run_logs(name) for log in logs)
    assert "dry run" in logs[0].read_text() and "run finished: success" in logs[1].read_text()


def test_a_state_from_before_runs_named_their_logs_or_dry_runs_keeps_its_history(
        pair: Pair) -> None:
    import sqlite3

    pair.run()
    path = pair.paths.state_db(pair.conn.slug)
    with sqlite3.connect(path) as db:  # (as a state written before the columns were there)
        db.execute("ALTER TABLE runs DROP COLUMN log")
        db.execute("ALTER TABLE runs DROP COLUMN dry")
    [old] = Runner(pair.paths).history(pair.conn)
    assert old.log is None and old.outcome == "success"
    pair.run()
    new, again = Runner(pair.paths).history(pair.conn)
    assert new.log is not None and (pair.paths.run_logs(pair.conn.slug) / new.log).exists()
    assert again.id == old.id and again.log is None


def sqlite_file(folder: Path, title: str) -> Path:
    """A connection file ``base.toml`` in ``folder``: one row of its own SQLite table to copy."""
    import sqlite3

    folder.mkdir(parents=True, exist_ok=True)
    for side, rows in (("left", [(1, title)]), ("right", [])):
        with sqlite3.connect(folder / f"{side}.db") as db:
            db.execute("CREATE TABLE t (id INTEGER PRIMARY KEY, name TEXT)")
            db.executemany("INSERT INTO t VALUES (?, ?)", rows)
    path = folder / "base.toml"
    path.write_text("\n".join([f'title = "{title}"', *(
        f'[entity{i}]\nprovider = "sqlite"\nconnection_string = "Data Source={folder / side}.db"\n'
        'select = "t"\nprimary_key = ["id"]' for i, side in ((1, "left"), (2, "right")))]))
    return path


def runs_of(run_cli: CliRunner, name: str) -> list[dict[str, Any]]:
    """``l2tui history NAME --json``."""
    result = run_cli("history", name, "--json")
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)  # type: ignore[no-any-return]


def test_two_files_of_one_name_in_two_folders_keep_separate_histories(
        run_cli: CliRunner, tmp_path: Path) -> None:
    one, two = sqlite_file(tmp_path / "one", "One"), sqlite_file(tmp_path / "two", "Two")
    for path in (one, two):
        result = run_cli("run", str(path))
        assert result.returncode == 0, result.stderr
    for path in (one, two):
        [run] = runs_of(run_cli, str(path))
        assert run["outcome"] == "success" and run["counts"]["created_right"] == 1
    assert Path(runs_of(run_cli, str(one))[0]["log"]).parent != \
        Path(runs_of(run_cli, str(two))[0]["log"]).parent


def test_a_path_file_named_like_a_configured_connection_leaves_its_state_alone(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    sqlite_file(config_dir, "Configured")
    other = sqlite_file(tmp_path / "other", "Other")
    assert run_cli("run", "base").returncode == 0
    first = runs_of(run_cli, "base")
    before = run_cli("history", str(other))
    assert f"l2tui run {other}" in before.stdout  # (not the slug, which names no file)
    assert run_cli("run", str(other)).returncode == 0
    assert run_cli("run", str(other)).returncode == 0
    assert len(runs_of(run_cli, str(other))) == 2
    assert runs_of(run_cli, "base") == first
    assert runs_of(run_cli, str(config_dir / "base.toml")) == first  # a path into the folder
    assert json.loads(run_cli("conflicts", str(other), "--json").stdout) == []


def test_history_where_the_data_folder_is_a_file_exits_2_as_a_run_there_does(
        pair: Pair, run_cli: CliRunner, tmp_path: Path) -> None:
    """A setup problem, said in one line (no unexpected error), not 'No runs yet'."""
    name = pair.save()
    taken = tmp_path / "a-file"
    taken.write_text("")
    result = run_cli("history", name, env={"L2TUI_DATA_DIR": str(taken)})
    assert result.returncode == 2, result.stderr
    assert result.stderr == (f"l2tui: the sync state {taken / 'state' / name}.sqlite cannot be "
                             "used: Not a directory\n")
    assert run_cli("run", name, env={"L2TUI_DATA_DIR": str(taken)}).returncode == 2


def test_a_dry_run_that_failed_reads_as_a_dry_run_in_the_history(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    pair.emu.stop()  # (the service gone: the dry run cannot read it)
    assert run_cli("run", name, "--dry-run").returncode == 3
    newest, oldest = json.loads(run_cli("history", name, "--json").stdout)
    assert (newest["outcome"], newest["dry_run"]) == ("failed", True)
    assert (oldest["outcome"], oldest["dry_run"]) == ("success", False)
    lines = run_cli("history", name).stdout.splitlines()
    assert "failed (dry run)" in lines[2] and "dry run" not in lines[3]


def test_history_json_gives_a_run_that_could_not_reach_a_side_the_same_counts_as_any_run(
        pair: Pair, run_cli: CliRunner) -> None:
    """A monitor reads counts["errors_right"] of the latest run: the run cron made while the
    service was down has it too (zero: nothing was written), not an empty object."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    pair.emu.stop()
    assert run_cli("run", name).returncode == 3
    failed, done = json.loads(run_cli("history", name, "--json").stdout)
    assert failed["outcome"] == "failed"
    assert failed["counts"] == dict.fromkeys(done["counts"], 0)


def test_history_json_gives_a_run_going_on_as_running_with_its_pid_apart(
        pair: Pair, run_cli: CliRunner) -> None:
    """A script compares the outcome with a few words ("running", "success", …): the process
    is a number of its own, as the lock holds it."""
    name = pair.save()
    pair.paths.ensure()
    state = StateStore(pair.paths.state_db(name))
    state.start_run()  # a run that has started and not ended
    state.close()
    fd = os.open(Runner(pair.paths).lock_path(pair.conn), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.pwrite(fd, b"4242", 0)
        [run] = json.loads(run_cli("history", name, "--json").stdout)
        [listed] = json.loads(run_cli("list", "--json").stdout)
    finally:
        os.close(fd)
    assert run["outcome"] == "running"
    assert run["pid"] == 4242 and listed["last_run"] == run


def test_conflicts_of_a_dry_run_say_a_dry_run_keeps_none(pair: Pair,
                                                          run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name, "--dry-run").returncode == 0
    result = run_cli("conflicts", name, "--run", "1")
    assert result.returncode == 0
    assert result.stdout.strip() == (
        f"No conflicts recorded for run 1 of '{pair.conn.title}': a dry run keeps none (its "
        f"output showed them; l2tui run {pair.conn.argument} --dry-run shows them again).")


def test_a_file_in_place_of_the_state_folder_is_not_a_history_without_runs(
        pair: Pair, run_cli: CliRunner) -> None:
    """A run exits 2 there; history, conflicts and list say why rather than 'No runs yet' (exit
    0) and 'never', which a monitoring script would take for a connection never run."""
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    state.parent.rename(state.parent.with_name("state.moved"))
    state.parent.write_text("a file where the folder should be")
    for command in ("history", "conflicts"):
        result = run_cli(command, name)
        assert (result.returncode, result.stderr) == (
            2, f"l2tui: the sync state {state} cannot be used: Not a directory\n"), command
    [listed] = json.loads(run_cli("list", "--json").stdout)
    assert listed["last_run"] is None and str(state) in listed["state_error"]


def test_history_and_conflicts_of_a_file_broken_since_show_its_runs_and_say_what_is_wrong(
        pair: Pair, run_cli: CliRunner) -> None:
    name = pair.save()
    assert run_cli("run", name).returncode == 0
    path = pair.paths.connections / f"{name}.toml"
    path.write_text(path.read_text() + "direction = = \n")  # (a slip made while editing it)
    assert run_cli("run", name).returncode == 2
    result = run_cli("history", name)
    assert result.returncode == 0, result.stderr
    assert "success" in result.stdout.splitlines()[2]
    assert result.stderr.startswith(f"l2tui: {path}:")
    assert "not valid TOML" in result.stderr and "shown all the same" in result.stderr
    conflicts = run_cli("conflicts", name, "--json")
    assert conflicts.returncode == 0 and json.loads(conflicts.stdout) == []
    assert "shown all the same" in conflicts.stderr
