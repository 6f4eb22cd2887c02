"""Sync benchmarks: first one-way run vs a floor, incremental runs, memory, bidirectional.

A run's long Dynamics reads decode in a second process (l2tui.offload): its CPU and peak memory
are counted with the run's.

Run with ``bench/run`` (or ``python bench/bench_sync.py [--rows 100000]``). Prints ratios.
The emulator runs in its own process, so it does not share the sync's interpreter.
"""

from __future__ import annotations

import argparse
import compileall
import hashlib
import json
import os
import random
import shutil
import socket
import sqlite3
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import requests

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

SELECT = "$select=accountid,name,accountnumber,revenue,numberofemployees,statecode,telephone1," \
         "address1_city,creditonhold,description,modifiedon"
COLUMNS = SELECT.split("=", 1)[1].split(",")
# the active accounts alone: Dataverse refuses change tracking with a $filter, so each run of
# this select reads every row (keys and ETags first, then the rows not seen, by key)
FILTERED = SELECT + "&$filter=statecode eq 0"


def free_port() -> int:
    """A free TCP port on 127.0.0.1."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class EmulatorProcess:
    """``l2tui emulator`` in a subprocess."""

    def __init__(self, rows: int) -> None:
        self.port = free_port()
        env = {**os.environ, "PYTHONPATH": str(REPO)}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "l2tui", "emulator", "--rows", str(rows), "--no-auth",
             "--port", str(self.port)], env=env, stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL)
        self.base = f"http://127.0.0.1:{self.port}/api/data/v9.2/"
        for _ in range(600):
            try:
                requests.get(self.base, timeout=1)
                return
            except requests.ConnectionError:
                time.sleep(0.1)
        raise RuntimeError("the emulator did not start")

    def stop(self) -> None:
        """Stop the emulator."""
        self.proc.terminate()
        self.proc.wait()


def floor(base: str, folder: Path, cpu: list[float] | None = None) -> float:
    """Plain requests paging plus one executemany into SQLite (its CPU seconds go to ``cpu``)."""
    start, start_cpu = time.perf_counter(), time.process_time()
    session = requests.Session()
    url: str | None = f"{base}accounts?{SELECT}"
    rows: list[tuple[Any, ...]] = []
    while url:
        data = session.get(url, headers={"Prefer": "odata.maxpagesize=5000"}).json()
        rows.extend(tuple(r.get(c) for c in COLUMNS) for r in data["value"])
        url = data.get("@odata.nextLink")
    db = sqlite3.connect(folder / "floor.db")
    db.execute(f"CREATE TABLE accounts ({', '.join(COLUMNS)}, PRIMARY KEY (accountid))")
    db.executemany(f"INSERT INTO accounts VALUES ({', '.join('?' * len(COLUMNS))})", rows)
    db.commit()
    if cpu is not None:
        cpu.append(time.process_time() - start_cpu)
    return time.perf_counter() - start


def read_floor(base: str) -> float:
    """A full read's floor: plain requests paging through every row with change tracking asked
    for (as a run whose cursor was dropped reads, to get a new one), each page decoded, nothing
    else done (timed)."""
    start = time.perf_counter()
    session = requests.Session()
    url: str | None = f"{base}accounts?{SELECT}"
    while url:
        data = session.get(url, headers={"Prefer": "odata.maxpagesize=5000,odata.track-changes"}
                           ).json()
        url = data.get("@odata.nextLink")
    return time.perf_counter() - start


CHILD = r"""
import json, os, resource, sys, time
sys.path.insert(0, sys.argv[1])
from l2tui.config.model import Connection, Direction, Entity
from l2tui.paths import Paths
from l2tui.providers import open_entity
from l2tui.runner import Runner
from l2tui.sync.state import StateStore
spec = json.loads(sys.argv[2])
folder = spec["folder"]
from pathlib import Path
paths = Paths(config=Path(folder) / "c", state=Path(folder) / "s", logs=Path(folder) / "l",
              cache=Path(folder) / "k")
conn = Connection(
    title="bench", direction=Direction(spec["direction"]), max_delete_ratio=1.0,
    entity1=Entity(provider="odata", connection_string=f"URL={spec['base']}accounts;Authentication=none;",
                   select=spec["select"]),
    entity2=Entity(provider="sqlite", connection_string=f"Data Source={folder}/sync.db;",
                   select="accounts", primary_key=["accountid"]))
if spec.get("create"):
    left = open_entity(conn, 1, paths)
    right = open_entity(conn, 2, paths)
    right.create_table(left.describe())
if spec.get("no_delta"):
    state = StateStore(paths.state_db(conn.slug)); state.put("cursor.left", None); state.close()
