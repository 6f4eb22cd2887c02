"""Reading an entity set: pages by @odata.nextLink, change tracking by @odata.deltaLink."""

from __future__ import annotations

import marshal
import queue
import threading
from collections import deque
from collections.abc import Callable, Generator, Iterator, Mapping
from dataclasses import dataclass, replace
from typing import Any
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import requests

from l2tui import offload
from l2tui.errors import ConfigError, ConnectError
from l2tui.providers.base import Page, ReadStream, RecordTransform, SeenFilter
from l2tui.providers.odata import keys_first
from l2tui.providers.odata.entity_schema import EntitySchema
from l2tui.providers.odata.http import HttpClient, HttpError, StopAsked, collection, safe_url
from l2tui.providers.odata.pages import (
    ASK,
    DECODE,
    FORMATTED,
    SEEN,
    PageDecoder,
    PageLinks,
    tail_next_link,
)

VALUE_SAFE = "$,()'=:/*@!-._~"


def build_query(options: list[tuple[str, str]]) -> str:
    """A query string from (name, literal value) pairs; spaces as %20, never '+'."""
    return "&".join(f"{quote(n, safe='$@')}={quote(v, safe=VALUE_SAFE)}" for n, v in options)


@dataclass(frozen=True)
class ReadPlan:
    """What a read asks for: the first URL, page size, whether the query allows change tracking
    (the entity set must offer it too) and the selected columns (None: every column; the key is
    always kept). Made without the schema: a delta read can ask before the schema is loaded."""

    url: str
    page_size: int | None
    track_changes: bool
    columns: frozenset[str] | None
    entity_url: str = ""  # the address of the entity set, and the query's options (a read
    options: tuple[tuple[str, str], ...] = ()  # keys first asks with other options: keys_first)
    parallel: int = 1  # requests at once a read may send (keys first: rows by key)
    formatted: bool = False  # the select names `<x>name` columns: FormattedValue asked for

    def prefer(self, track: bool) -> str:
        """The Prefer header for one request."""
        prefs = []
        if self.page_size:
            prefs.append(f"odata.maxpagesize={self.page_size}")
        if track:
            prefs.append("odata.track-changes")
        if self.formatted:
            prefs.append(f'odata.include-annotations="{FORMATTED}"')
        return ",".join(prefs)

    def with_labels(self, labels: Mapping[str, str]) -> ReadPlan:
        """This plan as the service is asked for it when its select names `<x>name` columns
        (``labels``: name column → base property): ``$select`` names each base instead (the
        service knows no property of that name), and the base's FormattedValue annotation is
        asked for; the plan itself where it names none."""
        if self.columns is None or not self.columns.intersection(labels):
            return self
        options = tuple((name, _label_select(value, labels) if name == "$select" else value)
                        for name, value in self.options)
        return replace(self, url=f"{self.entity_url}?{build_query(list(options))}",
                       options=options, formatted=True)


def _label_select(select: str, labels: Mapping[str, str]) -> str:
    """A ``$select`` with each `<x>name` column replaced by its base property (once)."""
    names = (labels.get(name, name) for name in (c.strip() for c in select.split(",")) if name)
    return ",".join(dict.fromkeys(names))


def refused_select(exc: HttpError, plan: ReadPlan) -> HttpError | ConfigError:
    """A 400 answer to a read's first request of the entity set, asked with query options: the
    select's fault (a filter the service cannot parse, a column it does not know), a setting to
    mend; any other error as it is."""
    if exc.status != 400 or not plan.options:
        return exc
    why = exc.service_message or f"{exc.status} Bad Request"
    return ConfigError(f"the service refused the select: {why}", key="select")


OFFLOAD_MIN_ROWS = 1000
"""A read whose first page holds this many rows or more, and has a next page, decodes its later
pages in a second process (when ``offload.useful``): below that, starting one costs more."""


