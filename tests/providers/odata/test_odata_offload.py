"""A long read with a transform decodes its later pages in a second process (l2tui.offload).

The pages are the same as when this process decodes them; the read goes on here when that
process stops; it never outlives the read; a page that is not JSON is named as such.
"""

from __future__ import annotations

import dataclasses
import os
import signal
import sys
import threading
import time
from operator import itemgetter
from pathlib import Path

import pytest

from l2tui.errors import ConnectError

OFFLOADED = "decoding the pages in a second process"
# the fields a run would make of a record; an itemgetter pickles, as a transform must. revenue is
# a Decimal: those answers come back pickled, the others as marshal data
FIELDS = itemgetter("accountid", "name", "revenue", "modifiedon")


def fetching() -> list[threading.Thread]:
    """The threads fetching pages ahead (given a moment to end a fetch under way)."""
    deadline = time.monotonic() + 5
    while True:
        found = [t for t in threading.enumerate() if t.name == "l2tui-fetch" and t.is_alive()]
        if not found or time.monotonic() > deadline:
            return found
        time.sleep(0.02)


def helpers() -> list[int]:
    """This process's children running l2tui.offload."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            command = (entry / "cmdline").read_bytes()
        except OSError:
            continue
        parent = int(stat.rsplit(")", 1)[1].split()[1])
        if parent == os.getpid() and b"l2tui.offload" in command:
            found.append(int(entry.name))
    return found


@pytest.fixture
def long_crm(make_crm):
    """5,000 accounts read 1,000 a page: long enough to offload."""
    crm = make_crm(rows=5000, auth=False)
    crm.reader = crm.provider(crm.emu.connection_string() + "PageSize=1000;")
    return crm


def items_of(pages):
    return [fields for page in pages for fields in page.items]


def test_a_long_read_gives_the_same_items_decoded_in_a_second_process(long_crm, monkeypatch):
    stream = long_crm.reader.read(transform=FIELDS)
    there = list(stream)
    assert OFFLOADED in long_crm.logs
    monkeypatch.setenv("L2TUI_OFFLOAD", "0")
    long_crm.logs.clear()
    here_stream = long_crm.reader.read(transform=FIELDS)
    here = list(here_stream)
    assert OFFLOADED not in long_crm.logs
    assert [len(p.items) for p in there] == [1000] * 5
    assert items_of(there) == items_of(here)
    assert [p.versions for p in there] == [p.versions for p in here]
    assert stream.cursor and stream.cursor.split("$deltatoken=")[0] == \
        here_stream.cursor.split("$deltatoken=")[0]
    assert all(p.records == [] for p in there)


def test_a_short_read_is_decoded_here(open_crm):
    list(open_crm.provider(open_crm.emu.connection_string() + "PageSize=100;")
         .read(transform=FIELDS))
    assert OFFLOADED not in open_crm.logs
    assert helpers() == []  # (the one started for it, in case it was long, is gone)


def test_a_full_read_starts_its_second_process_while_its_first_page_is_awaited(long_crm):
    # (a long read then decodes from its second page there: its start overlapped the wait)
    long_crm.emu.faults.delay_next(1, 2.0, method="GET", path_contains="/accounts")
    pages = iter(long_crm.reader.read(transform=FIELDS))
    first: list = []
    waiting = threading.Thread(target=lambda: first.append(next(pages)))
    waiting.start()
    deadline = time.monotonic() + 1.5
    while not helpers() and time.monotonic() < deadline:
        time.sleep(0.02)
    started_while_waiting = bool(helpers()) and not first
    waiting.join()
    taken = [*first, *pages]  # (read to its end before any assert: no process outlives it)
    assert started_while_waiting
    assert len({fields[0] for fields in items_of(taken)}) == 5000
    assert OFFLOADED in long_crm.logs and helpers() == []


def test_a_read_without_a_transform_is_decoded_here(long_crm):
    pages = list(long_crm.reader.read())
    assert sum(len(p.records) for p in pages) == 5000
    assert OFFLOADED not in long_crm.logs


def test_the_read_goes_on_here_when_the_second_process_stops(long_crm):
    pages = iter(long_crm.reader.read(transform=FIELDS))
    # the first is decoded here, the second and third came from the second process
    taken = [next(pages), next(pages), next(pages)]
    (helper,) = helpers()
    os.kill(helper, signal.SIGKILL)
    taken += list(pages)
    assert len({fields[0] for fields in items_of(taken)}) == 5000
    assert any("the second process stopped" in line and "decoding the pages here" in line
               for line in long_crm.logs)


def test_the_second_process_ends_with_its_read(long_crm):
    list(long_crm.reader.read(transform=FIELDS))
    assert helpers() == []
    pages = iter(long_crm.reader.read(transform=FIELDS))
    next(pages), next(pages)
    assert len(helpers()) == 1
    pages.close()  # a run stopped midway closes its read
    assert helpers() == []


def test_a_read_closed_at_its_first_page_stops_the_second_process_started_for_it(long_crm):
    # the second process starts before the first page is handed on (before it is asked for)
    pages = iter(long_crm.reader.read(transform=FIELDS))
    next(pages)
    assert len(helpers()) == 1
    pages.close()
    assert helpers() == []


def test_a_read_whose_second_process_cannot_start_goes_on_here_and_tries_once(long_crm,
                                                                              monkeypatch):
    monkeypatch.setattr(sys, "executable", "/nonexistent/python3")
    pages = list(long_crm.reader.read(transform=FIELDS))
    assert len({fields[0] for fields in items_of(pages)}) == 5000
    failed = [line for line in long_crm.logs if "cannot start a second process" in line]
    assert len(failed) == 1 and "decoding the pages here" in failed[0]


def test_a_page_that_is_not_json_is_named_when_decoded_in_the_second_process(make_crm):
    # 10 pages: past the second, at most two are in the second process and two more fetched
    # ahead (and one on its way), so the next GET is a page still to be decoded there
    crm = make_crm(rows=10_000, auth=False)
    pages = iter(crm.provider(crm.emu.connection_string() + "PageSize=1000;")
                 .read(transform=FIELDS))
    next(pages), next(pages)  # (the first decoded here, the second there)
    crm.emu.faults.garble_next(1, method="GET")
    with pytest.raises(ConnectError, match="expected JSON, got text/html"):
        list(pages)
    assert OFFLOADED in crm.logs
    assert helpers() == []


def skip_even_keys(asked):
    """A ``seen`` filter that has seen every account whose GUID ends in an even digit; it keeps
    what it was asked, to check it."""

    def seen(keys, versions):
        asked.append(len(keys))
        assert all(versions)
        return {i for i, (key,) in enumerate(keys) if key[-1] in "02468"}

    return seen


def test_a_long_read_with_a_seen_filter_asks_it_about_every_page_decoded_there(long_crm,
                                                                                monkeypatch):
    asked_there, asked_here = [], []
    there = list(long_crm.reader.read(seen=skip_even_keys(asked_there), transform=FIELDS))
    assert OFFLOADED in long_crm.logs
    monkeypatch.setenv("L2TUI_OFFLOAD", "0")
    here = list(long_crm.reader.read(seen=skip_even_keys(asked_here), transform=FIELDS))
    assert asked_there == asked_here == [1000] * 5
    assert items_of(there) == items_of(here)
    assert [(p.skipped, p.versions) for p in there] == [(p.skipped, p.versions) for p in here]
    assert all(fields[0][-1] not in "02468" for fields in items_of(there))
    assert sum(p.size for p in there) == 5000


def test_a_long_read_fetches_its_next_pages_while_it_decodes_the_first(long_crm):
    pages = iter(long_crm.reader.read(transform=FIELDS))
    next(pages)  # (decoded here while the second process takes the next; those were asked for)
    assert [t for t in threading.enumerate() if t.name == "l2tui-fetch" and t.is_alive()]
    assert len({fields[0] for fields in items_of([*pages])}) == 4000
    assert fetching() == [] and helpers() == []


def test_a_page_that_fails_while_fetched_ahead_fails_the_read(long_crm):
    # the second page is fetched while the first is decoded (and the second process starts)
    long_crm.emu.faults.fail_next(1, status=403, method="GET",
                                  query_contains="pagenumber%3D%222%22")
    pages = iter(long_crm.reader.read(transform=FIELDS))
    assert next(pages).size == 1000
    with pytest.raises(ConnectError, match="access denied"):
        next(pages)
    assert fetching() == [] and helpers() == []


@pytest.mark.parametrize("asks", [False, True], ids=["plain", "with a seen filter"])
def test_a_page_that_fails_while_fetched_ahead_fails_the_read_after_the_pages_before_it(
        long_crm, asks):
    # the fifth page's request fails: the four before it are handed on first (the fourth was
    # being decoded while the fifth was fetched)
    long_crm.emu.faults.fail_next(1, status=403, method="GET",
                                  query_contains="pagenumber%3D%225%22")
    seen = skip_even_keys([]) if asks else None
    taken = []
    with pytest.raises(ConnectError, match="access denied"):
        for page in long_crm.reader.read(seen=seen, transform=FIELDS):
            taken.append(page)
    assert [page.size for page in taken] == [1000] * 4
    assert OFFLOADED in long_crm.logs
    assert fetching() == [] and helpers() == []


def test_a_read_closed_midway_stops_fetching_ahead(make_crm):
    crm = make_crm(rows=20000, auth=False)  # 20 pages: more than are fetched ahead
    pages = iter(crm.provider(crm.emu.connection_string() + "PageSize=1000;")
                 .read(transform=FIELDS))
    next(pages), next(pages), next(pages)  # (from the second, fetched in a thread)
    pages.close()
    assert fetching() == []


def test_a_stop_ends_the_wait_for_a_page_fetched_ahead_at_once(make_crm):
    """A long read's later pages are fetched ahead in a thread while the second process decodes:
    a stop asked while the service is slow to answer one ends the read's wait for it at once,
    not when the page comes (a systemd stop, 90 s, against a 120 s timeout)."""
    crm = make_crm(rows=5000, auth=False)
    stop = threading.Event()
    reader = crm.provider(crm.emu.connection_string() + "PageSize=1000;",
                          context=dataclasses.replace(crm.context(), stop=stop))
    crm.emu.faults.delay_next(10, 8.0, method="GET", query_contains="skiptoken")
    pages = iter(reader.read(transform=FIELDS))
    next(pages)  # (the first page, decoded here: the next is on its way, slowly)
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(ConnectError, match="asked to stop"):
        next(pages)
    assert time.monotonic() - started < 3
    pages.close()
    assert helpers() == []
