"""A full read that asks for keys and ETags first, then only the rows the run has not seen.

An incremental run without change tracking has to look at every row, but most rows have not
changed: their ETag is the one the state saved. Reading just the key (every entity carries its
ETag) moves a fifth of the bytes of a full page; the rows whose ETag the run has not seen are
then asked for by key (``Microsoft.Dynamics.CRM.In`` on the primary id, with the select's own
filter), a hundred a request, several at once. When the first page of keys shows that many
rows changed, asking by key would cost more than a plain read: the read goes on as a full one,
and the answers given for that page are not asked again.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Generator, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from typing import Any
from urllib.parse import urljoin

from l2tui.pools import thread_pool
from l2tui.providers.base import Key, Page, SeenFilter
from l2tui.providers.odata.http import HttpClient
from l2tui.providers.odata.pages import PageDecoder, PageLinks

KEYS_PER_REQUEST = 100
"""Rows asked for by key in one request (a URL of about 4 KB; Dataverse takes 32 KB)."""

MOST_UNSEEN = 0.25
"""The share of unseen rows on the first page of keys above which the read goes on in full."""

PLAIN_OPTIONS = ("$select", "$filter")
"""The query options a keys-first read can keep (and parameter aliases): with $orderby, $top or
$expand the rows asked for by key would not be the rows a full read returns."""

Answers = dict[Key, tuple[str | None, bool]]
"""The keys of a page a read asked ``seen`` about: each one's ETag, and whether it was seen."""


def possible(options: Sequence[tuple[str, str]], key: list[str], dataverse: bool) -> bool:
    """Whether a query can be read keys first: Dataverse (for ``In``), one key column, and no
    option but a select, a filter and aliases."""
    return dataverse and len(key) == 1 and all(
        name in PLAIN_OPTIONS or name.startswith("@") for name, _ in options)


def in_filter(key: str, values: list[Any]) -> str:
    """``Microsoft.Dynamics.CRM.In`` of the key column over key values (GUIDs, as sent)."""
    listed = ",".join("'" + str(v).replace("'", "''") + "'" for v in values)
    return f"Microsoft.Dynamics.CRM.In(PropertyName='{key}',PropertyValues=[{listed}])"


def query(options: list[tuple[str, str]], select: str | None,
          narrowed: str | None = None) -> list[tuple[str, str]]:
    """The select's options with another ``$select`` (None: none) and its ``$filter`` and-ed
    with ``narrowed``."""
    out = [("$select", select)] if select is not None else []
    filtered = False
    for name, value in options:
        if name == "$select":
            continue
        if name == "$filter" and narrowed:
            value, filtered = f"({value}) and {narrowed}", True
        out.append((name, value))
    if narrowed and not filtered:
        out.append(("$filter", narrowed))
    return out


def answered_first(seen: SeenFilter, answers: Answers) -> SeenFilter:
    """``seen`` for a full read after a page of keys was asked about: those keys are answered
    as they were (a row whose ETag has moved on since is not seen), the others asked."""

    def ask(keys: list[Key], versions: list[str | None]) -> set[int]:
        out: set[int] = set()
        rest: list[int] = []
        for index, (key, version) in enumerate(zip(keys, versions, strict=True)):
            known = answers.pop(key, None)
            if known is None:
                rest.append(index)
            elif known[1] and known[0] == version:
                out.add(index)
        if rest:
            said = seen([keys[i] for i in rest], [versions[i] for i in rest])
            out.update(rest[j] for j in said)
        return out

    return ask


