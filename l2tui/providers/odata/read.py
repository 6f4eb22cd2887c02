"""Reading an entity set: pages by @odata.nextLink, change tracking by @odata.deltaLink."""

from __future__ import annotations

import json
import marshal
import re
from collections import deque
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass
from decimal import InvalidOperation
from typing import Any, NamedTuple
from urllib.parse import parse_qsl, quote, urljoin, urlsplit

import requests

from l2tui import offload
from l2tui.providers.base import Key, Page, ReadStream, Record, RecordTransform, SeenFilter
from l2tui.providers.odata.http import HttpClient, HttpError, safe_url
from l2tui.providers.odata.schema import EntitySchema
from l2tui.providers.odata.values import Converter, converter, loads

VALUE_SAFE = "$,()'=:/*@!-._~"
_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_IN_PARENS = re.compile(r"\(([^()]*)\)\s*$")


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

    def prefer(self, track: bool) -> str:
        """The Prefer header for one request."""
        prefs = []
        if self.page_size:
            prefs.append(f"odata.maxpagesize={self.page_size}")
        if track:
            prefs.append("odata.track-changes")
        return ",".join(prefs)


class PageLinks(NamedTuple):
    """A page's links: the next page, the change-tracking cursor, the context (their base)."""

    next_link: str | None
    delta_link: str | None
    context: str | None

    @classmethod
    def of(cls, body: dict[str, Any]) -> PageLinks:
        """The links of a parsed page."""
        context = body.get("@odata.context")
        return cls(body.get("@odata.nextLink"), body.get("@odata.deltaLink"),
                   context if isinstance(context, str) else None)

    def base(self, request_url: str) -> str:
        """What the links are relative to: the context's service root, else the request's URL."""
        if self.context and urlsplit(self.context).scheme:
            return self.context.split("#", 1)[0]
        return request_url


DECODE, ASK, SEEN = b"D", b"A", b"S"  # the decoding job's frames (PageDecoder.__call__)

OFFLOAD_MIN_ROWS = 1000
"""A read whose first page holds this many rows or more, and has a next page, decodes its later
pages in a second process (when ``offload.useful``): below that, starting one costs more."""


_NEXT_LINK = b'"@odata.nextLink"'


def tail_next_link(body: bytes) -> str | None:
    """A page's next link read from the end of its body, before the body is decoded: where the
    link is among the body's last members (Dataverse writes it after ``value``) and absolute.
    None otherwise (then the decoded body tells).

    ``"@odata.nextLink"`` with its quotes cannot be inside a string (a quote there is escaped),
    and an entity's own links are named ``Nav@odata.nextLink``; what follows it must read as
    the rest of one JSON object, or it is not the page's last member.
    """
    at = body.rfind(_NEXT_LINK, max(0, len(body) - 65_536))
    if at < 0:
        return None
    try:
        tail = json.loads(b"{" + body[at:])
    except ValueError:
        return None
    link = tail.get("@odata.nextLink") if isinstance(tail, dict) else None
    return link if isinstance(link, str) and urlsplit(link).scheme in ("http", "https") else None


