"""Keys first: a full read without change tracking, given a seen filter, reads keys and ETags,
then only the rows the filter has not seen, by key."""

from __future__ import annotations

import dataclasses
import threading
import time
from operator import itemgetter

import pytest

from l2tui.providers.odata import keys_first
from l2tui.providers.odata.http import StopAsked

FILTERED = "$select=name,statecode&$filter=statecode eq 0"  # a $filter: no change tracking


def read_all(stream):
    pages = list(stream)
    return pages, [r for p in pages for r in p.records]


def active_ids(crm) -> list[str]:
    rows = crm.emu.store.live_rows("accounts")
    return sorted(guid for guid, row in rows.items() if row["statecode"] == 0)


def by_key_requests(crm) -> list[str]:
    return [r for r in crm.emu.recent_requests if "Microsoft.Dynamics.CRM.In" in r]


class Seen:
    """A seen filter that has seen every key but ``unseen``; it records each key asked about."""

    def __init__(self, unseen: set[str], then=None) -> None:
        self.unseen, self.then = unseen, then
        self.asked: list[str] = []

    def __call__(self, keys, versions):
        assert all(v and v.startswith('W/"') for v in versions)
        self.asked += [key for key, in keys]
        if self.then is not None:
            self.then()
            self.then = None
        return {i for i, (key,) in enumerate(keys) if key not in self.unseen}


def read_all_but(crm, unseen: set[str], page_size: int, transform=None) -> None:
    """A read of ``FILTERED`` in pages of ``page_size``, whose seen filter has seen every row but
    ``unseen``: it hands on those rows alone, counts the others as skipped, and asks about
    each key once, in order. With a ``transform`` (its first field: the key), as items."""
    ids = active_ids(crm)
    seen = Seen(unseen)
    provider = crm.provider(crm.emu.connection_string() + f"PageSize={page_size};",
                            select=FILTERED)
    crm.emu.recent_requests.clear()
    pages = list(provider.read(seen=seen, transform=transform))
    read = [item[0] for p in pages for item in p.items] if transform else \
        [r["accountid"] for p in pages for r in p.records]
    assert sorted(read) == sorted(unseen)
    assert sum(p.skipped for p in pages) == len(ids) - len(unseen)
    assert seen.asked == ids


def test_a_read_without_change_tracking_asks_for_keys_then_only_the_unseen_rows(crm):
    ids = active_ids(crm)
    unseen = {ids[5], ids[77], ids[140]}
    seen = Seen(unseen)
    crm.emu.recent_requests.clear()
    pages, records = read_all(crm.provider(select=FILTERED).read(seen=seen))
    assert sorted(r["accountid"] for r in records) == sorted(unseen)
    assert all(r["name"] and r["statecode"] == 0 for r in records)
    assert sum(p.skipped for p in pages) == len(ids) - 3
    assert seen.asked == ids  # each key once, in the service's order
    reads = [r for r in crm.emu.recent_requests if r.startswith("GET /api/data/v9.2/accounts?")]
    assert reads[0].startswith("GET /api/data/v9.2/accounts?$select=accountid&$filter=statecode")
    assert len(reads) == 2 and len(by_key_requests(crm)) == 1
    assert any("read 180 keys and ETags, then 3 changed rows by key in 1 request" in line
               for line in crm.logs)


def test_rows_asked_for_by_key_are_read_as_they_are_then(crm):
    ids = active_ids(crm)
    renamed, gone, left_the_filter = ids[1], ids[2], ids[3]
    store = crm.emu.store

    def meanwhile() -> None:  # between the keys and the rows
        store.update("accounts", renamed, {"name": "Renamed Ltd"})
        store.delete("accounts", gone)
        store.update("accounts", left_the_filter, {"statecode": 1})

    seen = Seen({renamed, gone, left_the_filter}, then=meanwhile)
    _, records = read_all(crm.provider(select=FILTERED).read(seen=seen))
    assert [(r["accountid"], r["name"]) for r in records] == [(renamed, "Renamed Ltd")]


