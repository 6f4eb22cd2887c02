"""The read-ahead worker: pages in order, errors handed over, stopped whether read or not."""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest

from l2tui.providers.base import Page, ReadStream
from l2tui.sync.reading import Prefetch


class Numbers(ReadStream):
    """Pages of one record each, counting what was pulled; ``fail_at`` raises there."""

    def __init__(self, pages: int, fail_at: int | None = None) -> None:
        self.pages = pages
        self.fail_at = fail_at
        self.pulled = 0

    def __iter__(self) -> Iterator[Page]:
        for n in range(self.pages):
            if n == self.fail_at:
                raise ConnectionError("the service went away")
            self.pulled += 1
            yield Page(records=[{"n": n}])


def _workers() -> list[threading.Thread]:
    return [t for t in threading.enumerate() if t.name == "l2tui-read" and t.is_alive()]


def test_prefetch_yields_every_page_in_order_and_ends() -> None:
    pages = Prefetch(Numbers(5))
    assert [p.records[0]["n"] for p in pages] == [0, 1, 2, 3, 4]
    assert not _workers()


def test_a_read_error_reaches_the_consumer_after_the_pages_before_it() -> None:
    seen = []
    with pytest.raises(ConnectionError, match="went away"):
        for page in Prefetch(Numbers(5, fail_at=2)):
            seen.append(page.records[0]["n"])
    assert seen == [0, 1]


def test_a_prefetch_closed_unread_stops_its_worker_having_read_at_most_its_depth() -> None:
    stream = Numbers(100)
    pages = Prefetch(stream, depth=2)
    pages.close()
    assert not _workers()
    assert stream.pulled <= 2
