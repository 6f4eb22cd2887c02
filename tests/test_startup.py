"""What a process loads: ``l2tui run`` only the database dialects a connection uses; the second
process that decodes pages no HTTP, sign-in or database library."""

from __future__ import annotations

import subprocess
import sys


def test_the_run_command_loads_no_server_database_dialect() -> None:
    code = ("import sys, l2tui.cli, l2tui.commands.run, l2tui.runner, l2tui.providers.odata.provider, "
            "l2tui.providers.sql.provider; "
            "print(sorted(m for m in ('mssql', 'mysql', 'postgresql') "
            "if 'sqlalchemy.dialects.' + m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"


def test_the_page_decoding_process_loads_no_http_sign_in_or_database_library() -> None:
    # what the child of l2tui.offload imports to decode a read's pages into a run's items
    code = ("import sys, pickle, l2tui.offload, l2tui.providers.odata.pages, l2tui.sync.side; "
            "print(sorted(m for m in ('requests', 'urllib3', 'msal', 'sqlalchemy', 'textual') "
            "if m in sys.modules))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
