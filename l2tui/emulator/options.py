"""Query string and Prefer header parsing."""

from __future__ import annotations

from dataclasses import dataclass, field
from urllib.parse import unquote, unquote_plus

from .errors import INVALID_PROPERTY, bad_request

# $-options Dataverse understands (others are refused); generic OData adds $skip.
DATAVERSE_OPTIONS = {
    "$select", "$filter", "$orderby", "$top", "$count", "$expand", "$apply",
    "$skiptoken", "$deltatoken",
}
MAX_PAGE_SIZE = 5000


@dataclass
class Query:
    """The decoded query options of one request."""

    options: dict[str, str] = field(default_factory=dict)
    aliases: dict[str, str] = field(default_factory=dict)
    other: dict[str, str] = field(default_factory=dict)
    raw_parts: list[str] = field(default_factory=list)

    def link_query(self, drop: tuple[str, ...] = ("$skiptoken",)) -> str:
        """The raw query string without the named options (for next and delta links)."""
        kept = [p for p in self.raw_parts if unquote(p.split("=", 1)[0]) not in drop]
        return "&".join(kept)


def parse_query(raw: str, generic: bool) -> Query:
    """Split and decode a query string, refusing unsupported options as Dataverse does."""
    query = Query()
    if not raw:
        return query
    if generic and ("+" in raw or " " in raw):
        raise bad_request(
            "The query string contains a '+' or a space; encode spaces as %20.", INVALID_PROPERTY
        )
    decode = unquote if generic else unquote_plus
    for part in raw.split("&"):
        if not part:
            continue
        query.raw_parts.append(part)
        name, _, value = part.partition("=")
        name, value = decode(name), decode(value)
        if name.startswith("$"):
            allowed = DATAVERSE_OPTIONS | ({"$skip"} if generic else set())
            if name not in allowed:
                raise bad_request(f"The query parameter {name} is not supported", INVALID_PROPERTY)
            if name in query.options:
                raise bad_request(f"Query option '{name}' was specified more than once, but "
                                  "it must be specified at most once.")
            query.options[name] = value
        elif name.startswith("@"):
            query.aliases[name] = value
        else:
            query.other[name] = value
    return query


def parse_prefer(header: str | None) -> dict[str, str | None]:
    """Parse a Prefer header into {preference: value}, respecting quoted commas."""
    prefs: dict[str, str | None] = {}
    if not header:
        return prefs
    items: list[str] = []
    current: list[str] = []
    quoted = False
    for ch in header:
        if ch == '"':
            quoted = not quoted
        if ch == "," and not quoted:
            items.append("".join(current))
            current = []
        else:
            current.append(ch)
    items.append("".join(current))
    for item in items:
        item = item.strip()
        if not item:
            continue
        name, _, value = item.partition("=")
        value = value.strip()
        if value.startswith('"') and value.endswith('"') and len(value) >= 2:
            value = value[1:-1]
        prefs[name.strip().lower()] = value if _ else None
    return prefs


def page_size(prefs: dict[str, str | None]) -> tuple[int, bool]:
    """The page size asked for by odata.maxpagesize (default and maximum 5000), and if asked."""
    raw = prefs.get("odata.maxpagesize")
    if raw is None:
        return MAX_PAGE_SIZE, False
    try:
        size = int(raw)
    except ValueError:
        return MAX_PAGE_SIZE, False
    if size <= 0 or size > MAX_PAGE_SIZE:
        return MAX_PAGE_SIZE, False  # larger values are ignored
    return size, True
