"""Faults met mid-run, as an operator meets them: the run stops with one line (or each bad item
fails alone), and the next run ends with both sides equal and no duplicates."""

from __future__ import annotations

import json
import os
import resource
import signal
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa

from l2tui.config.model import Direction
from l2tui.config.store import ConnectionStore
from l2tui.errors import ConnectError
from l2tui.providers import open_entity
from l2tui.runner import Runner
from l2tui.sync.engine import Engine, Options
from l2tui.sync.events import (
    Event,
    ItemError,
    LogLine,
    Progress,
    RunReport,
    RunStarted,
    ignore,
)
from l2tui.sync.state import StateStore
from tests.conftest import REPO, CliRunner
from tests.sync.support import IntoDataverse, Pair, make_into_dataverse, make_pair


@pytest.fixture
def pg_database(pg_url: str) -> Iterator[tuple[str, sa.Engine]]:
    """A PostgreSQL database of this test alone (its connections can be refused), and an admin
    engine on the server's default database."""
    name = f"l2tui_fx_{uuid.uuid4().hex[:12]}"
    admin = sa.create_engine(pg_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as c:
        c.execute(sa.text(f"CREATE DATABASE {name}"))
    url = sa.engine.make_url(pg_url).set(database=name).render_as_string(hide_password=False)
    yield url, admin
    with admin.connect() as c:
        c.execute(sa.text(f"ALTER DATABASE {name} ALLOW_CONNECTIONS true"))
        c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                          "WHERE datname = :d"), {"d": name})
        c.execute(sa.text(f"DROP DATABASE IF EXISTS {name}"))
    admin.dispose()


def _refuse_connections(admin: sa.Engine, database: str, allow: bool = False) -> None:
    """The database refuses new connections (and drops its open ones), as a stopped server."""
    with admin.connect() as c:
        c.execute(sa.text(f"ALTER DATABASE {database} ALLOW_CONNECTIONS {str(allow).lower()}"))
        if not allow:
            c.execute(sa.text("SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
                              "WHERE datname = :d AND pid != pg_backend_pid()"), {"d": database})


def test_a_database_gone_mid_run_stops_the_run_with_one_error(emu: Any, tmp_path: Path,
                                                              pg_database: tuple[str, sa.Engine]):
    url, admin = pg_database
    database = sa.engine.make_url(url).database or ""
    pair = make_pair(emu, url, "accounts")
    pair.run()
    keys = sorted(pair.left())
    for key in keys[:10]:
        pair.left_update(key, {"name": f"edited {key[:8]}"})
    pair.engine.dispose()
    events: list[Event] = []

    def sink(event: Event) -> None:
        events.append(event)
        if isinstance(event, RunStarted):  # described, not written yet: the server goes away
            _refuse_connections(admin, database)

    with pytest.raises(ConnectError) as caught:
        Runner(pair.paths).run(pair.conn, sink=sink)

    message = str(caught.value)
    assert "\n" not in message and "PostgreSQL" in message, message
    assert [e for e in events if isinstance(e, ItemError)] == []  # not one error per item
    _refuse_connections(admin, database, allow=True)
    assert pair.run().ok
    assert pair.right() == pair.left() and pair.right_count() == len(keys)
    assert pair.run().updated_right == 0
    pair.engine.dispose()


def test_a_locked_sqlite_target_stops_the_run_with_one_error(emu: Any, tmp_path: Path):
    """Another program holds a write transaction on the target file: after the lock timeout the
    run stops (exit 3) instead of waiting out the timeout again for each item alone."""
    path = tmp_path / "right.db"
    pair = make_pair(emu, f"sqlite:///{path}", "accounts")
    pair.conn.entity2.connection_string = f"Data Source={path};Connect Timeout=1;"
    assert pair.run().ok
    keys = sorted(pair.left())
    for key in keys[:10]:
        pair.left_update(key, {"name": f"edited {key[:8]}"})
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN IMMEDIATE")  # another writer's long transaction
    started = time.monotonic()
    try:
        with pytest.raises(ConnectError) as caught:
            pair.run()
    finally:
        other.execute("ROLLBACK")
        other.close()
    message = str(caught.value)
    assert "\n" not in message and "locked" in message, message
    assert time.monotonic() - started < 8
    assert [e for e in pair.events if isinstance(e, ItemError)] == []
    assert pair.run().ok
    assert pair.right() == pair.left() and pair.right_count() == len(keys)


