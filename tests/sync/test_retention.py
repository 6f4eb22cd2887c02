"""A connection run from cron keeps a bounded history: the runs of the last KEEP_DAYS days, and
always its latest KEEP_RUNS, with their conflicts and log files."""

from __future__ import annotations

import os
import time
from pathlib import Path

from l2tui.sync.state import KEEP_DAYS, KEEP_RUNS, StateStore
from tests.sync.support import Pair

DAY = 86400.0


def _runs(state: StateStore, starts: list[float]) -> list[int]:
    """Finished runs that started at ``starts`` (their ids)."""
    ids = []
    for started in starts:
        run = state.start_run(started)
        state.finish_run(run, "success", {}, "", started + 1)
        ids.append(run)
    return ids


def _old_logs(folder: Path, count: int, age_days: float) -> list[str]:
    """Run logs named as the runner names them, last written ``age_days`` ago (oldest first)."""
    folder.mkdir(parents=True, exist_ok=True)
    names = []
    stamp = time.time() - age_days * DAY
    for number in range(count):
        name = time.strftime("%Y%m%d-%H%M%S", time.localtime(stamp + number * 60)) + "-4242.log"
        (folder / name).write_text("run started\n")
        os.utime(folder / name, (stamp, stamp))
        names.append(name)
    return names


def test_a_finished_run_lets_go_of_old_runs_but_the_latest_with_their_conflicts(
        tmp_path: Path) -> None:
    state = StateStore(tmp_path / "s.sqlite")
    now = time.time()
    old = _runs(state, [now - (KEEP_DAYS + 10) * DAY + i for i in range(KEEP_RUNS + 20)])
    state.add_conflicts(old[0], [("k1", "skipped", {"a": 1}, {"a": 2})])
    state.add_conflicts(old[-1], [("k2", "skipped", {"a": 3}, {"a": 4})])
    state.commit()
    [latest] = _runs(state, [now])
    kept = [r.id for r in state.runs(1000)]
    assert kept == list(range(latest, latest - KEEP_RUNS, -1))
    assert [c["key"] for c in state.conflicts()] == ["k2"]
    state.close()


def test_runs_of_the_kept_days_stay_however_many(tmp_path: Path) -> None:
    state = StateStore(tmp_path / "s.sqlite")
    now = time.time()
    ids = _runs(state, [now - (KEEP_DAYS - 1) * DAY + i for i in range(KEEP_RUNS + 20)])
    _runs(state, [now])
    assert len(state.runs(1000)) == len(ids) + 1
    state.close()


def test_a_run_deletes_old_logs_but_the_latest_and_files_it_did_not_name(pair: Pair) -> None:
    folder = pair.paths.run_logs(pair.conn.slug)
    old = _old_logs(folder, KEEP_RUNS + 20, KEEP_DAYS + 10)
    for foreign in ("notes.txt", "mine.log"):
        (folder / foreign).write_text("kept")
        os.utime(folder / foreign, (0, 0))
    pair.run()
    logs = sorted(p.name for p in folder.iterdir() if p.name not in ("notes.txt", "mine.log"))
    new = [name for name in logs if name not in old]
    assert len(new) == 1 and "run finished: success" in (folder / new[0]).read_text()
    assert logs[:-1] == old[-(KEEP_RUNS - 1):]  # the latest, with the new one
    assert (folder / "notes.txt").exists() and (folder / "mine.log").exists()


def test_a_run_keeps_the_logs_of_the_kept_days_however_many(pair: Pair) -> None:
    folder = pair.paths.run_logs(pair.conn.slug)
    old = _old_logs(folder, KEEP_RUNS + 20, KEEP_DAYS - 1)
    pair.run()
    assert len(list(folder.iterdir())) == len(old) + 1
