"""`python -m l2tui.emulator` serves until interrupted."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
from pathlib import Path

import requests

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