def test_a_value_too_long_for_the_target_column_fails_its_row_and_is_never_cut(
        emu: Any, pg_database: tuple[str, sa.Engine]):
    """A target column shorter than the source's values (varchar(8)): each row whose value does
    not fit fails alone, once, saying which row and why; the others land; nothing is cut short
    and reported done (PostgreSQL cuts a value cast explicitly to varchar(8) without a word).
    (A null into a NOT NULL text column is written as '': test_conversions.)"""
    url, _ = pg_database
    pair = make_pair(emu, url, "accounts")
    with pair.engine.begin() as c:
        c.execute(sa.text("ALTER TABLE accounts ALTER COLUMN accountnumber TYPE varchar(8)"))
    keys = sorted(pair.left())
    for n, key in enumerate(keys):  # (an account number is unique in Dataverse)
        pair.left_update(key, {"accountnumber": f"SHORT{n}"})
    for n, key in enumerate(keys[:2]):
        pair.left_update(key, {"accountnumber": f"MUCH TOO LONG {n}"})

    report = pair.run()

    events = [e for e in pair.events if isinstance(e, ItemError)]
    assert report.errors_right == 2 and len(events) == 2, events  # once each
    for event, key in zip(sorted(events, key=lambda e: e.key), keys[:2], strict=True):
        assert event.key == f'["{key}"]'
        assert "too long" in event.message and "\n" not in event.message, event.message
    right = pair.right()
    assert keys[0] not in right and keys[1] not in right
    assert len(right) == len(keys) - 2
    assert all(right[k] == v for k, v in pair.left().items() if k in right)
    pair.engine.dispose()


def _saved(pair: Pair) -> str:
    ConnectionStore(pair.paths.connections).save(pair.conn)
    return pair.conn.slug


def test_a_damaged_state_file_is_named_in_one_line(pair: Pair, run_cli: CliRunner):
    name = _saved(pair)
    assert run_cli("run", name).returncode == 0
    state = pair.paths.state_db(name)
    for extra in (Path(f"{state}-wal"), Path(f"{state}-shm")):
        extra.unlink(missing_ok=True)
    state.write_bytes(b"not a database " * 500)

    for command in ("run", "history"):
        result = run_cli(command, name)
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 2 and len(lines) == 1, result.stderr
        assert str(state) in lines[0] and "unexpected" not in lines[0], lines[0]
        assert "Traceback" not in result.stderr


def test_an_unwritable_log_folder_is_named_in_one_line(pair: Pair, run_cli: CliRunner):
    name = _saved(pair)
    logs = pair.paths.run_logs(name)
    logs.parent.mkdir(parents=True, exist_ok=True)
    logs.write_text("a file where the folder should be")  # (root writes any folder)

    result = run_cli("run", name)

    lines = result.stderr.strip().splitlines()
    assert result.returncode == 2 and len(lines) == 1, result.stderr
    assert str(logs) in lines[0] and "unexpected" not in lines[0], lines[0]
    assert pair.right_count() == 0


def _limited(size: int) -> None:
    """In the child: files may grow to ``size`` bytes; a longer write fails (EFBIG), as on a
    full disk, instead of killing the process."""
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (size, size))


