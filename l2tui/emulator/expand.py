"""$expand of single-valued navigation properties (lookups), with a nested $select."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .errors import bad_request
from .render import Annotations, make_renderer, selected_columns
from .schema import Column, Table
from .store import Row, Store

_NESTED_RE = re.compile(r"^\$select=([^;)]*)$")


def _split_top_level(text: str) -> list[str]:
    parts: list[str] = []
    current: list[str] = []
    depth = 0
    for ch in text:
        if ch == "(":
            depth += 1
        elif ch == ")":
            depth -= 1
        if ch == "," and depth == 0:
            parts.append("".join(current).strip())
            current = []
        else:
            current.append(ch)
    if current:
        parts.append("".join(current).strip())
    return [p for p in parts if p]


def parse_expand(
    table: Table, text: str | None, tables: dict[str, Table]
) -> list[tuple[Column, Table, list[str] | None]]:
    """`nav($select=a,b),other` into (lookup column, target table, select) triples."""
    if not text:
        return []
    out = []
    for item in _split_top_level(text):
        name, _, nested = item.partition("(")
        name = name.strip()
        col = table.by_nav.get(name)
        if col is None or col.target not in tables:
            raise bad_request(f"Could not find a property named '{name}' on type "
                              f"'{table.odata_type}'.")
        target = tables[col.target]
        select = None
        if nested:
            m = _NESTED_RE.match(nested.rstrip(")").strip())
            if not m:
                raise bad_request(f"Only a nested $select is supported in $expand ('{item}').")
            select = [p.strip() for p in m.group(1).split(",") if p.strip()]
            for prop in select:
                if prop not in target.by_prop:
                    raise bad_request(f"Could not find a property named '{prop}' on type "
                                      f"'{target.odata_type}'.")
        out.append((col, target, select))
    return out


def with_expansions(
    render: Callable[[Row], dict[str, Any]],
    expansions: list[tuple[Column, Table, list[str] | None]],
    store: Store,
    annotations: Annotations,
) -> Callable[[Row], dict[str, Any]]:
    """Wrap a renderer so each expanded lookup appears as a nested object (or null)."""
    if not expansions:
        return render
    nested = [
        (col, target, make_renderer(target, selected_columns(target, select), annotations,
                                    lambda s, g: None))
        for col, target, select in expansions
    ]

    def render_expanded(row: Row) -> dict[str, Any]:
        out = render(row)
        for col, target, inner in nested:
            guid = row.get(col.prop)
            related = store.find(target.entity_set, guid) if guid else None
            out[col.nav or col.logical] = inner(related) if related else None
        return out

    return render_expanded
