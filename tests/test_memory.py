"""A long run gives its large transient buffers (page bodies) back to the system."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent

_PROBE = textwrap.dedent("""
    import sys
    sys.path.insert(0, sys.argv[1])
    if sys.argv[2] == "fixed":
        from l2tui.memory import return_large_buffers
        assert return_large_buffers()
    def rss():
        return int(open("/proc/self/statm").read().split()[1]) * 4096
    keep = []
    for _ in range(3):
        block = bytearray(16 << 20)
        for i in range(0, len(block), 4096):
            block[i] = 1  # touched: resident
        keep.append([bytes(100) for _ in range(1000)])  # small objects that outlive it
        del block
    print(rss() >> 20)
""")


def _resident_mib(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _PROBE, str(REPO), mode], capture_output=True,
                         text=True, check=True)
    return int(out.stdout)


@pytest.mark.skipif(not Path("/proc/self/statm").exists() or sys.platform != "linux",
                    reason="reads resident memory from /proc (Linux)")
def test_freed_page_sized_buffers_leave_the_process() -> None:
    # glibc alone keeps a freed 16 MiB block on its heap after the first one; fixed, it does not
    plain, fixed = _resident_mib("plain"), _resident_mib("fixed")
    assert fixed + 8 <= plain


_NO_PROGRAMS = textwrap.dedent("""
    import subprocess, sys
    sys.path.insert(0, sys.argv[1])
    def refuse(*args, **kwargs):
        raise AssertionError(f"started a program: {args[0]!r}")
    subprocess.Popen = refuse
    from l2tui.memory import return_large_buffers
    print(return_large_buffers())
""")


@pytest.mark.skipif(sys.platform != "linux", reason="glibc's mallopt (Linux)")
def test_fixing_the_threshold_starts_no_program() -> None:
    # a run does this at its start: finding the C library by ctypes.util.find_library would
    # start ldconfig (or a compiler) each time
    out = subprocess.run([sys.executable, "-c", _NO_PROGRAMS, str(REPO)], capture_output=True,
                         text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "True"