def test_a_state_store_out_of_space_mid_run_says_so(tmp_path: Path):
    """The state's disk fills up during a run: the message is the state's own failure, not a
    second error met while recording the failed run ('cannot commit - no transaction is
    active'); the next run, with room, ends with both sides equal."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        pair = make_pair(emu, f"sqlite:///{tmp_path / 'right.db'}", "accounts",
                         direction=Direction.RIGHT_TO_LEFT)
        with pair.engine.begin() as c:
            c.execute(pair.table.insert(), [{"accountid": str(uuid.uuid4()), "name": f"n{i}"}
                                            for i in range(5000)])
        name = _saved(pair)
        result = subprocess.run([sys.executable, "-m", "l2tui", "run", name],
                                capture_output=True, text=True, timeout=120, cwd=str(REPO),
                                env={**os.environ, "PYTHONPATH": str(REPO)},
                                preexec_fn=lambda: _limited(200_000))
        lines = result.stderr.strip().splitlines()
        assert result.returncode == 1 and len(lines) == 1, result.stderr
        assert str(pair.paths.state_db(name)) in lines[0], lines[0]
        assert "no transaction" not in lines[0] and "unexpected" not in lines[0], lines[0]
        assert "full" in lines[0] or "large" in lines[0] or "I/O" in lines[0], lines[0]

        assert pair.run(full=True).ok
        assert pair.left() == pair.right() and len(pair.left()) == 5000


FAST_RETRIES = {"retry_base_delay": 0.01, "retry_max_delay": 0.02}


def _engine_run(setup: IntoDataverse | Pair, batch_size: int | None = None,
                sink: Callable[[Event], None] | None = None, **options: Any) -> RunReport:
    """One run of the engine on the connection's providers, retrying fast."""
    options = {**FAST_RETRIES, **options}
    providers = [open_entity(setup.conn, i, setup.paths, options=options) for i in (1, 2)]
    state = StateStore(setup.paths.state_db(setup.conn.slug))
    try:
        return Engine(setup.conn, providers[0], providers[1], state, sink=sink or ignore,
                      options=Options(batch_size=batch_size)).run()
    finally:
        state.close()
        for provider in providers:
            provider.close()


def _new_sql_accounts(setup: IntoDataverse, count: int) -> None:
    """``count`` new rows in the SQL table, for the next run to create in Dataverse."""
    with setup.engine.begin() as c:
        c.execute(sa.text("INSERT INTO accts (acctno, name, revenue) VALUES (:a, :n, 1)"),
                  [{"a": f"NEW-{i}", "n": f"New {i}"} for i in range(count)])


def _next_run_makes_none_again(setup: IntoDataverse, accounts: int) -> None:
    """The next run succeeds, Dataverse holds ``accounts`` records (none made twice), and both
    sides agree."""
    assert _engine_run(setup).ok

    assert setup.emu.store.count("accounts") == accounts
    assert setup.left() == setup.right()
    setup.engine.dispose()


def test_creates_whose_answers_were_lost_are_not_made_again_by_the_next_run(tmp_path: Path):
    """Dataverse takes a change set of creates, but no answer reaches l2tui (the connection drops
    after the service committed, on every retry; then the items sent alone time out): the write
    stops, not knowing whether the records exist. Their GUIDs were made for that write alone;
    the next run finds the records by match key instead of creating them again."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 10)
        setup.conn.entity1.connection_string += "Timeout=0.2;"
        assert _engine_run(setup).ok
        _new_sql_accounts(setup, 10)
        emu.faults.drop_next(10**6, method="POST", path_contains="$batch")
        emu.faults.delay_next(10**6, 0.5, method="PATCH")
        with pytest.raises(ConnectError):
            _engine_run(setup)
        emu.faults.clear()
        assert emu.store.count("accounts") == 20 and setup.pairs() == 10

        _next_run_makes_none_again(setup, 20)


def test_a_create_answered_5xx_after_it_was_made_is_not_made_again_by_the_next_run(
        tmp_path: Path):
    """A gateway times out (504) on a create Dataverse carried out, on every retry: the run
    reports that item's error, and the next run finds the record by match key instead of
    creating it again under a new GUID."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 10)
        assert _engine_run(setup).ok
        _new_sql_accounts(setup, 3)
        emu.faults.fail_next(6, status=503, method="POST", path_contains="$batch")
        emu.faults.fail_after_next(6, status=504, method="PATCH")  # the first item, each retry
        report = _engine_run(setup, parallel=1)
        emu.faults.clear()
        assert report.errors_left == 1 and emu.store.count("accounts") == 13

        _next_run_makes_none_again(setup, 13)


