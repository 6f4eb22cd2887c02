"""Rendering stored rows as Web API JSON: $select, ETags and formatted values."""

from __future__ import annotations

import fnmatch
from collections.abc import Callable
from decimal import Decimal
from typing import Any

from .schema import CURRENCY_NAME, Column, Table
from .values import parse_datetime

FORMATTED = "OData.Community.Display.V1.FormattedValue"
LOOKUP_LOGICAL = "Microsoft.Dynamics.CRM.lookuplogicalname"
ASSOCIATED_NAV = "Microsoft.Dynamics.CRM.associatednavigationproperty"

Row = dict[str, Any]
NameLookup = Callable[[str, str], str | None]  # (entity set, id) -> primary name


class Annotations:
    """Which instance annotations a `Prefer: odata.include-annotations` asks for."""

    def __init__(self, spec: str | None) -> None:
        self.spec = spec
        self.patterns = [p.strip() for p in (spec or "").split(",") if p.strip()]

    def wants(self, term: str) -> bool:
        """Whether the annotation term is included."""
        return any(p == "*" or fnmatch.fnmatchcase(term, p) for p in self.patterns)


def etag(row: Row) -> str:
    """The weak ETag of a row, from its versionnumber."""
    return f'W/"{row["versionnumber"]}"'


def _format_datetime(text: str, date_only: bool) -> str:
    dt = parse_datetime(text)
    if date_only:
        return f"{dt.month}/{dt.day}/{dt.year}"
    hour = dt.hour % 12 or 12
    return f"{dt.month}/{dt.day}/{dt.year} {hour}:{dt.minute:02d} {'AM' if dt.hour < 12 else 'PM'}"


def formatted(col: Column, value: Any) -> str | None:
    """The formatted value Dataverse would show for a column value (None if not formatted)."""
    if value is None:
        return None
    if col.options is not None:
        return col.options.get(value, str(value))
    if col.type == "Money":
        return ("-" if value < 0 else "") + f"${abs(value):,.2f}"
    if col.type in ("Integer", "BigInt"):
        return f"{value:,}"
    if col.type == "Boolean":
        return "Yes" if value else "No"
    if col.type == "DateTime":
        return _format_datetime(value, col.date_only)
    return None


def selected_columns(table: Table, select: list[str] | None) -> list[Column]:
    """Columns to return: $select (plus the key, plus the currency with money) or all."""
    if select is None:
        return list(table.columns)
    wanted = set(select)
    wanted.add(table.primary_id)
    if any(table.by_prop[p].type == "Money" for p in select) and (
        "_transactioncurrencyid_value" in table.by_prop
    ):
        wanted.add("_transactioncurrencyid_value")
    return [c for c in table.columns if c.prop in wanted]


def make_renderer(
    table: Table,
    columns: list[Column],
    annotations: Annotations,
    names: NameLookup,
    money_as_string: bool = False,
) -> Callable[[Row], dict[str, Any]]:
    """A function turning a stored row into its JSON object."""
    want_formatted = annotations.wants(FORMATTED)
    want_lookup = annotations.wants(LOOKUP_LOGICAL)
    want_nav = annotations.wants(ASSOCIATED_NAV)
    plain = not (want_formatted or want_lookup or want_nav or money_as_string)
    props = [c.prop for c in columns]

    if plain:
        def render_plain(row: Row) -> dict[str, Any]:
            out = {"@odata.etag": f'W/"{row["versionnumber"]}"'}
            for prop in props:
                out[prop] = row[prop]
            return out

        return render_plain

    def render(row: Row) -> dict[str, Any]:
        out: dict[str, Any] = {"@odata.etag": etag(row)}
        for col in columns:
            prop = col.prop
            value = row[prop]
            if money_as_string and col.type == "Money" and value is not None:
                out[prop] = str(Decimal(repr(value)))
            else:
                out[prop] = value
            if value is None:
                continue
            if col.is_lookup:
                if want_formatted:
                    if col.target == "transactioncurrencies":
                        out[f"{prop}@{FORMATTED}"] = CURRENCY_NAME
                    elif col.target:
                        name = names(col.target, value)
                        if name is not None:
                            out[f"{prop}@{FORMATTED}"] = name
                if want_nav and col.nav:
                    out[f"{prop}@{ASSOCIATED_NAV}"] = col.nav
                if want_lookup and col.target:
                    out[f"{prop}@{LOOKUP_LOGICAL}"] = (
                        "transactioncurrency" if col.target == "transactioncurrencies"
                        else col.target[:-1]
                    )
            elif want_formatted:
                text = formatted(col, value)
                if text is not None:
                    out[f"{prop}@{FORMATTED}"] = text
        return out

    return render