def test_rows_by_key_are_asked_for_a_hundred_a_request_over_pages_of_keys(make_crm):
    crm = make_crm(rows=2000, auth=False)
    ids = active_ids(crm)
    unseen = set(ids[::5])  # 1 in 5 of each page of keys: under a quarter, 200 of a 1000
    read_all_but(crm, unseen, page_size=1000)
    keys_pages = -(-len(ids) // 1000)
    per_page = [len(set(ids[i:i + 1000]) & unseen) for i in range(0, len(ids), 1000)]
    assert len(by_key_requests(crm)) == sum(-(-n // keys_first.KEYS_PER_REQUEST)
                                            for n in per_page) > keys_pages


def test_a_read_that_finds_most_rows_of_its_first_keys_unseen_reads_in_full(crm):
    ids = active_ids(crm)
    read_all_but(crm, set(ids[::2]), page_size=64)  # (the first page's keys asked once)
    assert by_key_requests(crm) == []
    assert any("most of the first 64 rows have a new version; reading every row" in line
               for line in crm.logs)


def test_a_row_changed_since_its_key_was_read_is_read_again_in_full(crm):
    ids = active_ids(crm)
    store = crm.emu.store
    seen = Seen(set(ids[::2]), then=lambda: store.update("accounts", ids[1], {"name": "New"}))
    _, records = read_all(crm.provider(select=FILTERED).read(seen=seen))
    assert {r["accountid"]: r["name"] for r in records}[ids[1]] == "New"  # seen at its old ETag


def test_a_read_with_change_tracking_or_an_order_is_not_read_keys_first(crm):
    for select in ("$select=name", "$select=name&$filter=statecode eq 0&$orderby=name"):
        crm.emu.recent_requests.clear()
        pages, records = read_all(crm.provider(select=select).read(seen=Seen(set())))
        assert records == [] and sum(p.skipped for p in pages) > 0
        assert by_key_requests(crm) == []
        assert not any("$select=accountid&" in r for r in crm.emu.recent_requests)


def test_a_read_without_a_seen_filter_is_not_read_keys_first(crm):
    crm.emu.recent_requests.clear()
    _, records = read_all(crm.provider(select=FILTERED).read())
    assert len(records) == len(active_ids(crm)) and by_key_requests(crm) == []


def test_verify_says_a_filtered_select_is_read_keys_first(crm):
    message = crm.provider(select=FILTERED).verify().message
    assert "change tracking off ($filter/$orderby/$top given): a run reads keys and ETags " \
        "first" in message
    assert "keys and ETags" not in crm.provider(select="$select=name").verify().message


def test_requests_by_key_of_one_page_of_keys_are_sent_together(make_crm):
    crm = make_crm(rows=2000, auth=False)
    ids = active_ids(crm)
    unseen = set(ids[::5])
    second = sorted(unseen & set(ids[:1000]))[keys_first.KEYS_PER_REQUEST]  # (its 2nd request)
    # the first request by key waits until the second comes: it comes only if sent beside it
    crm.emu.faults.hold_next(1, second, seconds=5, path_contains="/accounts",
                             query_contains="Microsoft.Dynamics.CRM.In")
    read_all_but(crm, unseen, page_size=1000)
    assert crm.emu.faults.holds_timed_out == 0


def test_a_long_read_in_full_after_its_first_keys_asks_the_second_process_s_pages_once(
        make_crm):
    crm = make_crm(rows=6000, auth=False)
    ids = active_ids(crm)
    # pages of 1,000 with a transform: the pages after the first two are decoded, and their
    # keys asked about, in a second process
    read_all_but(crm, set(ids[::2]), page_size=1000, transform=itemgetter("accountid", "name"))
    assert any("decoding the pages in a second process" in line for line in crm.logs)


def _chunks(keys: list[str]) -> list[list[str]]:
    """Keys as ``read_keys`` asks for them: a request per ``KEYS_PER_REQUEST``."""
    step = keys_first.KEYS_PER_REQUEST
    return [keys[i:i + step] for i in range(0, len(keys), step)]


def test_rows_read_by_key_are_asked_for_several_at_once_and_handed_on_in_order(make_crm):
    crm = make_crm(rows=400, auth=False)
    chunks = _chunks(sorted(crm.emu.store.live_rows("accounts"))[:300])
    # the first request by key waits until the second comes: it comes only if sent beside it;
    # answered last, its rows still come first
    crm.emu.faults.hold_next(1, chunks[1][0], seconds=5, path_contains="/accounts",
                             query_contains=chunks[0][0])
    crm.emu.recent_requests.clear()
    pages = list(crm.provider(select="$select=name").read_keys(
        [(key,) for chunk in chunks for key in chunk]))
    assert crm.emu.faults.holds_timed_out == 0
    assert [{r["accountid"] for r in page.records} for page in pages] == \
        [set(chunk) for chunk in chunks]
    assert len(by_key_requests(crm)) == 3
    assert any("read 300 of 300 rows by key from accounts" in line for line in crm.logs)


def test_a_stop_ends_rows_read_by_key_under_way(make_crm):
    crm = make_crm(rows=400, auth=False)
    keys = [(key,) for key in sorted(crm.emu.store.live_rows("accounts"))[:300]]
    stop = threading.Event()
    reader = crm.provider(select="$select=name",
                          context=dataclasses.replace(crm.context(), stop=stop))
    reader.schema()
    crm.emu.faults.delay_next(3, 8.0, method="GET", query_contains="Microsoft.Dynamics.CRM.In")
    threading.Timer(0.3, stop.set).start()
    started = time.monotonic()
    with pytest.raises(StopAsked):
        list(reader.read_keys(keys))
    assert time.monotonic() - started < 5
