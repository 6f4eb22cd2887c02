"""`python -m l2tui.emulator` serves until interrupted."""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
from pathlib import Path

import requests

from tests.conftest import CliRunner

REPO = Path(__file__).resolve().parents[2]


def test_cli_prints_its_url_serves_and_stops_on_sigterm():
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "l2tui.emulator", "--port", "0", "--rows", "30", "--no-auth"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO),
    )
    try:
        assert proc.stdout is not None
        first = proc.stdout.readline()
        m = re.match(r"Dynamics 365 emulator listening on (http://127\.0\.0\.1:\d+/api/data/v9\.2/)",
                     first)
        assert m, first
        base = m.group(1)
        lines = [proc.stdout.readline() for _ in range(2)]
        assert any(f"URL={base}accounts;Authentication=none;" in line for line in lines)
        session = requests.Session()
        session.trust_env = False
        body = session.get(base + "accounts?$select=name&$top=3").json()
        assert len(body["value"]) == 3
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(timeout=10) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_a_taken_port_is_one_line_naming_the_option_and_exit_2(run_cli: CliRunner) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("emulator", "--port", str(port), "--no-auth")
    assert result.returncode == 2
    assert result.stderr.strip() == (f"l2tui: --port: cannot listen on 127.0.0.1:{port}: Address "
                                      "already in use (give another port, or 0 for any free one)")


def test_the_demo_on_a_taken_port_is_one_line_and_exit_2(run_cli: CliRunner) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = run_cli("demo", "--headless", "--port", str(port))
    assert result.returncode == 2
    assert result.stderr.strip() == (f"l2tui: --port: cannot listen on 127.0.0.1:{port}: Address "
                                      "already in use (give another port, or 0 for any free one)")


def test_a_port_out_of_range_is_one_line_naming_the_option_and_exit_2(run_cli: CliRunner) -> None:
    result = run_cli("emulator", "--port", "70000", "--no-auth")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("l2tui: --port: cannot listen on 127.0.0.1:70000: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_demo_on_a_port_out_of_range_is_one_line_and_exit_2(run_cli: CliRunner) -> None:
    result = run_cli("demo", "--headless", "--port", "70000")
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("l2tui: --port: cannot listen on 127.0.0.1:70000: ")
    assert len(result.stderr.strip().splitlines()) == 1


def test_the_tls_emulator_prints_a_connection_string_that_works_as_it_is(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    from l2tui.config.model import Connection
    from l2tui.config.store import ConnectionStore

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "l2tui", "emulator", "--port", "0", "--rows", "5", "--no-auth",
         "--tls"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO),
    )
    try:
        assert proc.stdout is not None
        printed = ""
        while not printed.startswith("Connection string: "):
            printed = proc.stdout.readline()
            assert printed, proc.stderr.read() if proc.stderr else ""
        conn = Connection(title="Over https")
        conn.entity1.provider = "odata"
        conn.entity1.connection_string = printed.removeprefix("Connection string: ").strip()
        conn.entity1.select = "$select=accountid,name"
        conn.entity2.provider = "sqlite"
        conn.entity2.connection_string = f"Data Source={tmp_path / 'unused.db'};"
        conn.entity2.select = "accounts"
        ConnectionStore(config_dir).save(conn)
        result = run_cli("verify", "Over https", "--entity", "1")
        assert result.returncode == 0, result.stdout + result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_client_id_registers_another_app_for_user_sign_in_and_says_so(
        run_cli: CliRunner, config_dir: Path, tmp_path: Path) -> None:
    """`--client-id my-app`: a connection with ClientId=my-app signs in (an unregistered id is
    refused with AADSTS700016), and the emulator lists the ids it takes."""
    from l2tui.config.model import Connection
    from l2tui.config.store import ConnectionStore

    env = {**os.environ, "PYTHONPATH": str(REPO)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "l2tui", "emulator", "--port", "0", "--rows", "5",
         "--client-id", "my-app"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=str(REPO),
    )
    try:
        assert proc.stdout is not None
        printed: dict[str, str] = {}
        line = ""
        while not line.startswith("Press Ctrl+C"):
            line = proc.stdout.readline()
            assert line, proc.stderr.read() if proc.stderr else ""
            key, _, value = line.partition(": ")
            printed[key.strip()] = value.strip()
        assert printed["App (client) ids for user sign-in"] == \
            "51f81489-12ee-4a9e-aaae-a2591f45987d, my-app"
        rewrite = printed["MSAL needs https"].rpartition("L2TUI_AUTHORITY_REWRITE=")[2][:-1]
        password = printed["User"].rpartition("password: ")[2]
        for client_id, ok in (("my-app", True), ("not-registered", False)):
            conn = Connection(title=f"As {client_id}")
            conn.entity1.provider = "odata"
            conn.entity1.connection_string = printed["Connection string"] + f"ClientId={client_id};"
            conn.entity1.password_env = "CRM_PASSWORD"
            conn.entity2.provider = "sqlite"
            conn.entity2.connection_string = f"Data Source={tmp_path / 'unused.db'};"
            conn.entity2.select = "accounts"
            ConnectionStore(config_dir).save(conn)
            result = run_cli("verify", f"As {client_id}", "--entity", "1", env={
                "CRM_PASSWORD": password, "L2TUI_AUTHORITY_REWRITE": rewrite})
            assert (result.returncode == 0) == ok, result.stdout + result.stderr
            assert ok or "AADSTS700016" in result.stdout + result.stderr
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def test_tls_without_its_extra_is_one_line_naming_the_extra_and_exit_2() -> None:
    # trustme made unimportable in this process alone, as where the 'tls' extra is not installed
    code = ("import sys; sys.modules['trustme'] = None; from l2tui.cli import main; "
            "sys.exit(main(['emulator', '--tls', '--port', '0', '--no-auth']))")
    result = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                            env={**os.environ, "PYTHONPATH": str(REPO)}, timeout=60)
    assert result.returncode == 2
    assert result.stderr.strip() == ("l2tui: --tls: needs the 'tls' extra (pip install "
                                     "'l2tui[tls]', or '.[tls]' in a checkout)")
    assert result.stdout == ""
