"""Reading a provider: pages prefetched in a thread, so reading overlaps writing."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator

from l2tui.providers.base import Page, ReadStream

_DONE = object()


def prefetch(stream: ReadStream, depth: int = 1) -> Iterator[Page]:
    """Yield a stream's pages, reading up to ``depth`` pages ahead in a worker thread."""
    pages: queue.Queue[object] = queue.Queue(maxsize=depth)
    stop = threading.Event()

    def work() -> None:
        try:
            for page in stream:
                while not stop.is_set():
                    try:
                        pages.put(page, timeout=0.1)
                        break
                    except queue.Full:
                        continue
                if stop.is_set():
                    return
            pages.put(_DONE)
        except BaseException as exc:  # handed to the consumer
            pages.put(exc)

    thread = threading.Thread(target=work, name="l2tui-read", daemon=True)
    thread.start()
    try:
        while True:
            item = pages.get()
            if item is _DONE:
                return
            if isinstance(item, BaseException):
                raise item
            yield item  # type: ignore[misc]
    finally:
        stop.set()
        thread.join(timeout=5)
