"""Reading a provider: pages prefetched in a thread, so reading overlaps writing."""

from __future__ import annotations

import queue
import threading
from collections.abc import Iterator
from typing import cast

from l2tui.errors import ConfigError
from l2tui.providers.base import Page, ReadStream

_DONE = object()


class Prefetch:
    """A stream's pages, read up to ``depth`` pages ahead in a worker thread started at once.

    The worker takes a slot before it reads a page and the consumer gives it back when it takes
    the page, so at most ``depth`` pages wait besides the one being worked on (a bounded
    read-ahead: memory does not grow with a slow consumer). Started before the run needs it, the
    first request is under way while the run gets ready; ``close`` stops the worker, taken or not.
    """

    def __init__(self, stream: ReadStream, depth: int = 1) -> None:
        self.stream = stream
        self._pages: queue.Queue[object] = queue.Queue()
        self._slots = threading.Semaphore(depth)
        self._stop = threading.Event()
        self._finished = False
        self._thread = threading.Thread(target=self._work, name="l2tui-read", daemon=True)
        self._thread.start()

    def _work(self) -> None:
        try:
            pulled = iter(self.stream)
            while True:
                while not self._slots.acquire(timeout=0.1):
                    if self._stop.is_set():
                        return
                if self._stop.is_set():
                    return
                page = next(pulled, _DONE)
                self._pages.put(page)
                if page is _DONE:
                    return
                del page
        except BaseException as exc:  # handed to the consumer
            self._pages.put(exc)

    def __iter__(self) -> Iterator[Page]:
        return self

    def __next__(self) -> Page:
        if self._finished:
            raise StopIteration
        item = self._pages.get()
        self._slots.release()
        if item is _DONE:
            self._finished = True
            self.close()
            raise StopIteration
        if isinstance(item, BaseException):
            self._finished = True
            self.close()
            raise item
        return cast(Page, item)

    def close(self) -> None:
        """Stop the worker (between pages) and wait for it a while."""
        self._stop.set()
        if self._thread.is_alive() and self._thread is not threading.current_thread():
            self._thread.join(timeout=5)


class EntityPages:
    """A side's pages whose configuration errors name the entity's key, as its describe's do
    (a select the service refused when the read began: ``entity1.select``)."""

    def __init__(self, pages: Iterator[Page], entity: int) -> None:
        self.pages = pages
        self.entity = entity

    def __iter__(self) -> Iterator[Page]:
        return self

    def __next__(self) -> Page:
        try:
            return next(self.pages)
        except ConfigError as exc:
            raise exc.within(self.entity) from None

    def close(self) -> None:
        """Stop the read underneath, if it can be stopped."""
        close = getattr(self.pages, "close", None)
        if close is not None:
            close()