# import the providers' modules before the clock starts, in every run alike (the first run's
# create_table did so already; the others paid ~0.5-1 s of imports inside their time), with
# the provider declarations the run checks the connection against and the module requests
# loads at its first request (~10 ms more that only the runs after the first paid)
import l2tui.providers.odata.provider, l2tui.providers.sql.provider  # noqa: E401,F401
import l2tui.config.specs.odata, l2tui.config.specs.sql, netrc  # noqa: E401,F401
start, start_cpu = time.perf_counter(), time.process_time()
report = Runner(paths).run(conn)
seconds, run_cpu = time.perf_counter() - start, time.process_time() - start_cpu
usage = resource.getrusage(resource.RUSAGE_SELF)
# a long read decodes in a second process (l2tui.offload): its CPU and peak memory count too
helper = resource.getrusage(resource.RUSAGE_CHILDREN)
# the peak of this process's own memory: on Linux ru_maxrss also holds the resident set of the
# process that spawned it (the bench, holding the floor's rows) from before exec; VmHWM does not
peak_kb = usage.ru_maxrss
if os.path.exists("/proc/self/status"):
    with open("/proc/self/status") as status:
        peak_kb = next((int(line.split()[1]) for line in status if line.startswith("VmHWM:")),
                       peak_kb)
print(json.dumps({"seconds": seconds, "maxrss_kb": peak_kb + helper.ru_maxrss,
                  "run_cpu": run_cpu, "helper_cpu": helper.ru_utime + helper.ru_stime,
                  "helper_kb": helper.ru_maxrss,
                  "cpu": usage.ru_utime + usage.ru_stime,
                  "message": report.message, "outcome": report.outcome}))
"""


def sync(base: str, folder: Path, **spec: Any) -> dict[str, Any]:
    """One run in a child process (its own peak memory)."""
    args = {"base": base, "folder": str(folder), "select": SELECT,
            "direction": "left_to_right", **spec}
    out = subprocess.run([sys.executable, "-c", CHILD, str(REPO), json.dumps(args)],
                         capture_output=True, text=True, check=True)
    result: dict[str, Any] = json.loads(out.stdout.strip().splitlines()[-1])
    if result["outcome"] != "success":
        raise RuntimeError(result["message"])
    return result


def first_sync_seconds(base: str, folder: Path, **spec: Any) -> float:
    """The time of a first sync into a fresh folder (a reference for the run after it)."""
    folder.mkdir()
    seconds = float(sync(base, folder, create=True, **spec)["seconds"])
    shutil.rmtree(folder)
    return seconds


def delta_floor(folder: Path) -> float:
    """A change-tracking run's floor, as ``floor`` is the first sync's: the plain steps of one in
    a straight line, on ``folder``'s connection (timed). One delta GET, one executemany of
    UPDATEs into SQLite and its commit, one of the state's pairs and the cursor, committed, and
    the state's WAL synced, as a run leaves it. Nothing is checked, normalised or compared."""
    state_path = folder / "s" / "bench.sqlite"
    with sqlite3.connect(state_path) as db:  # (the WAL the last run left: checkpointed first)
        db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    os.sync()  # (a copied folder's pages written out first: a commit's fsync would write them)
    start = time.perf_counter()
    state = sqlite3.connect(state_path, isolation_level=None)
    state.execute("PRAGMA synchronous=NORMAL")
    cursor = state.execute("SELECT value FROM meta WHERE name = 'cursor.left'").fetchone()[0]
    body = requests.get(cursor, headers={"Prefer": "odata.maxpagesize=5000,odata.track-changes"}
                        ).json()
    rows = [r for r in body["value"] if "@removed" not in r]
    target = sqlite3.connect(folder / "sync.db", isolation_level=None)
    target.execute("BEGIN")
    target.executemany(f"UPDATE accounts SET {', '.join(c + ' = ?' for c in COLUMNS[1:])} "
                       "WHERE accountid = ?",
                       [tuple(r.get(c) for c in COLUMNS[1:]) + (r["accountid"],) for r in rows])
    target.execute("COMMIT")
    target.close()
    state.execute("BEGIN")
    state.executemany("UPDATE items SET hash = ?, lver = ? WHERE mkey = ?",
                      [(hashlib.blake2b(repr(r).encode(), digest_size=12).hexdigest(),
                        r.get("@odata.etag"), json.dumps([r["accountid"]])) for r in rows])
    state.execute("UPDATE meta SET value = ? WHERE name = 'cursor.left'",
                  (body["@odata.deltaLink"],))
    state.execute("COMMIT")
    wal = os.open(f"{state_path}-wal", os.O_RDONLY)
    os.fsync(wal)
    os.close(wal)
    seconds = time.perf_counter() - start
    state.close()
    return seconds