class PageDecoder:
    """A page's JSON → a Page: deletions set apart, versions, records converted, and the read's
    ``transform`` applied when it has one.

    It needs no network and no secret, so it can run in another process (``offload.Offload``):
    it pickles as its schema, kept columns and transform; the converter is built where it runs.
    """

    def __init__(self, schema: EntitySchema, columns: frozenset[str] | None,
                 transform: RecordTransform | None = None) -> None:
        self.schema = schema
        self.columns = columns
        self.transform = transform
        self._convert: Callable[[dict[str, Any]], Record] | None = None
        # as a job: pages decoded whose reader was asked which entries it has seen (oldest first)
        self._asking: deque[tuple[list[dict[str, Any]], list[Key], list[str | None]]] = deque()

    def __reduce__(self) -> tuple[Any, ...]:
        return (PageDecoder, (self.schema, self.columns, self.transform))

    def __call__(self, frame: bytes) -> Iterator[tuple[Any, ...]]:
        """The offload job. ``DECODE`` + a page's body: its links first (the reader asks for the
        next page meanwhile), then the page; or, for a reader with a ``seen`` filter (``ASK``
        after the tag), the keys and versions to ask it about. ``SEEN`` + the positions it has
        seen (marshal): the page that asked, without them. Answers are plain values, tagged
        (``links``, ``received`` read them). A body that is not JSON raises ValueError."""
        tag = frame[:1]
        if tag == SEEN:
            entries, deleted, versions = self._asking.popleft()
            yield self._plain(self._page(entries, deleted, versions, marshal.loads(frame[1:])))
            return
        asks = frame[1:2] == ASK
        body = loads(frame[2:])
        yield tuple(PageLinks.of(body))
        entries, deleted, versions = self._split(body)
        if asks and versions:
            self._asking.append((entries, deleted, versions))
            yield ("ask", self._keys(entries), versions)
            return
        yield self._plain(self._page(entries, deleted, versions, ()))

    @staticmethod
    def _plain(page: Page) -> tuple[Any, ...]:
        return ("page", page.items, page.records, page.deleted, page.versions, page.skipped)

    @staticmethod
    def links(answer: tuple[Any, ...]) -> PageLinks:
        """The links the job sent first."""
        return PageLinks(*answer)

    @staticmethod
    def received(answer: tuple[Any, ...]) -> Page:
        """A page the job sent."""
        _, items, records, deleted, versions, skipped = answer
        return Page(records=records, deleted=deleted, versions=versions, skipped=skipped,
                    items=items)

    def page(self, body: dict[str, Any], seen: SeenFilter | None = None) -> Page:
        """The page of a parsed body; ``seen`` (full reads only) names entries to leave out."""
        entries, deleted, versions = self._split(body)
        # before converting: the reader skips what it has seen
        drop = seen(self._keys(entries), versions) if seen is not None and versions else ()
        return self._page(entries, deleted, versions, drop)

    def _split(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Key],
                                                    list[str | None]]:
        """A body's entities, the keys of its deleted entities, and the entities' versions
        (none at all from a service without ETags)."""
        deleted, schema = [], self.schema
        entries = []
        for item in body.get("value") or []:
            if "@removed" in item or "@odata.context" in item:
                key = deleted_key(item, schema)
                if key is not None:
                    deleted.append(key)
                    continue
            entries.append(item)
        versions = [item.get("@odata.etag") for item in entries]
        return entries, deleted, versions if any(versions) else []

    def _page(self, entries: list[dict[str, Any]], deleted: list[Key],
              versions: list[str | None], drop: Collection[int]) -> Page:
        """The page of entries, converted (and transformed), but those at ``drop``."""
        page = Page(deleted=deleted)
        if drop:
            dropped = set(drop)
            kept = [i for i in range(len(entries)) if i not in dropped]
            entries, versions = [entries[i] for i in kept], [versions[i] for i in kept]
            page.skipped = len(dropped)
        convert = self.converter()
        if self.transform is None:
            page.records = [convert(item) for item in entries]
        else:
            made = self.transform
            page.items = [made(convert(item)) for item in entries]
        page.versions = versions
        return page

    def _keys(self, items: list[dict[str, Any]]) -> list[Key]:
        """Each entity's key as the service sent it (not converted: this is for every row of a
        page, most of which a run then skips)."""
        names = self.schema.key
        if len(names) == 1:
            name = names[0]
            return [(item.get(name),) for item in items]
        return [tuple(item.get(n) for n in names) for item in items]

    def converter(self) -> Callable[[dict[str, Any]], Record]:
        """A function turning one JSON entity into a record, built once per decoder.

        The column → converter table is resolved once, so a row costs a dict lookup per
        property; properties the read does not keep, and annotations, are skipped unconverted.
        """
        if self._convert is not None:
            return self._convert
        keep = self.columns
        if keep is not None:
            keep = keep | frozenset(self.schema.key)
        table: dict[str, Converter | None] = {}
        for column in self.schema.columns:
            if "@" not in column.name and (keep is None or column.name in keep):
                table[column.name] = converter(column.type)
        if keep is not None:
            for name in keep:  # kept, but not in the schema: passed through as they are
                if "@" not in name:
                    table.setdefault(name, None)
            self._convert = _compile_converter(table)
            return self._convert
        lookup = table.get
        unknown = _MISSING

        def convert(item: dict[str, Any]) -> Record:
            out: Record = {}
            for name, value in item.items():
                fn = lookup(name, unknown)
                if fn is unknown:
                    if "@" not in name:
                        out[name] = value
                    continue
                if fn is None or value is None:
                    out[name] = value
                    continue
                try:
                    out[name] = fn(value)  # type: ignore[operator]
                except (ValueError, TypeError, InvalidOperation):
                    out[name] = value
            return out

        self._convert = convert
        return convert


