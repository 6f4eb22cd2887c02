"""A run's sign-in as the run sees it: asked to stop while it waits on a person."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import Any

import pytest

from l2tui.errors import ConnectError
from l2tui.runner import Runner
from tests.conftest import CliRunner
from tests.sync.support import make_pair, sqlite_url


def test_a_stop_while_a_device_code_sign_in_waits_for_its_code_cancels_the_run_at_once(
        emulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Ctrl-C (or systemd's SIGTERM) while the code shown waits to be entered: the run ends as
    cancelled within moments, not once the code expires 15 minutes later."""
    emu = emulator_factory(rows=5, auth=True)
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.connection_string = (f"URL={emu.url('accounts')};"
                                           f"Authentication=device_code;Authority={emu.authority};")
    cancel = threading.Event()
    shown: list[str] = []

    def show(flow: dict[str, Any]) -> None:
        shown.append(flow["user_code"])
        threading.Timer(0.5, cancel.set).start()  # the person presses Ctrl-C instead

    started = time.monotonic()
    report = Runner(pair.paths).run(pair.conn, cancel=cancel, device_code=show)
    assert time.monotonic() - started < 10
    assert report.outcome == "cancelled", (report.outcome, report.message)
    assert len(shown) == 1, shown  # no new code for each request that was waiting on it


def test_a_device_code_left_to_expire_fails_the_run_without_showing_another_code(
        emulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Nobody entered the code: the run fails with the identity provider's word (exit 3), not
    with a new code for each request that had waited on the sign-in (15 minutes more each)."""
    emu = emulator_factory(rows=5, auth=True)
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.connection_string = (f"URL={emu.url('accounts')};"
                                           f"Authentication=device_code;Authority={emu.authority};")
    shown: list[str] = []

    def show(flow: dict[str, Any]) -> None:
        shown.append(flow["user_code"])
        emu.idp.clock = lambda: time.time() + 3600  # the code's 15 minutes are over

    with pytest.raises(ConnectError, match="This device code has expired"):
        Runner(pair.paths).run(pair.conn, device_code=show)
    assert len(shown) == 1, shown


def test_a_sign_in_answered_too_late_once_is_tried_again_and_the_run_succeeds(
        emulator_factory: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The identity provider took the token request but answered past the Timeout: the run
    tries it again, as it does a dropped connection, and syncs."""
    emu = emulator_factory(rows=5, auth=True)
    emu.faults.delay_next(1, 1.5, path_contains="/token")
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={emu.root_url}")
    monkeypatch.setenv("CRM_PASSWORD", emu.password)
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.connection_string += "Timeout=0.5;"
    pair.conn.entity1.password_env = "CRM_PASSWORD"
    report = Runner(pair.paths).run(pair.conn)
    assert report.outcome == "success", (report.outcome, report.message)
    assert len([r for r in emu.recent_requests if "/oauth2/v2.0/token" in r]) == 2


def test_a_run_whose_sign_in_always_times_out_exits_3_naming_the_identity_provider(
        emulator_factory: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    """Every token request answered too late: after the retries (about 15 s of back-off) the
    run ends with exit 3 and one line naming the identity provider, no password in it."""
    emu = emulator_factory(rows=5, auth=True)
    emu.faults.delay_next(100, 1.5, path_contains="/token")
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.connection_string += "Timeout=0.5;"
    pair.conn.entity1.password_env = "CRM_PASSWORD"
    name = pair.save()
    result = run_cli("run", name, env={
        "CRM_PASSWORD": emu.password,
        "L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"})
    assert result.returncode == 3, result.stderr
    assert result.stderr == ("l2tui: entity 1 (Dynamics accounts): sign-in at login.fake.test "
                             "failed: timed out (gave up after 6 tries)\n"), result.stderr
    assert emu.password not in result.stdout + result.stderr
    assert len([r for r in emu.recent_requests if "/oauth2/v2.0/token" in r]) == 6


def test_a_run_whose_token_endpoint_stays_unavailable_exits_3_in_one_line(
        emulator_factory: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    """Every token request answered 503: after the retries (about 15 s of back-off) the run
    ends with exit 3 and one line saying what the identity provider answered, not MSAL's
    "HTTP Error: 503", no password in it."""
    emu = emulator_factory(rows=5, auth=True)
    emu.faults.fail_next(100, status=503, path_contains="/token")
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.password_env = "CRM_PASSWORD"
    result = run_cli("run", pair.save(), env={
        "CRM_PASSWORD": emu.password,
        "L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"})
    assert result.returncode == 3, result.stderr
    assert result.stderr == ("l2tui: entity 1 (Dynamics accounts): sign-in at login.fake.test "
                             "failed: the identity provider answered 503 Service Unavailable "
                             "(gave up after 6 tries)\n"), result.stderr
    assert emu.password not in result.stdout + result.stderr
    assert len([r for r in emu.recent_requests if "/oauth2/v2.0/token" in r]) == 6


def test_a_run_whose_app_secret_is_refused_exits_3_with_the_identity_providers_one_line(
        emulator_factory: Any, tmp_path: Path, run_cli: CliRunner) -> None:
    """Entra's invalid_client answer (AADSTS7000215, its trace lines after it): the run says it
    on one line, naming the entity, without the secret it sent."""
    emu = emulator_factory(rows=5, auth=True)
    pair = make_pair(emu, sqlite_url(tmp_path / "right.db"), "accounts")
    pair.conn.entity1.connection_string = (
        f"URL={emu.url('accounts')};Authentication=client_secret;ClientId={emu.client_id};"
        f"Authority={emu.authority};")
    pair.conn.entity1.password_env = "CRM_SECRET"
    result = run_cli("run", pair.save(), env={
        "CRM_SECRET": "not-the-secret-123",
        "L2TUI_AUTHORITY_REWRITE": f"https://login.fake.test={emu.root_url}"})
    assert result.returncode == 3, result.stderr
    assert result.stderr == ("l2tui: entity 1 (Dynamics accounts): sign-in at login.fake.test "
                             "failed: AADSTS7000215: Invalid client secret provided. Ensure "
                             "the secret being sent in the request is the client secret value, "
                             "not the client secret ID, for a secret added to app "
                             f"'{emu.client_id}'.\n"), \
        result.stderr
    assert "not-the-secret-123" not in result.stdout + result.stderr
