"""A page's JSON → a Page (links, deletions, versions, converted records or items).

Needs no network, no secret and no HTTP library: the second process a long read decodes its pages
in (``l2tui.offload``) imports this module, and only what it imports.
"""

from __future__ import annotations

import json
import marshal
import re
from collections import deque
from collections.abc import Callable, Collection, Iterator
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from l2tui.providers.base import (
    CONVERSION_ERRORS,
    Converter,
    Key,
    Page,
    Record,
    RecordTransform,
    SeenFilter,
)
from l2tui.providers.odata.entity_schema import EntitySchema
from l2tui.providers.odata.values import converter, loads

_GUID = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_KEY_IN_PARENS = re.compile(r"\(([^()]*)\)\s*$")


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


FORMATTED = "OData.Community.Display.V1.FormattedValue"
"""The instance annotation of a value as Dataverse shows it: a choice's label, a related row's name."""

DECODE, ASK, SEEN = b"D", b"A", b"S"  # the decoding job's frames (PageDecoder.__call__)

NO_VALUE = "the answer has no 'value' list"
_LINKS = ("@odata.nextLink", "@odata.deltaLink")


class PageShapeError(ValueError):
    """An answer that is JSON but no OData collection (said in words: what is wrong with it)."""


def json_kind(value: Any) -> str:
    """A JSON value's kind in words ("a number", "a text", …)."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "a boolean"
    if isinstance(value, str):
        return "a text"
    if isinstance(value, list):
        return "a list"
    if isinstance(value, dict):
        return "an object"
    return "a number"


def collection_problem(body: Any, needs: Collection[str] = ()) -> str | None:
    """What makes a parsed answer no OData collection (None: nothing): a 'value' list of
    objects, each with a text under every name of ``needs``, and links that are texts."""
    rows = body.get("value") if isinstance(body, dict) else None
    if not isinstance(rows, list):
        return NO_VALUE
    for name in _LINKS:
        link = body.get(name)
        if link is not None and not isinstance(link, str):
            return f"the answer's '{name}' is {json_kind(link)}, not a link"
    for row in rows:
        if not isinstance(row, dict):
            return f"an item of the answer's 'value' list is {json_kind(row)}, not an object"
        for name in needs:
            if not isinstance(row.get(name), str):
                return f"an item of the answer's 'value' list has no '{name}' text"
    return None



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
        # the `<x>name` columns kept, each read from its base's annotation (``EntitySchema.labels``)
        self._labels = [(name, f"{schema.labels[name]}@{FORMATTED}")
                        for name in sorted(columns or ()) if name in schema.labels]
        self._made: Callable[[dict[str, Any]], Any] | None = None  # the transform of an entry
        # as a job: pages decoded whose reader was asked which entries it has seen (oldest first)
        self._asking: deque[tuple[list[dict[str, Any]], list[Key], list[str | None]]] = deque()

    def __reduce__(self) -> tuple[Any, ...]:
        return (PageDecoder, (self.schema, self.columns, self.transform))

    def __call__(self, frame: bytes) -> Iterator[tuple[Any, ...]]:
        """The offload job. ``DECODE`` + a page's body: its links first (the reader asks for the
        next page meanwhile), then the page; or, for a reader with a ``seen`` filter (``ASK``
        after the tag), the keys and versions to ask it about. ``SEEN`` + the positions it has
        seen (marshal): the page that asked, without them. Answers are plain values, tagged
        (``links``, ``received`` read them). A body that is not JSON raises ValueError, one
        that is no collection PageShapeError."""
        tag = frame[:1]
        if tag == SEEN:
            entries, deleted, versions = self._asking.popleft()
            yield self._plain(self._page(entries, deleted, versions, marshal.loads(frame[1:])))
            return
        asks = frame[1:2] == ASK
        body = loads(frame[2:])
        problem = collection_problem(body)
        if problem is not None:
            raise PageShapeError(problem)
        yield tuple(PageLinks.of(body))
        entries, deleted, versions = self.split(body)
        if asks and versions:
            self._asking.append((entries, deleted, versions))
            yield ("ask", self.keys(entries), versions)
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
        entries, deleted, versions = self.split(body)
        # before converting: the reader skips what it has seen
        drop = seen(self.keys(entries), versions) if seen is not None and versions else ()
        return self._page(entries, deleted, versions, drop)

    def split(self, body: dict[str, Any]) -> tuple[list[dict[str, Any]], list[Key],
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
        if self._labels:
            _fill_labels(entries, self._labels)
        if self.transform is None:
            page.records = list(map(self.converter(), entries))
        else:
            page.items = list(map(self.transformer(), entries))
        page.versions = versions
        return page

    def transformer(self) -> Callable[[dict[str, Any]], Any]:
        """The read's transform of one raw entry, built once per decoder: over the entry itself
        where the transform takes entries (``EntryTransform``: no record is built for it), else
        over the entry's record."""
        if self._made is None:
            transform = self.transform
            assert transform is not None
            over = getattr(transform, "over_entries", None)
            if over is not None:
                table, complete = self.converters()
                self._made = over(table, complete)
            else:
                convert = self.converter()
                self._made = lambda item: transform(convert(item))
        return self._made

    def converters(self) -> tuple[dict[str, Converter | None], bool]:
        """Each column a record holds, with its converter (None: kept as it is), and whether
        those are all it holds (a read of listed columns); else other properties but annotations
        are kept as they are."""
        keep = self.columns
        if keep is not None:
            keep = keep | frozenset(self.schema.key)
        table: dict[str, Converter | None] = {}
        for column in self.schema.columns:
            if "@" not in column.name and (keep is None or column.name in keep):
                table[column.name] = converter(column.type)
        if keep is None:
            return table, False
        for name in keep:  # kept, but not in the schema: passed through as they are
            if "@" not in name:
                table.setdefault(name, None)
        return table, True

    def keys(self, items: list[dict[str, Any]]) -> list[Key]:
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
        table, complete = self.converters()
        if complete:
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
                except CONVERSION_ERRORS:
                    out[name] = value
            return out

        self._convert = convert
        return convert


_MISSING: Any = object()


def _fill_labels(entries: list[dict[str, Any]], labels: list[tuple[str, str]]) -> None:
    """Each entry's `<x>name` columns, from their annotations (none: null, as a null base)."""
    for entry in entries:
        get = entry.get
        for name, annotation in labels:
            entry[name] = get(annotation)


def _compile_converter(table: dict[str, Converter | None]) -> Callable[[dict[str, Any]], Record]:
    """The record converter for a known column list, as one generated function.

    The same record as the general loop: each listed name the entity has, its non-null value
    converted (kept as it is when the conversion fails); other properties and annotations are
    not looked at. The source holds generated names only; names and converters are defaults.
    """
    env: dict[str, Any] = {"M": _MISSING, "E": CONVERSION_ERRORS}
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
