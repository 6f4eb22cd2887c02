"""Keep a long run's memory flat under glibc: large transient buffers go back to the system.

glibc serves blocks above its mmap threshold (128 KiB) by ``mmap`` and returns them on free,
but it raises the threshold to the size of any such block freed, up to 32 MiB. After the first
page of a read is freed, every later page body (megabytes of JSON text) lands on the heap, where
blocks freed between long-lived small ones cannot be returned: measured here, a 100,000-row run
crept from 117 to 136 MiB; with the threshold fixed it stayed at 112 MiB. Setting the threshold
explicitly turns the adjustment off. Elsewhere than glibc this does nothing.

The C library is the process's own symbols (``dlopen(NULL)``), not ``ctypes.util.find_library``,
which starts ``ldconfig`` (or a compiler) at every run's start to find a library already loaded.
"""

from __future__ import annotations

import contextlib
import ctypes

_M_MMAP_THRESHOLD = -3  # malloc.h
_THRESHOLD = 128 * 1024  # glibc's own starting value

_done = False


def return_large_buffers() -> bool:
    """Fix glibc's mmap threshold (once per process); whether it was set."""
    global _done
    if _done:
        return True
    with contextlib.suppress(OSError, AttributeError, TypeError):
        libc = ctypes.CDLL(None)  # this process's symbols: the C library it runs on
        if hasattr(libc, "mallopt") and hasattr(libc, "gnu_get_libc_version"):
            _done = bool(libc.mallopt(_M_MMAP_THRESHOLD, _THRESHOLD))
    return _done