def change_left(base: str, share: float, seed: int) -> None:
    """Edit a share of the emulator's accounts through the Web API."""
    session = requests.Session()
    url: str | None = f"{base}accounts?$select=accountid"
    ids: list[str] = []
    while url:
        data = session.get(url, headers={"Prefer": "odata.maxpagesize=5000"}).json()
        ids.extend(r["accountid"] for r in data["value"])
        url = data.get("@odata.nextLink")
    rng = random.Random(seed)
    for guid in rng.sample(ids, int(len(ids) * share)):
        session.patch(f"{base}accounts({guid})", json={"name": f"changed {rng.random():.6f}"},
                      headers={"If-Match": "*"}).raise_for_status()


def change_right(folder: Path, share: float, seed: int) -> None:
    """Edit a share of the SQLite rows."""
    db = sqlite3.connect(folder / "sync.db")
    ids = [r[0] for r in db.execute("SELECT accountid FROM accounts")]
    rng = random.Random(seed)
    db.executemany("UPDATE accounts SET telephone1 = ? WHERE accountid = ?",
                   [(f"+1-{rng.randrange(10**7)}", g) for g in rng.sample(ids, int(len(ids) * share))])
    db.commit()


def main() -> int:
    """Run every benchmark and print the figures."""
    parser = argparse.ArgumentParser()
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--small", type=int, default=10_000)
    parser.add_argument("--rounds", type=int, default=5,
                        help="rounds of each timed pair (floor + first sync; first sync + run)")
    args = parser.parse_args()
    # every module's bytecode cached first: with PYTHONDONTWRITEBYTECODE set (as in some shells
    # and containers) nothing is cached, and each run's second process, and each module a run
    # imports late, was compiled from source inside the timed run (~20 ms a process start)
    compileall.compile_dir(REPO / "l2tui", quiet=1)
    results: dict[str, Any] = {}
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        small = EmulatorProcess(args.small)
        try:
            (root / "small").mkdir()
            results["small"] = sync(small.base, root / "small", create=True)
        finally:
            small.stop()
        emu = EmulatorProcess(args.rows)
        try:
            # the emulator builds each row's JSON on its first read and keeps it: read once before
            # any clock starts, so the floor and the sync both meet the same warm server
            (root / "warm").mkdir()
            floor(emu.base, root / "warm")
            # this machine's speed drifts by tens of percent within a minute: each round times
            # the floor and then a first sync (fresh target and state) back to back, and the
            # median round's ratio is the figure
            rounds = []
            for number in range(args.rounds):
                (root / f"floor{number}").mkdir()
                floor_cpu: list[float] = []
                floor_s = floor(emu.base, root / f"floor{number}", floor_cpu)
                (root / f"big{number}").mkdir()
                first = sync(emu.base, root / f"big{number}", create=True)
                rounds.append((first["seconds"] / floor_s, floor_s, first, number, floor_cpu[0]))
            rounds.sort(key=lambda r: r[0])
            ratio, results["floor_s"], results["first"], chosen, results["floor_cpu"] = \
                rounds[len(rounds) // 2]
            results["rounds"] = [(r, f, s["seconds"]) for r, f, s, *_ in rounds]
            big = root / f"big{chosen}"
            # each incremental run is paired with a first sync timed just before it (into a
            # scratch folder): the machine's drift between the two is small, so their ratio is
            # the figure; a new 1 % is changed before each round and the median round is shown
            for seed, name, spec in ((10, "delta", {}), (20, "no_delta", {"no_delta": True})):
                paired, floors = [], []
                for number in range(args.rounds):
                    reference = first_sync_seconds(emu.base, root / f"ref-{name}-{number}")
                    change_left(emu.base, 0.01, seed=seed + number)
                    if name == "delta":  # its floor, on a copy of the folder the run is about to use
                        shutil.copytree(big, root / "plain", dirs_exist_ok=True)
                        floor_s = delta_floor(root / "plain")
                        shutil.rmtree(root / "plain")
                    seconds = sync(emu.base, big, **spec)["seconds"]
                    paired.append((seconds / reference, seconds, reference))
                    if name == "delta":
                        floors.append((floor_s / reference, seconds / floor_s))
                    else:  # the floor of its full read, just after it
                        floor_s = read_floor(emu.base)
                        floors.append((floor_s / reference, seconds / floor_s))
                paired.sort()
                results[name] = paired[len(paired) // 2]
                results[f"{name}_rounds"] = paired
                results[f"{name}_floor"] = sorted(floors)
            for seeds, name in (((3, 4), "bidirectional"), ((5, 6), "bidirectional_again")):
                # the second: bidirectional runs from here on (the first follows a switch)
                reference = first_sync_seconds(emu.base, root / f"ref-{name}")
                change_left(emu.base, 0.01, seed=seeds[0])
                change_right(big, 0.01, seed=seeds[1])
                results[name] = sync(emu.base, big, direction="bidirectional")
                results[f"{name}_reference"] = reference
            # without change tracking at all (after the runs of ``big``: its changes add to
            # theirs), a connection of its own, each run paired with a first sync as above
            filtered = root / "filtered"
            filtered.mkdir()
            sync(emu.base, filtered, create=True, select=FILTERED)
            paired = []
            for number in range(args.rounds):
                reference = first_sync_seconds(emu.base, root / f"ref-filtered-{number}",
                                               select=FILTERED)
                change_left(emu.base, 0.01, seed=40 + number)
                seconds = sync(emu.base, filtered, select=FILTERED)["seconds"]
                paired.append((seconds / reference, seconds, reference))
            paired.sort()
            results["filtered"] = paired[len(paired) // 2]
            results["filtered_rounds"] = paired
        finally:
            emu.stop()
    f = results["first"]["seconds"]
    shown = ", ".join(f"{s:.2f}s/{fl:.2f}s = {r:.2f}" for r, fl, s in results["rounds"])
    print(f"first one-way sync of {args.rows} rows vs floor, per round: {shown}")
    print(f"first one-way sync: median round {f:.2f}s; floor {results['floor_s']:.2f}s; "
          f"ratio {f / results['floor_s']:.2f} (target <= 1.5)")
    # the sync is bound by CPU (two interpreters on this machine's CPUs, with the emulator): its
    # CPU seconds per row against the floor's say how much of the gap is work the floor does not do
    run_cpu, floor_cpu = results["first"]["run_cpu"], results["floor_cpu"]
    helper_cpu = results["first"].get("helper_cpu", 0.0)
    print(f"CPU of that round: first sync {run_cpu:.2f}s ({run_cpu / args.rows * 1e6:.0f} us a row) "
          f"+ {helper_cpu:.2f}s in its second decoding process (with its start), "
          f"floor {floor_cpu:.2f}s ({floor_cpu / args.rows * 1e6:.0f} us a row); "
          f"ratio {run_cpu / floor_cpu:.2f} (with the second process "
          f"{(run_cpu + helper_cpu) / floor_cpu:.2f})")
    for name, label, target in (
            ("delta", "change tracking", "5%"),
            ("no_delta", "its change-tracking cursor dropped (a full read asking for a new one; "
             "versions, then hashes)", "50%"),
            ("filtered", "a select with a $filter, so no change tracking at all (keys and "
             "ETags, then the rows not seen)", "50%")):
        ratio, seconds, reference = results[name]
        shown = ", ".join(f"{t:.2f}s/{r:.2f}s" for _, t, r in results[f"{name}_rounds"])
        print(f"1% changed, {label}: median round {seconds:.2f}s against a first sync of "
              f"{reference:.2f}s just before = {ratio:.1%} (target <= {target}; rounds {shown})")
        floors = results.get(f"{name}_floor")
        if floors:
            what = ("one delta GET, one executemany of UPDATEs, one of the state's pairs and "
                    "cursor, the WAL synced" if name == "delta" else
                    "plain requests paging through every row, asking for change tracking, each "
                    "page decoded")
            share = floors[len(floors) // 2][0]
            over = sorted(f[1] for f in floors)[len(floors) // 2]
            print(f"  its floor ({what}; nothing checked or compared): median {share:.1%} of the "
                  f"same first sync ({', '.join(f'{f[0]:.1%}' for f in floors)}); the run against "
                  f"its floor: median {over:.2f}x")
    big, small_rss = results["first"]["maxrss_kb"], results["small"]["maxrss_kb"]
    print(f"peak memory (the run's process plus its second decoding process): {args.rows} rows "
          f"{big / 1024:.0f} MiB, {args.small} rows "
          f"{small_rss / 1024:.0f} MiB; ratio {big / small_rss:.2f} (target <= 1.5)")
    for name, label in (("bidirectional", "bidirectional, 1% changed on each side"),
                        ("bidirectional_again",
                         "the next bidirectional run, 1% changed on each side again")):
        seconds, reference = results[name]["seconds"], results[f"{name}_reference"]
        print(f"{label}: {seconds:.2f}s = {seconds / reference:.1%} of a first sync of "
              f"{reference:.2f}s just before ({results[name]['message']})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