def test_the_run_after_one_whose_creates_were_answered_5xx_says_why_it_matches_by_key(
        tmp_path: Path):
    """A run that ended (not stopped) with creates Dataverse may have carried out: the next run
    says it matches both sides by key for writes whose outcome was unknown, not that a run
    stopped."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 10)
        assert _engine_run(setup).ok
        _new_sql_accounts(setup, 3)
        emu.faults.fail_next(6, status=503, method="POST", path_contains="$batch")
        emu.faults.fail_after_next(6, status=504, method="PATCH")  # the first item, each retry
        assert _engine_run(setup, parallel=1).errors_left == 1
        emu.faults.clear()
        events: list[Event] = []
        assert _engine_run(setup, sink=events.append).ok
        warnings = [e.message for e in events if isinstance(e, LogLine) and e.level == "warning"]
        assert not any(w.startswith("a previous run stopped") for w in warnings), warnings
        assert any("outcome" in w and "may have carried out" in w
                   and "matching by key" in w for w in warnings), warnings
        setup.engine.dispose()


def test_a_create_made_by_a_try_whose_answer_was_lost_is_not_refused_under_a_filter(
        tmp_path: Path):
    """With a $filter, creates carry If-None-Match: * (never write over a record the read did
    not show). A change set Dataverse made but answered 504 to is sent again item by item, and
    each meets 412 for the GUID made for it: that is the record this write made, not a hidden
    one, so the items are synced and the next run makes none of them again."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 10)
        setup.conn.entity1.select += "&$filter=revenue ge 0"
        assert _engine_run(setup).ok
        _new_sql_accounts(setup, 3)
        emu.faults.fail_after_next(6, status=504, method="POST", path_contains="$batch")
        report = _engine_run(setup, parallel=1)
        emu.faults.clear()
        assert report.ok and report.created_left == 3 and setup.pairs() == 13

        _next_run_makes_none_again(setup, 13)


def test_a_create_refused_as_a_duplicate_under_a_filter_fails_again_on_the_next_run(
        tmp_path: Path):
    """The select's $filter hides a Dataverse record holding the account number of a new SQL row:
    Dataverse refuses its create (412, a duplicate alternate key). The item fails, the state
    keeps no pair for a record that does not exist, and the next run tries it again instead of
    calling it unchanged (the SQL row's edits would be lost silently)."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        emu.store.insert("accounts", {"name": "Hidden", "accountnumber": "AC-000007",
                                      "revenue": -1})
        setup = make_into_dataverse(emu, tmp_path / "right.db", 10)
        setup.conn.entity1.select += "&$filter=revenue ge 0"

        first = _engine_run(setup)
        assert first.errors_left == 1 and setup.pairs() == 9
        assert emu.store.count("accounts") == 10
        assert _engine_run(setup).errors_left == 1
        setup.engine.dispose()


def test_a_service_failing_every_write_with_5xx_stops_the_run_with_one_line(tmp_path: Path):
    """Dataverse takes one change set, then answers 503 to everything: the run stops with one
    line after a few items sent alone failed (not one error per item after hours of retries),
    the change set written keeps its state, and the next run completes the rest."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 250)
        emu.faults.delay_next(1, 0.0, method="POST", path_contains="$batch")  # the first lands
        emu.faults.fail_next(10**6, status=503, method="POST", path_contains="$batch")
        emu.faults.fail_next(10**6, status=503, method="PATCH")
        events: list[Event] = []
        with pytest.raises(ConnectError) as caught:
            _engine_run(setup, batch_size=250, sink=events.append, parallel=1)
        emu.faults.clear()

        message = str(caught.value)
        assert "\n" not in message and "503" in message and "stopped" in message, message
        assert [e for e in events if isinstance(e, ItemError)] == []
        assert emu.store.count("accounts") == setup.pairs() == 100
        assert _engine_run(setup).ok
        assert len(setup.left()) == 250 and setup.left() == setup.right()
        setup.engine.dispose()


