"""Reading a provider: pages prefetched in a thread, so reading overlaps writing."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from l2tui.providers.base import Page, ReadStream

_DONE = object()


def prefetch(stream: ReadStream, depth: int = 1) -> Iterator[Page]:
    """Yield a stream's pages, reading up to ``depth`` pages ahead in a worker thread.

    The worker takes a slot before it reads a page and the consumer gives it back when it takes
    the page, so at most ``depth`` pages wait besides the one being worked on (a bounded
    read-ahead: memory does not grow with a slow consumer).
    """
    pages: queue.Queue[object] = queue.Queue()
    slots = threading.Semaphore(depth)
    stop = threading.Event()

    def work() -> None:
        try:
            pulled = iter(stream)
            while True:
                while not slots.acquire(timeout=0.1):
                    if stop.is_set():
                        return
                if stop.is_set():
                    return
                page = next(pulled, _DONE)
                pages.put(page)
                if page is _DONE:
                    return
                del page
        except BaseException as exc:  # handed to the consumer
            pages.put(exc)

    thread = threading.Thread(target=work, name="l2tui-read", daemon=True)
    thread.start()
    try:
        while True:
            item = pages.get()
            slots.release()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
            del item
    finally:
        stop.set()
        thread.join(timeout=5)
