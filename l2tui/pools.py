"""Thread pools that an interrupt does not wait on."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager


@contextmanager
def thread_pool(workers: int, name: str = "") -> Iterator[ThreadPoolExecutor]:
    """A ``ThreadPoolExecutor`` that waits for its work when the block ends, but not when an
    exception (a Ctrl-C among them) leaves it: requests under way there end on their own, and
    the exception goes on at once instead of after a server that does not answer times out."""
    pool = ThreadPoolExecutor(workers, thread_name_prefix=name)
    try:
        yield pool
    except BaseException:
        pool.shutdown(wait=False, cancel_futures=True)
        raise
    pool.shutdown()
