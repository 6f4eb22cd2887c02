"""What a process loads: ``l2tui run`` only the database dialects a connection uses; the second
process that decodes pages no HTTP, sign-in or database library."""

from __future__ import annotations

import pickle
import subprocess
import sys

from l2tui.providers import open_entity
from l2tui.providers.odata.pages import PageDecoder
from l2tui.sync.engine import plan_mapping
from l2tui.sync.side import SideInfo
from tests.sync.support import make_pair, sqlite_url


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


def test_a_runs_page_decoding_job_loads_no_http_sign_in_or_database_library(emulator,
                                                                              tmp_path) -> None:
    # the job as a run against a reflected SQL table sends it: the decoder, its schema and the
    # run's side (mapping plan and all), unpickled where it runs
    pair = make_pair(emulator, sqlite_url(tmp_path / "right.db"), "accounts")
    left, right = (open_entity(pair.conn, index, pair.paths) for index in (1, 2))
    side = SideInfo("left", plan_mapping(pair.conn, left, right))
    stream = left.read(None, transform=side.fields)
    job = pickle.dumps(PageDecoder(stream.schema, stream.plan.columns, side.fields))
    code = ("import sys; started = set(sys.modules); import pickle, l2tui.offload; "
            "pickle.loads(sys.stdin.buffer.read()); "
            "print(sorted({m.split('.')[0] for m in set(sys.modules) - started} "
            "- set(sys.stdlib_module_names) - {'l2tui'}))")
    out = subprocess.run([sys.executable, "-c", code], input=job, capture_output=True,
                         check=True)
    assert out.stdout.decode().strip() == "[]"  # nothing but the standard library and l2tui