def _stopped_while_retrying(run: Callable[[threading.Event], RunReport], emu: Any,
                            refused: str, times: int = 1) -> RunReport:
    """``run`` in a thread, asked to stop (as systemd's SIGTERM asks) once the emulator has been
    sent ``times`` more requests starting with ``refused`` (refused by the faults set: the run
    now waits to retry): its report, which must come within 5 s of the request, not after the
    retries' back-off (~15 s a request)."""
    def sent() -> int:
        return sum(1 for line in list(emu.recent_requests) if line.startswith(refused))

    before = sent()
    cancel = threading.Event()
    reports: list[RunReport] = []
    worker = threading.Thread(target=lambda: reports.append(run(cancel)))
    worker.start()
    deadline = time.monotonic() + 60
    while sent() < before + times and time.monotonic() < deadline:
        time.sleep(0.02)
    assert sent() >= before + times, "the run never met the refusals"
    time.sleep(0.2)  # (into its retry wait)
    cancel.set()
    worker.join(timeout=5)
    assert not worker.is_alive(), "the run went on retrying after it was asked to stop"
    return reports[0]


def test_a_proxy_page_in_place_of_a_delta_read_is_not_taken_for_a_wrong_url(pair: Pair) -> None:
    """The delta read, from a cursor the service gave the last run, is answered with a proxy's
    HTML page: the run stops saying so, not asking whether the URL is an OData service (it
    asked, the describe sent at the same time not yet answered); the next run completes."""
    pair.run()
    pair.left_update(next(iter(pair.left())), {"name": "changed"})
    pair.emu.faults.garble_next(1, method="GET", path_contains="/accounts")
    with pytest.raises(ConnectError) as caught:
        pair.run()
    message = str(caught.value)
    assert "a proxy's page" in message and "OData service?" not in message, message
    assert pair.run().ok and pair.right() == pair.left()


def test_a_stop_asked_while_writes_wait_to_be_retried_cancels_the_run_at_once(
        tmp_path: Path) -> None:
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 250)
        emu.faults.fail_next(10**6, status=503, method="POST", path_contains="$batch")
        emu.faults.fail_next(10**6, status=503, method="POST", path_contains="/accounts")
        report = _stopped_while_retrying(
            lambda cancel: Runner(setup.paths).run(setup.conn, cancel=cancel), emu, "POST ")
        emu.faults.clear()
        assert report.outcome == "cancelled"
        assert Runner(setup.paths).history(setup.conn)[0].outcome == "cancelled"
        assert Runner(setup.paths).run(setup.conn).ok
        assert emu.store.count("accounts") == 250 and setup.left() == setup.right()


def test_a_stop_asked_while_change_sets_wait_to_be_retried_sends_none_of_their_items(
        tmp_path: Path) -> None:
    """Dataverse takes the first change set, then throttles every $batch (429, Retry-After 30):
    a stop asked while they wait sends none of their items alone; the run ends cancelled keeping
    the state of the change set written, and the next run writes the rest."""
    from l2tui.emulator import Emulator

    with Emulator(rows=0, seed=3, auth=False) as emu:
        setup = make_into_dataverse(emu, tmp_path / "right.db", 250)
        emu.limits.retry_after = 30
        emu.faults.delay_next(1, 0.0, method="POST", path_contains="$batch")  # the first lands
        emu.faults.fail_next(10**6, status=429, method="POST", path_contains="$batch")
        report = _stopped_while_retrying(  # (the first change set lands, the next is refused)
            lambda cancel: Runner(setup.paths).run(setup.conn, cancel=cancel), emu,
            "POST /api/data/v9.2/$batch", times=2)
        emu.faults.clear()
        assert report.outcome == "cancelled"
        assert emu.store.count("accounts") in (50, 100)
        assert setup.pairs() == emu.store.count("accounts")
        assert Runner(setup.paths).run(setup.conn).ok
        assert emu.store.count("accounts") == 250 and setup.left() == setup.right()
        setup.engine.dispose()


def test_a_stop_asked_while_a_read_waits_to_be_retried_cancels_the_run_at_once(
        pair: Pair) -> None:
    pair.run()
    pair.left_update(next(iter(pair.left())), {"name": "changed"})
    pair.emu.faults.fail_next(10**6, status=503, method="GET", path_contains="/accounts")
    report = _stopped_while_retrying(lambda cancel: pair.run(cancel=cancel), pair.emu,
                                     "GET /api/data/v9.2/accounts")
    pair.emu.faults.clear()
    assert report.outcome == "cancelled"
    assert pair.run().ok and pair.right() == pair.left()


