"""``l2tui run`` and ``l2tui demo --headless`` as a script uses them."""

from __future__ import annotations

import json
from typing import Any

from l2tui.config.store import ConnectionStore
from tests.conftest import CliRunner
from tests.sync.support import Pair


def save(pair: Pair) -> str:
    ConnectionStore(pair.paths.connections).save(pair.conn)
    return pair.conn.slug


def test_run_prints_a_summary_and_exits_0(pair: Pair, run_cli: CliRunner) -> None:
    result = run_cli("run", save(pair))
    assert result.returncode == 0, result.stderr
    assert "20 created" in result.stdout


def test_run_json_prints_the_report_for_scripts(pair: Pair, run_cli: CliRunner) -> None:
    result = run_cli("run", save(pair), "--json")
    report = json.loads(result.stdout)
    assert report["outcome"] == "success" and report["created_right"] == 20


def test_dry_run_writes_nothing(pair: Pair, run_cli: CliRunner) -> None:
    result = run_cli("run", save(pair), "--dry-run")
    assert result.returncode == 0 and "would be created" in result.stdout
    assert pair.right_count() == 0


def test_the_deletion_guard_exits_1_with_one_line(pair: Pair, run_cli: CliRunner,
                                                  emu: Any) -> None:
    pair.conn.max_delete_ratio = 0.2
    name = save(pair)
    assert run_cli("run", name).returncode == 0
    for key in list(pair.left()):
        pair.left_delete(key)
    result = run_cli("run", name)
    assert result.returncode == 1 and "max_delete_ratio" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    assert pair.right_count() == 20


def test_reset_without_a_terminal_needs_yes(pair: Pair, run_cli: CliRunner) -> None:
    name = save(pair)
    assert run_cli("run", name, "--reset").returncode == 2
    assert run_cli("run", name, "--reset", "--yes").returncode == 0


def test_an_unknown_connection_exits_2(run_cli: CliRunner) -> None:
    assert run_cli("run", "no-such-connection").returncode == 2


def test_demo_headless_syncs_the_emulator_into_sqlite(run_cli: CliRunner) -> None:
    result = run_cli("demo", "--headless", "--rows", "50")
    assert result.returncode == 0, result.stderr
    assert "50 created" in result.stdout
    again = run_cli("demo", "--headless", "--rows", "50")
    assert again.returncode == 0 and "0 created" in again.stdout