class ODataReadStream(ReadStream):
    """Pages of a full read, or of a delta read from a deltaLink cursor (falling back to full).

    The schema is asked for (``schema``, the provider's loader) only when a page is converted or
    a full read starts: a delta read's first request goes out while the schema may still load.
    Given a ``transform``, a long read decodes its pages after the first in a second process,
    while this one fetches the next and answers its ``seen`` questions (see
    ``OFFLOAD_MIN_ROWS``).
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
        self.is_delta = False
        first: Any = None
        url = self.plan.url
        track = False
        if self.start_cursor:
            first = self._open_delta(self.start_cursor)
            if first is not None:
                self.is_delta = True
                url = self.start_cursor
        if first is None:
            track = self.plan.track_changes and self.schema.change_tracking
            first, url, track = self._open_full(url, track)
        yield from self._decoded_here(first, url, track)
        self.log(
            f"read {self.rows} row{'' if self.rows == 1 else 's'} in {self.pages} "
            f"page{'' if self.pages == 1 else 's'} from {self.schema.entity_set}"
            f"{' (changes only)' if self.is_delta else ''}"
        )

    def _decoded_here(self, body: Any, url: str, track: bool, *,
                      offload: bool = True) -> Iterator[Page]:
        """The pages from ``body`` (fetched from ``url``) on, decoded in this process; once a
        page shows the read is long, the rest in a second one (``offload``: allowed)."""
        while True:
            # take what the links need, then drop the parsed body before handing the page on:
            # a page's JSON (dicts of every entity) is as large as its records, and the consumer
            # may hold the page for a while
            page = self._page(body)
            links = PageLinks.of(body)
            base = links.base(url)
            body = None
            worth = offload and self._worth_offloading(page, links)
            yield page
            del page
            self._keep_cursor(links, base, track)
            if not links.next_link:
                return
            url = urljoin(base, links.next_link)
            headers = {"Prefer": self.plan.prefer(track or self.is_delta)}
            if worth:
                yield from self._decoded_there(url, headers, track)
                return
            body = self.http.get_json(url, headers)

    def _worth_offloading(self, page: Page, links: PageLinks) -> bool:
        return bool(links.next_link) and self.transform is not None and \
            page.size >= OFFLOAD_MIN_ROWS and offload.useful()

    def _decoded_there(self, url: str, headers: dict[str, str], track: bool) -> Iterator[Page]:
        """The pages from ``url`` on, decoded in a second process: while it decodes one page,
        this one fetches the next (and asks ``seen`` about the one before). If that process
        cannot start or stops, the read goes on here from the first page not yet handed on."""
        try:
            worker = offload.Offload(self.decoder)
        except offload.OffloadError as exc:
            self.log(f"decoding the pages here: {exc}")
            yield from self._decoded_here(self.http.get_json(url, headers), url, track,
                                          offload=False)
            return
        self.log("decoding the pages in a second process")
        seen = None if self.is_delta else self.seen
        how = DECODE + (ASK if seen is not None else b"-")
        # sent, not yet handed on: address, response, and the next page's address as the end
        # of the body shows it (``tail_next_link``); at most this page and the next
        sent: deque[tuple[str, requests.Response, str | None]] = deque()

        def send(address: str) -> None:
            response = self.http.request("GET", address, headers=headers)
            content = response.content
            sent.append((address, response, tail_next_link(content)))
            worker.send(content, prefix=how)

        def top_up() -> None:
            # the next page is asked for as soon as the end of the last body names it: the
            # second process decodes one page while the next one comes
            if len(sent) == 1 and sent[-1][2] is not None:
                send(sent[-1][2])

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
                    send(ahead)  # fetched while the second process works on this page
                if answer is None:
                    answer = worker.receive()
                following = None
                if answer[0] == "ask":
                    assert seen is not None
                    worker.send(marshal.dumps(sorted(seen(answer[1], answer[2]))), prefix=SEEN)
                    if ahead:  # (the next page's answers come before this one's)
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
                    return
                links, answer = following or (PageDecoder.links(worker.receive()), None)
        except offload.OffloadError as exc:
            self.log(f"{exc}; decoding the pages here")
            address, response, _ = sent[0]
            body = self.http.json_of("GET", address, response)
            sent.clear()
            yield from self._decoded_here(body, address, track, offload=False)
        except ValueError:
            for address, response, _ in sent:  # raises for the first that is not JSON
                self.http.json_of("GET", address, response)
            raise
        finally:
            worker.close()

    def _keep_cursor(self, links: PageLinks, base: str, track: bool) -> None:
        if links.delta_link and (track or self.is_delta):
            self.cursor = urljoin(base, links.delta_link)

    def _open_full(self, url: str, track: bool) -> tuple[Any, str, bool]:
        try:
            return self.http.get_json(url, {"Prefer": self.plan.prefer(track)}), url, track
        except HttpError as exc:
            if not track or exc.status != 400:
                raise
            self.log(f"change tracking refused ({exc.service_message}); reading without it")
            return self.http.get_json(url, {"Prefer": self.plan.prefer(False)}), url, False

    def _open_delta(self, cursor: str) -> Any:
        """The first delta page, or None when the cursor is not usable (then: full read)."""
        if not self._cursor_matches(cursor):
            self.log("the saved change-tracking cursor is for another query; reading everything")
            return None
        try:
            return self.http.get_json(cursor, {"Prefer": self.plan.prefer(True)})
        except HttpError as exc:
            if exc.status in (401, 403) or exc.status < 400 or exc.status >= 500:
                raise
            self.log(
                f"the service refused the change-tracking cursor ({exc.status}"
                f"{': ' + exc.service_message if exc.service_message else ''}); reading everything"
            )
            return None

    def _cursor_matches(self, cursor: str) -> bool:
        if safe_url(cursor) != safe_url(self.plan.url):
            return False
        mine = dict(parse_qsl(urlsplit(self.plan.url).query))
        theirs = dict(parse_qsl(urlsplit(cursor).query))
        return mine.get("$select") == theirs.get("$select") and "$deltatoken" in theirs

    def _page(self, body: dict[str, Any]) -> Page:
        # a delta page holds changes: nothing in it has been seen
        page = self.decoder.page(body, None if self.is_delta else self.seen)
        self._count(page)
        return page

    def _count(self, page: Page) -> None:
        self.pages += 1
        self.rows += page.size


_MISSING: Any = object()
_CONVERT_ERRORS = (ValueError, TypeError, InvalidOperation)


def _compile_converter(table: dict[str, Converter | None]) -> Callable[[dict[str, Any]], Record]:
    """The record converter for a known column list, as one generated function.

    The same record as the general loop: each listed name the entity has, its non-null value
    converted (kept as it is when the conversion fails); other properties and annotations are
    not looked at. The source holds generated names only; names and converters are defaults.
    """
    env: dict[str, Any] = {"M": _MISSING, "E": _CONVERT_ERRORS}
    lines = []
    for i, (name, fn) in enumerate(table.items()):
        env[f"n{i}"] = name
        lines += [f"    v = get(n{i}, M)", "    if v is not M:"]
        if fn is not None:
            env[f"c{i}"] = fn
            lines += ["        if v is not None:", "            try:",
                      f"                v = c{i}(v)", "            except E:", "                pass"]
        lines.append(f"        out[n{i}] = v")
    defaults = ", ".join(f"{name}={name}" for name in env)
    text = f"def convert(item, {defaults}):\n    get = item.get\n    out = {{}}\n" + \
        "\n".join(lines) + "\n    return out\n"
    scope: dict[str, Any] = {}
    exec(compile(text, "<l2tui record>", "exec"), dict(env), scope)  # noqa: S102  (names only)
    made: Callable[[dict[str, Any]], Record] = scope["convert"]
    return made


def deleted_key(item: dict[str, Any], schema: EntitySchema) -> Key | None:
    """The key of a deleted-entity entry of a delta response, or None for a normal entry."""
    context = str(item.get("@odata.context", ""))
    if not context.endswith("$deletedEntity") and "@removed" not in item:
        return None
    raw = item.get("id") or item.get("@id") or item.get("@odata.id") or ""
    if not raw and schema.key:
        raw = item.get(schema.key[0], "")
    text = str(raw)
    guid = _GUID.search(text)
    if guid:
        return (guid.group(0).lower(),)
    inner = _KEY_IN_PARENS.search(text)
    value = inner.group(1) if inner else text
    return (value.strip("'").replace("''", "'"),)