class PageFetcher:
    """Fetches a read's next pages in a thread of its own, ahead of the reader, following the
    next link at the end of each body (``tail_next_link``); at most ``AHEAD`` pages wait.

    The reader takes the pages in order (``take``): the fetch of one then overlaps the
    decoding of the one before and the ``seen`` questions about it, which the reading thread
    answers. A page off that chain, or after one whose link is not at its end, is fetched by
    the reader itself. A failed fetch is raised by the ``take`` of its page.
    """

    AHEAD = 2

    def __init__(self, http: HttpClient, headers: dict[str, str], url: str) -> None:
        self._http, self._headers = http, headers
        self._fetched: queue.SimpleQueue[tuple[requests.Response | None, str | None,
                                               BaseException | None]] = queue.SimpleQueue()
        self._room = threading.Semaphore(self.AHEAD)
        self._stopped = threading.Event()
        self._next: str | None = url  # the address the thread fetches next (None: it stopped)
        # (its GETs are sent from it directly; ``take`` is what the run's stop ends)
        http.soon(self._fetch, url, name="l2tui-fetch")

    def _fetch(self, url: str | None) -> None:
        while url is not None:
            self._room.acquire()
            if self._stopped.is_set():
                return
            try:
                response = self._http.request("GET", url, headers=self._headers)
                url = tail_next_link(response.content)
            except BaseException as exc:  # noqa: BLE001  (raised by the reader's take)
                self._fetched.put((None, None, exc))
                return
            self._fetched.put((response, url, None))

    def take(self, address: str) -> tuple[requests.Response, str | None]:
        """The response for ``address`` and the next page's address its end shows (if any)."""
        if address != self._next:
            self.close()  # (off the thread's chain)
            here = self._http.request("GET", address, headers=self._headers)
            return here, tail_next_link(here.content)
        fetched, tail, failed = self._wait()
        self._room.release()
        if failed is not None:
            self._next = None
            raise failed
        assert fetched is not None
        self._next = tail
        return fetched, tail

    def _wait(self) -> tuple[requests.Response | None, str | None, BaseException | None]:
        """The thread's next fetch, or StopAsked once the run is asked to stop."""
        stop = self._http.stop
        while True:
            try:
                return self._fetched.get(timeout=0.1)
            except queue.Empty:
                if stop is not None and stop.is_set():
                    raise StopAsked.while_waiting() from None

    def take_json(self, address: str) -> Any:
        """``take``'s response for ``address``, parsed (a page: its shape checked)."""
        response, _ = self.take(address)
        return collection(address, self._http.json_of("GET", address, response))

    def close(self) -> None:
        """Stop fetching (a fetch under way ends on its own; its page is dropped)."""
        self._next = None
        self._stopped.set()
        self._room.release()  # (wakes the thread if it waits for room)


