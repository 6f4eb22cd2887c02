"""What ``l2tui run`` loads before it runs: only the database dialects a connection uses."""

from __future__ import annotations

import subprocess
import sys


def test_the_run_command_loads_no_server_database_dialect() -> None:
    code = ("import sys, l2tui.cli, l2tui.commands.run, l2tui.runner, l2tui.providers.odata, "
            "l2tui.providers.sql.provider; "
            "print(sorted(m for m in ('mssql', 'mysql', 'postgresql') "
            "if 'sqlalchemy.dialects.' + m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