def test_a_stop_asked_while_a_read_waits_for_a_slow_answer_cancels_the_run_at_once(
        pair: Pair) -> None:
    """A page the service is slow to answer (or never answers: the timeout is 120 s, past
    systemd's 90 s) does not hold up a stop: the read stops waiting for it."""
    pair.run()
    pair.left_update(next(iter(pair.left())), {"name": "changed"})
    pair.emu.faults.delay_next(1, 8.0, method="GET", path_contains="/accounts")
    report = _stopped_while_retrying(lambda cancel: pair.run(cancel=cancel), pair.emu,
                                     "GET /api/data/v9.2/accounts")
    assert report.outcome == "cancelled"
    assert pair.run().ok and pair.right() == pair.left()


def edited_while_written(pair: Pair, key: str, values: dict[str, Any]) -> Callable[[Event], None]:
    """A sink that edits ``key`` in Dataverse once the run has read the left (its writes wait
    for the deletion guard, after every read): an edit made there while the run writes."""
    def sink(event: Event) -> None:
        pair.events.append(event)
        if isinstance(event, Progress) and event.phase == "read left" and not edited:
            pair.left_update(key, values)
            edited.append(key)

    edited: list[str] = []
    return sink


def test_a_dataverse_edit_made_while_a_bidirectional_run_writes_there_is_not_written_over(
        emu: Any, tmp_path: Path) -> None:
    pair = make_pair(emu, f"sqlite:///{tmp_path / 'r.db'}", "accounts",
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    key = sorted(pair.left())[0]
    pair.right_update(key, {"name": "named in SQL"})
    report = Runner(pair.paths).run(
        pair.conn, sink=edited_while_written(pair, key, {"accountnumber": "EDITED-MEANWHILE"}))
    record = emu.store.get("accounts", key)
    assert record["accountnumber"] == "EDITED-MEANWHILE" and record["name"] != "named in SQL"
    assert report.ok and report.updated_left == 0 and report.errors_left == 0
    assert any(isinstance(e, LogLine) and "1 item(s) on the left changed while this run was "
               "writing them" in e.message for e in pair.events)
    again = pair.run()  # both edits seen now: a conflict, the losing values kept in its record
    assert again.conflicts == 1
    [conflict] = StateStore(pair.paths.state_db(pair.conn.slug)).conflicts(again.details["run"])
    assert "named in SQL" in str(conflict) and "EDITED-MEANWHILE" in str(conflict)
    assert pair.right() == pair.left()


def test_updates_dataverse_made_but_answered_5xx_are_counted_written_not_changed_meanwhile(
        emu: Any, tmp_path: Path) -> None:
    """A gateway answers 504 to a change set of updates Dataverse carried out: sent again, each
    meets 412, as its own first try changed the record's ETag. The records hold what the run
    wrote: the run counts them updated, and warns of no edit made in Dataverse meanwhile (it
    counted none and said each had changed while it wrote)."""
    pair = make_pair(emu, f"sqlite:///{tmp_path / 'r.db'}", "accounts",
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    keys = sorted(pair.left())[:10]
    for key in keys:
        pair.right_update(key, {"name": f"named in SQL {key[:8]}"})
    emu.faults.fail_after_next(1, status=504, method="POST", path_contains="$batch")
    pair.events.clear()
    report = pair.run()
    assert report.ok and report.updated_left == 10, report
    assert [e.message for e in pair.events if isinstance(e, LogLine)
            and "changed while this run was writing" in e.message] == []
    assert all(emu.store.get("accounts", key)["name"] == f"named in SQL {key[:8]}"
               for key in keys)
    assert pair.right() == pair.left()
    assert pair.run().updated_left == 0


def test_a_dataverse_change_the_mapping_does_not_see_does_not_hold_up_the_next_write_there(
        emu: Any, tmp_path: Path) -> None:
    """The record's new version (an edit of a column not mapped) is noted, so the next update
    by version is made, not refused as changed meanwhile."""
    pair = make_pair(emu, f"sqlite:///{tmp_path / 'r.db'}", "accounts",
                     direction=Direction.BIDIRECTIONAL)
    pair.run()
    key = sorted(pair.left())[0]
    pair.left_update(key, {"telephone1": "+1-555-0100"})  # (not in the select)
    assert pair.run().ok
    pair.right_update(key, {"name": "named in SQL"})
    report = pair.run()
    assert report.updated_left == 1, pair.events[-3:]
    assert emu.store.get("accounts", key)["name"] == "named in SQL"


def _cut_short_at(emu: Any, page: int) -> None:
    """The emulator answers the ``page``-th page of the next accounts read without its
    ``@odata.nextLink`` (and so without a deltaLink): an answer cut short on its way."""
    original = emu.api.handle
    pages = [0]

    def handle(req: Any) -> Any:
        response = original(req)
        if req.method == "GET" and "/accounts" in req.path and response.status == 200:
            pages[0] += 1
            if pages[0] == page:
                body = json.loads(response.body)
                body.pop("@odata.nextLink", None)
                response.body = json.dumps(body).encode()
        return response

    emu.api.handle = handle


@pytest.mark.parametrize("full", [True, False], ids=["full", "cursor-expired"])
def test_a_tracked_read_cut_short_before_its_last_page_deletes_nothing(
        emu: Any, tmp_path: Path, full: bool):
    """A page without a next link in a read that change tracking should end with a deltaLink: the
    read was cut short, so the rows past it are not taken as deleted; the run fails, and the next
    one syncs as an uninterrupted run."""
    pair = make_pair(emu, f"sqlite:///{tmp_path / 'right.db'}", "accounts")
    pair.conn.entity1.connection_string += "PageSize=5;"
    assert pair.run().ok
    assert pair.right_count() == 20
    if not full:
        emu.expire_delta_tokens()
    _cut_short_at(emu, 2)

    with pytest.raises(ConnectError) as caught:
        pair.run(full=full)

    assert "cut short" in str(caught.value) and "\n" not in str(caught.value)
    assert pair.right_count() == 20
    report = pair.run()
    assert report.ok and report.deleted_right == 0 and report.created_right == 0
    assert pair.right() == pair.left()


def test_creates_answered_5xx_after_they_were_made_are_counted_once_not_again_next_run(
        emu: Any, tmp_path: Path) -> None:
    """A gateway answers 504 to every try of new SQL rows' creates, which Dataverse made (their
    GUIDs are the rows' own): the run reports each as an item error whose outcome is unknown,
    and the next run matches both sides by key and finds them made, counted unchanged: no run
    counts them created, so the history never sums more creates than rows were made."""
    pair = make_pair(emu, f"sqlite:///{tmp_path / 'r.db'}", "accounts",
                     direction=Direction.RIGHT_TO_LEFT)
    pair.right_insert({"name": "synced"})
    assert _engine_run(pair).ok
    before = emu.store.count("accounts")
    for i in range(3):
        pair.right_insert({"name": f"new {i}"})
    emu.faults.fail_after_next(10**6, status=504, method="POST", path_contains="$batch")
    emu.faults.fail_after_next(10**6, status=504, method="PATCH")
    first = _engine_run(pair, sink=pair.events.append, parallel=1)
    emu.faults.clear()
    made = emu.store.count("accounts") - before
    assert (first.created_left, first.errors_left, made) == (0, 3, 3)
    errors = [e.message for e in pair.events if isinstance(e, ItemError)]
    assert len(errors) == 3 and all(e.startswith("outcome unknown: ") for e in errors), errors
    pair.events.clear()
    second = _engine_run(pair, sink=pair.events.append)
    assert second.ok and (second.created_left, second.updated_left) == (0, 0)
    assert second.unchanged == 4 and emu.store.count("accounts") == before + 3
    assert any(e.message.startswith("3 item(s) whose write a previous run failed were found")
               for e in pair.events if isinstance(e, LogLine))
    assert pair.left_active().keys() >= pair.right().keys()