class ODataReadStream(ReadStream):
    """Pages of a full read, or of a delta read from a deltaLink cursor (falling back to full).

    The schema is asked for (``schema``, the provider's loader) only when a page is converted or
    a full read starts: a delta read's first request goes out while the schema may still load.
    Given a ``transform``, a long read decodes its pages after the first two in a second process,
    while a thread fetches the next (``PageFetcher``) and this one answers the ``seen``
    questions (see ``OFFLOAD_MIN_ROWS``).
    """

    def __init__(self, http: HttpClient, schema: Callable[[], EntitySchema], plan: ReadPlan,
                 cursor: str | None, log: Callable[[str], None], *,
                 seen: SeenFilter | None = None,
                 transform: RecordTransform | None = None) -> None:
        self.http = http
        self.seen = seen
        self.transform = transform
        self._schema_of = schema
        self._schema: EntitySchema | None = None
        self._decoder: PageDecoder | None = None
        self.plan = plan
        self.start_cursor = cursor
        self.log = log
        self.pages = 0
        self.rows = 0
        # a full read whose changes the service tracks (it answered Preference-Applied:
        # odata.track-changes): its last page carries a deltaLink
        self.tracked = False

    @property
    def schema(self) -> EntitySchema:
        """The entity set's schema (loaded by the provider on first use)."""
        if self._schema is None:
            self._schema = self._schema_of()
        return self._schema

    @property
    def decoder(self) -> PageDecoder:
        """This read's page decoder (made once the schema is needed)."""
        if self._decoder is None:
            self._decoder = PageDecoder(self.schema, self.plan.columns, self.transform)
        return self._decoder

    def __iter__(self) -> Iterator[Page]:
        self.cursor = None
        self.is_delta = self.tracked = False
        first: Any = None
        url = self.plan.url
        track = False
        if self.start_cursor:
            first = self._open_delta(self.start_cursor)
            if first is not None:
                self.is_delta = True
                url = self.start_cursor
        if first is None:
            self.plan = self.plan.with_labels(self.schema.labels)
            url = self.plan.url
            track = self.plan.track_changes and self.schema.change_tracking
            if not track and self.seen is not None and self.plan.entity_url and \
                    keys_first.possible(self.plan.options, self.schema.key, self.schema.dataverse):
                answers = yield from self._keys_first(self.seen)
                if answers is None:
                    return
                self.seen = keys_first.answered_first(self.seen, answers)
            # its second process starts while the first page is asked for (see _start_ahead)
            spare = self._start_ahead()
            try:
                first, url, track = self._open_full(url, track)
            except BaseException:
                if isinstance(spare, offload.Offload):
                    spare.close()
                raise
            yield from self._decoded_here(first, url, track, spare=spare)
        else:
            yield from self._decoded_here(first, url, track)
        self.log(
            f"read {self.rows} row{'' if self.rows == 1 else 's'} in {self.pages} "
            f"page{'' if self.pages == 1 else 's'} from {self.schema.entity_set}"
            f"{' (changes only)' if self.is_delta else ''}"
        )

    def _keys_first(self, seen: SeenFilter) -> Generator[Page, None, keys_first.Answers | None]:
        """A full read by keys and ETags first (``keys_first``); the answers about its first
        page if it found most of those rows unseen, nothing handed on (then: a full read)."""
        entity_url = self.plan.entity_url
        headers = {"Prefer": self.plan.prefer(False)}
        read = keys_first.KeysFirstRead(
            self.http, lambda options: f"{entity_url}?{build_query(options)}",
            lambda url: self._fetched_ahead(url, headers), list(self.plan.options),
            self.decoder, seen, headers, self.plan.parallel)
        answers = yield from read.pages()
        if answers is not None:
            self.log(f"most of the first {len(answers)} rows have a new version; reading every "
                     "row in full")
            return answers
        self.log(f"read {read.keys_read} key{'' if read.keys_read == 1 else 's'} and ETags, "
                 f"then {read.rows_read} changed row{'' if read.rows_read == 1 else 's'} by key "
                 f"in {read.requests} request{'' if read.requests == 1 else 's'}, "
                 f"from {self.schema.entity_set}")
        return None

    def _fetched_ahead(self, url: str, headers: dict[str, str]
                       ) -> Generator[tuple[str, Any], None, None]:
        """Each page of a read (its address and parsed body) from ``url`` on, the next fetched
        while the caller works on one (``PageFetcher``)."""
        fetcher = PageFetcher(self.http, headers, url)
        try:
            try:
                body = fetcher.take_json(url)
            except HttpError as exc:
                raise refused_select(exc, self.plan) from None
            while True:
                links = PageLinks.of(body)
                yield url, body
                if not links.next_link:
                    return
                url = urljoin(links.base(url), links.next_link)
                body = fetcher.take_json(url)
        finally:
            fetcher.close()

    def _decoded_here(self, body: Any, url: str, track: bool, *, may_offload: bool = True,
                      spare: offload.Offload | offload.OffloadError | None = None
                      ) -> Iterator[Page]:
        """The pages from ``body`` (fetched from ``url``) on, decoded in this process; once a
        page shows the read is long, the rest in a second one (``may_offload``).

        That process is the one started ahead of the read (``spare``: the next page goes to it),
        or else starts before the page is converted, and the page after it is still decoded
        here: the process's start (an interpreter and its imports, ~0.2 s) overlaps work this one
        would otherwise wait through. From then on a thread fetches the next pages
        (``PageFetcher``) while this one decodes, and the second process goes on with them. One
        started ahead for a read that proves short is closed unused."""
        worker: offload.Offload | None = None
        fetcher: PageFetcher | None = None  # once the read is long: the next pages, fetched ahead
        here = 0  # pages still decoded here while the second process starts
        headers = {"Prefer": self.plan.prefer(track or self.is_delta)}
        try:
            while True:
                # take what the links need, then drop the parsed body before handing the page
                # on: a page's JSON (dicts of every entity) is as large as its records, and the
                # consumer may hold the page for a while
                links = PageLinks.of(body)
                base = links.base(url)
                if worker is None and may_offload and self._worth_offloading(body, links):
                    here = 0 if isinstance(spare, offload.Offload) else 1
                    worker, spare = self._second_process(spare), None
                    may_offload = worker is not None  # (one that cannot start: not tried again)
                    if worker is not None:  # the next pages come while this one is decoded
                        fetcher = PageFetcher(self.http, headers, urljoin(base, links.next_link))
                page = self._page(body)
                body = None
                yield page
                del page
                self._keep_cursor(links, base, track)
                if not links.next_link:
                    self._check_end(links)
                    return
                url = urljoin(base, links.next_link)
                if worker is not None:
                    if not here:
                        started, ahead, worker, fetcher = worker, fetcher, None, None
                        yield from self._decoded_there(started, url, headers, track, ahead)
                        return
                    here -= 1
                body = fetcher.take_json(url) if fetcher is not None else \
                    self.http.get_collection(url, headers)
        finally:
            for process in (worker, spare):
                if isinstance(process, offload.Offload):
                    process.close()
            if fetcher is not None:
                fetcher.close()

    def _may_offload(self) -> bool:
        """Whether a long read would decode in a second process (a transform, and the CPUs)."""
        return self.transform is not None and offload.useful()

    def _worth_offloading(self, body: Any, links: PageLinks) -> bool:
        return bool(links.next_link) and len(body.get("value") or ()) >= OFFLOAD_MIN_ROWS and \
            self._may_offload()

    def _start_ahead(self) -> offload.Offload | offload.OffloadError | None:
        """A second process for a full read, started before its first page is asked for: its
        start overlaps the wait for that page, and a long read decodes from its second page there
        (a run of 100,000 accounts whose cursor was dropped was faster in 20 of 26 alternating
        pairs; a first sync's ratio to its floor did not move beyond the noise). None where no
        process would be used; one that cannot start is its error, said if the read proves long."""
        if not self._may_offload():
            return None
        try:
            return offload.Offload(self.decoder)
        except offload.OffloadError as exc:
            return exc

    def _second_process(self, spare: offload.Offload | offload.OffloadError | None = None
                        ) -> offload.Offload | None:
        """A second process to decode this read's later pages (the ``spare`` started ahead, else
        a new one); None (said in the log) if it cannot start: the read then goes on here."""
        try:
            if isinstance(spare, offload.OffloadError):
                raise spare
            worker = spare if spare is not None else offload.Offload(self.decoder)
        except offload.OffloadError as exc:
            self.log(f"decoding the pages here: {exc}")
            return None
        self.log("decoding the pages in a second process")
        return worker

    def _decoded_there(self, worker: offload.Offload, url: str, headers: dict[str, str],
                       track: bool, fetcher: PageFetcher | None = None) -> Iterator[Page]:
        """The pages from ``url`` on, decoded in ``worker``, a second process: while it decodes
        one page, this one asks ``seen`` about the one before, and a thread fetches the next
        (``PageFetcher``). If that process stops, the read goes on here from the first page not
        yet handed on."""
        seen = None if self.is_delta else self.seen
        how = DECODE + (ASK if seen is not None else b"-")
        # sent, not yet handed on: address, response, and the next page's address as the end
        # of the body shows it (``tail_next_link``); at most this page and the next
        sent: deque[tuple[str, requests.Response, str | None]] = deque()
        fetcher = fetcher or PageFetcher(self.http, headers, url)
        # a page fetched ahead that failed: raised when its turn comes, after the pages before it
        failed: list[Exception] = []

        def post(address: str, fetched: tuple[requests.Response, str | None]) -> None:
            response, tail = fetched
            sent.append((address, response, tail))
            worker.send(response.content, prefix=how)

        def send(address: str) -> None:
            post(address, fetcher.take(address))

        def send_ahead(address: str) -> None:
            if failed:
                return
            try:
                fetched = fetcher.take(address)
            except Exception as exc:  # noqa: BLE001  (raised at its own page, below)
                failed.append(exc)
                return
            post(address, fetched)

        def top_up() -> None:
            # the next page is asked for as soon as the end of the last body names it: the
            # second process decodes one page while the next one comes
            if len(sent) == 1 and sent[-1][2] is not None:
                send_ahead(sent[-1][2])

        try:
            send(url)
            top_up()
            links, answer = PageDecoder.links(worker.receive()), None
            while True:
                address = sent[0][0]
                base = links.base(address)
                ahead = urljoin(base, links.next_link) if links.next_link else None
                if len(sent) > 1 and sent[1][0] != ahead:
                    raise offload.OffloadError("a page's links read from its end were not its "
                                               "links")
                if ahead and len(sent) == 1:
                    send_ahead(ahead)  # fetched while the second process works on this page
                if answer is None:
                    answer = worker.receive()
                following = None
                if answer[0] == "ask":
                    assert seen is not None
                    worker.send(marshal.dumps(sorted(seen(answer[1], answer[2]))), prefix=SEEN)
                    if len(sent) > 1:  # (the next page's answers come before this one's)
                        following = PageDecoder.links(worker.receive()), worker.receive()
                    answer = worker.receive()
                page = PageDecoder.received(answer)
                sent.popleft()
                self._count(page)
                yield page
                del page
                self._keep_cursor(links, base, track)
                top_up()  # (after the page is handed on: a failure here goes on from the next)
                if not ahead:
                    self._check_end(links)
                    return
                if not sent:  # the next page could not be fetched
                    raise failed[0]
                links, answer = following or (PageDecoder.links(worker.receive()), None)
        except offload.OffloadError as exc:
            fetcher.close()
            self.log(f"{exc}; decoding the pages here")
            address, response, _ = sent[0]
            body = collection(address, self.http.json_of("GET", address, response))
            sent.clear()
            yield from self._decoded_here(body, address, track, may_offload=False)
        except ValueError:
            for address, response, _ in sent:  # raises for the first not JSON, or no page
                collection(address, self.http.json_of("GET", address, response))
            raise
        finally:
            fetcher.close()
            worker.close()

    def _keep_cursor(self, links: PageLinks, base: str, track: bool) -> None:
        if links.delta_link and (track or self.is_delta):
            self.cursor = urljoin(base, links.delta_link)

    def _check_end(self, links: PageLinks) -> None:
        """The last page of a full read whose changes the service tracks ends with a deltaLink:
        one with rows before it but without that link was cut short, and the rows after it, not
        known, are not taken as deleted. (A delta read takes nothing as deleted that it did not
        list, and keeps its cursor without a new one: the doc says one with nothing to tell may
        come empty.)"""
        if self.tracked and not links.delta_link and self.rows:
            raise ConnectError(
                f"GET {safe_url(self.plan.url)}: page {self.pages} of the read has neither a next "
                "page nor a change-tracking link (a tracked read ends with one): the service's "
                "answer was cut short; rows not read are not taken as deleted; run again")

    def _open_full(self, url: str, track: bool) -> tuple[Any, str, bool]:
        """The first page of a full read (a 400 with tracking asked: again without it)."""
        try:
            try:
                response = self.http.request("GET", url, headers={"Prefer": self.plan.prefer(track)})
                self.tracked = track and "odata.track-changes" in \
                    response.headers.get("Preference-Applied", "")
                return collection(url, self.http.json_of("GET", url, response)), url, track
            except HttpError as exc:
                if not track or exc.status != 400:
                    raise
                self.log(f"change tracking refused ({exc.service_message}); reading without it")
                return self.http.get_collection(url, {"Prefer": self.plan.prefer(False)}), url, \
                    False
        except HttpError as exc:
            raise refused_select(exc, self.plan) from None

    def _open_delta(self, cursor: str) -> Any:
        """The first delta page, or None when the cursor is not usable (then: full read)."""
        if not self._cursor_matches(cursor):
            self.log("the saved change-tracking cursor is for another query; reading everything")
            return None
        # the service made the cursor, in a JSON answer: one that is not JSON now is a page in
        # its place (a proxy's), not a URL that names no OData service (the describe, sent at
        # the same time, may not have answered yet)
        self.http.json_seen = True
        try:
            return self.http.get_collection(cursor, {"Prefer": self.plan.prefer(True)})
        except HttpError as exc:
            # throttled past the retries (429) says nothing of the cursor: a full read would only
            # ask the service for more
            if exc.status in (401, 403, 429) or exc.status < 400 or exc.status >= 500:
                raise
            self.log(
                f"the service refused the change-tracking cursor ({exc.status}"
                f"{': ' + exc.service_message if exc.service_message else ''}); reading everything"
            )
            return None

    def _cursor_matches(self, cursor: str) -> bool:
        """Whether the cursor is for this read's query. One asked without `<x>name` columns
        is known without the schema; else the plan becomes the one asked for them."""
        if _same_query(cursor, self.plan.url):
            return True
        labelled = self.plan.with_labels(self.schema.labels)
        if labelled is self.plan or not _same_query(cursor, labelled.url):
            return False
        self.plan = labelled
        return True

    def _page(self, body: dict[str, Any]) -> Page:
        # a delta page holds changes: nothing in it has been seen
        page = self.decoder.page(body, None if self.is_delta else self.seen)
        self._count(page)
        return page

    def _count(self, page: Page) -> None:
        self.pages += 1
        self.rows += page.size


def _same_query(cursor: str, url: str) -> bool:
    """Whether a change-tracking cursor continues a read of ``url`` (its set and $select)."""
    if safe_url(cursor) != safe_url(url):
        return False
    mine = dict(parse_qsl(urlsplit(url).query))
    theirs = dict(parse_qsl(urlsplit(cursor).query))
    return mine.get("$select") == theirs.get("$select") and "$deltatoken" in theirs
