"""The systemd units of sample_connections/systemd/, as the README has them copied: systemd takes
them (``systemd-analyze verify``, which reads units without a running systemd), and the timer
runs every 15 minutes as the README and the units' comments say."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from datetime import datetime
from itertools import pairwise
from pathlib import Path

import pytest

from tests.conftest import REPO

UNITS = REPO / "sample_connections" / "systemd"
INSTALLED = "/opt/l2tui/.venv/bin/l2tui"  # where the README's Install puts l2tui
INSTANCE = "crm-accounts-to-sql"  # the README's example connection

pytestmark = pytest.mark.skipif(shutil.which("systemd-analyze") is None,
                                reason="systemd-analyze is not installed (scripts/test installs it)")


def _instance(tmp_path: Path) -> list[Path]:
    """The two units copied as ``systemctl enable l2tui-run@INSTANCE.timer`` takes them, with
    ExecStart's l2tui the one these tests run (systemd checks that the program exists)."""
    l2tui = Path(sys.executable).with_name("l2tui")
    assert l2tui.is_file(), f"{l2tui}: l2tui is not installed beside this Python"
    copies = []
    for unit in ("l2tui-run@.service", "l2tui-run@.timer"):
        text = (UNITS / unit).read_text()
        copy = tmp_path / unit.replace("@.", f"@{INSTANCE}.")
        copy.write_text(text.replace(INSTALLED, str(l2tui)))
        copies.append(copy)
    return copies


def test_the_service_runs_the_instances_connection_with_the_installed_l2tui() -> None:
    text = (UNITS / "l2tui-run@.service").read_text()
    assert re.search(rf"^ExecStart={re.escape(INSTALLED)} run %i$", text, re.MULTILINE)
    assert re.search(r"^EnvironmentFile=-/etc/l2tui/%i\.env$", text, re.MULTILINE)


def test_systemd_takes_both_units_without_a_complaint(tmp_path: Path) -> None:
    done = subprocess.run(["systemd-analyze", "verify", "--man=no", *map(str, _instance(tmp_path))],
                          capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr.strip()) == (0, "")


def test_the_timer_elapses_every_15_minutes() -> None:
    [calendar] = re.findall(r"^OnCalendar=(.+)$", (UNITS / "l2tui-run@.timer").read_text(),
                            re.MULTILINE)
    done = subprocess.run(["systemd-analyze", "calendar", "--iterations=5", calendar],
                          capture_output=True, text=True, timeout=60, check=True)
    found = re.findall(r"(?:Next elapse|Iter\. #\d+): \w+ (\S+ \S+)", done.stdout)
    elapses = [datetime.fromisoformat(when) for when in found]
    assert len(elapses) == 5
    assert {(b - a).total_seconds() for a, b in pairwise(elapses)} == {15 * 60}
    assert "every 15 minutes" in (UNITS / "l2tui-run@.timer").read_text()