class KeysFirstRead:
    """The pages of one keys-first read (``pages``), counted for the read's log line."""

    def __init__(self, http: HttpClient, url_of: Callable[[list[tuple[str, str]]], str],
                 chain: Callable[[str], Generator[tuple[str, dict[str, Any]], None, None]],
                 options: list[tuple[str, str]], decoder: PageDecoder, seen: SeenFilter,
                 headers: dict[str, str], parallel: int = 1) -> None:
        self.http = http
        self.url_of = url_of  # the entity set's address with these query options
        self.chain = chain  # a read's pages (address, body) from the first, fetched ahead
        self.options = options
        self.decoder = decoder
        self.seen = seen
        self.headers = headers
        self.parallel = max(1, parallel)  # requests by key at once (the connection's Parallel)
        self.key = decoder.schema.key[0]
        self.select = next((value for name, value in options if name == "$select"), None)
        self.keys_read = 0  # keys and ETags read
        self.rows_read = 0  # rows read by key
        self.requests = 0  # requests by key

    def pages(self) -> Generator[Page, None, Answers | None]:
        """The rows not seen, a page of them per page of keys (the seen ones counted in it as
        skipped). The rows of one page of keys are asked for in a thread while this one reads
        the next page of keys and asks ``seen`` about it.

        Returns (as the generator's value) the answers about the first page of keys when most
        of its rows were not seen: the caller then reads in full, nothing having been handed on.
        """
        keys_pages = self.chain(self.url_of(query(self.options, self.key)))
        by_key = ThreadPoolExecutor(1, thread_name_prefix="l2tui-by-key")
        asked: deque[tuple[int, Future[list[Page]]]] = deque()  # (skipped, rows by key)
        first = True
        try:
            for _, body in keys_pages:
                entries, _, versions = self.decoder.split(body)
                del body
                keys = self.decoder.keys(entries)
                drop = set(self.seen(keys, versions)) if versions else set()
                unseen = [key[0] for index, key in enumerate(keys) if index not in drop]
                if first and len(unseen) > MOST_UNSEEN * len(keys):
                    return {key: (versions[i] if versions else None, i in drop)
                            for i, key in enumerate(keys)}
                first = False
                self.keys_read += len(keys)
                asked.append((len(drop), by_key.submit(self._by_key, unseen)))
                if len(asked) > 1:
                    yield from _handed(*asked.popleft())
            while asked:
                yield from _handed(*asked.popleft())
            return None
        finally:
            keys_pages.close()  # (its thread stops fetching ahead)
            # a request under way ends on its own (a read stopped midway does not wait for it)
            by_key.shutdown(wait=False, cancel_futures=True)

    def _by_key(self, keys: list[Any]) -> list[Page]:
        """The rows of these keys that still meet the select's filter, in their order
        (``pages_by_key``: many rows changed on one page of keys would otherwise wait for one
        round trip after another)."""
        pages = [page for answered in pages_by_key(
            self.http, self.url_of, self.options, self.decoder, self.headers, keys,
            self.parallel) for page in answered]
        self.requests += len(pages)
        self.rows_read += sum(page.size for page in pages)
        return pages


def pages_by_key(http: HttpClient, url_of: Callable[[list[tuple[str, str]]], str],
                 options: list[tuple[str, str]], decoder: PageDecoder, headers: dict[str, str],
                 keys: list[Any], parallel: int) -> Iterator[list[Page]]:
    """Each request's pages (``rows_by_key``) for the rows of these key values, a request per
    ``KEYS_PER_REQUEST``, ``parallel`` at once, handed on in the keys' order (an error as the
    request it ended comes in that order). Closed early, or stopped by an error (the run's stop
    among them), it sends no request not yet begun and waits for none under way."""
    chunks = [keys[i:i + KEYS_PER_REQUEST] for i in range(0, len(keys), KEYS_PER_REQUEST)]

    def asked(chunk: list[Any]) -> list[Page]:
        return rows_by_key(http, url_of, options, decoder, headers, chunk)

    if len(chunks) > 1 and parallel > 1:
        with thread_pool(min(parallel, len(chunks)), "l2tui-by-key") as pool:
            yield from pool.map(asked, chunks)
    else:
        yield from map(asked, chunks)


def rows_by_key(http: HttpClient, url_of: Callable[[list[tuple[str, str]]], str],
                options: list[tuple[str, str]], decoder: PageDecoder, headers: dict[str, str],
                keys: list[Any]) -> list[Page]:
    """The pages of one request for the rows of these key values (at most
    ``KEYS_PER_REQUEST``) that meet the select's filter, following next links."""
    select = next((value for name, value in options if name == "$select"), None)
    narrowed = in_filter(decoder.schema.key[0], keys)
    url: str | None = url_of(query(options, select, narrowed))
    pages = []
    while url is not None:
        body = http.get_collection(url, headers)
        links = PageLinks.of(body)
        pages.append(decoder.page(body))
        url = urljoin(links.base(url), links.next_link) if links.next_link else None
    return pages


def _handed(skipped: int, rows: Future[list[Page]]) -> Iterator[Page]:
    """The pages of rows asked for by key, the first counting the keys seen as skipped."""
    pages = rows.result() or [Page()]
    pages[0].skipped = skipped
    yield from pages
