"""Collection reads: $select/$filter/$orderby/$top/$count, paging and change tracking."""

from __future__ import annotations

import bisect
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from .errors import INVALID_PROPERTY, bad_request
from .expand import parse_expand, with_expansions
from .fragments import FragmentCache, page_body, plain_row_encoder, render_encoder
from .http_types import JSON_TYPE, Request, Response
from .odata_query import (
    Getter,
    Predicate,
    key_values,
    parse_filter,
    parse_orderby,
    sort_rows,
)
from .options import MAX_PAGE_SIZE, Query, page_size, parse_prefer
from .paging import DeltaTokens, decode_skiptoken, encode_skiptoken, expired_token_error
from .render import Annotations, make_renderer, selected_columns
from .schema import Table
from .store import Row, Store

COUNT_LIMIT = 5000
TOTAL_COUNT = "Microsoft.Dynamics.CRM.totalrecordcount"
TOTAL_COUNT_EXCEEDED = "Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"


@dataclass
class ReadContext:
    """What reads need from the emulator."""

    store: Store
    tokens: DeltaTokens
    generic: bool
    generic_page_size: int
    fragments: FragmentCache


def field_resolver(table: Table, store: Store | None = None) -> Callable[[str], Getter]:
    """Map a property (or `lookup/property` with a store) to a row getter (400 if unknown)."""

    def unknown(name: str, on: Table) -> Exception:
        return bad_request(f"Could not find a property named '{name}' on type '{on.odata_type}'.")

    def resolve(name: str) -> Getter:
        if "/" in name and store is not None:
            nav, _, prop = name.partition("/")
            col = table.by_nav.get(nav)
            target = store.tables.get(col.target or "") if col else None
            if col is None or target is None:
                raise unknown(nav, table)
            if prop not in target.by_prop:
                raise unknown(prop, target)

            def related(row: Mapping[str, Any]) -> Any:
                guid = row.get(col.prop)
                other = store.find(target.entity_set, guid) if guid else None
                return other.get(prop) if other else None

            return related
        if name not in table.by_prop:
            raise unknown(name, table)
        return lambda row: row[name]

    return resolve


def parse_select(table: Table, text: str | None) -> list[str] | None:
    """The $select list (400 for unknown properties)."""
    if text is None:
        return None
    props = [p.strip() for p in text.split(",") if p.strip()]
    for prop in props:
        if prop not in table.by_prop:
            raise bad_request(
                f"Could not find a property named '{prop}' on type '{table.odata_type}'."
            )
    return props


def context_url(base: str, table: Table, select: list[str] | None, suffix: str = "") -> str:
    """The @odata.context of a response."""
    cols = f"({','.join(select)})" if select else ""
    return f"{base}$metadata#{table.entity_set}{cols}{suffix}"


def _renderer(ctx: ReadContext, table: Table, select: list[str] | None, ann: Annotations):
    def names(entity_set: str, guid: str) -> str | None:
        target = ctx.store.tables.get(entity_set)
        row = ctx.store.find(entity_set, guid) if target else None
        return row.get(target.primary_name) if row and target else None

    annotations = Annotations(None) if ctx.generic else ann
    return make_renderer(table, selected_columns(table, select), annotations, names,
                         money_as_string=ctx.generic)


class CollectionRead:
    """One GET on an entity set (a page of a query, of a tracked load, or of a delta)."""

    def __init__(self, ctx: ReadContext, req: Request, table: Table, query: Query, base: str):
        self.ctx = ctx
        self.req = req
        self.table = table
        self.query = query
        self.base = base
        self.opts = query.options
        self.prefs = parse_prefer(req.headers.get("Prefer"))
        self.ann = Annotations(self.prefs.get("odata.include-annotations"))
        self.applied: list[str] = []
        if ctx.generic:
            self.size, asked = ctx.generic_page_size, False
        else:
            self.size, asked = page_size(self.prefs)
        if asked:
            self.applied.append(f"odata.maxpagesize={self.size}")
        if self.ann.spec is not None and not ctx.generic:
            self.applied.append(f'odata.include-annotations="{self.ann.spec}"')
        self.select = parse_select(table, self.opts.get("$select"))
        tracking = "odata.track-changes" in self.prefs or "$deltatoken" in self.opts
        self.expand = [] if tracking else parse_expand(
            table, self.opts.get("$expand"), ctx.store.tables)
        self.render = with_expansions(_renderer(ctx, table, self.select, self.ann), self.expand,
                                      ctx.store, Annotations(None))
        self.page = 1
        self.state: dict[str, Any] = {}
        if "$skiptoken" in self.opts:
            self.page, self.state = decode_skiptoken(self.opts["$skiptoken"])
            if ("t" in self.state or "upto" in self.state) and \
                    self.state.get("i") != ctx.tokens.instance:
                raise expired_token_error()  # a tracked read begun before a restart
        self.maxpagesize_asked = asked

    # -- links ------------------------------------------------------------------------

    def _link(self, query: str) -> str:
        path = f"{self.table.entity_set}?{query}" if query else self.table.entity_set
        return path if self.ctx.generic else self.base + path

    def _next_link(self, state: dict[str, Any], tracking: bool) -> str:
        if tracking:
            state = {**state, "i": self.ctx.tokens.instance}
        token = encode_skiptoken(self.page + 1, state, tracking)
        rest = self.query.link_query(("$skiptoken",))
        return self._link((rest + "&" if rest else "") + "$skiptoken=" + quote(token, safe=""))

    def _delta_link(self, version: int) -> str:
        token = self.ctx.tokens.issue(version)
        rest = self.query.link_query(("$skiptoken", "$deltatoken"))
        return self._link((rest + "&" if rest else "") + "$deltatoken=" + quote(token, safe=""))

    def _headers(self) -> list[tuple[str, str]]:
        return [("Preference-Applied", ", ".join(self.applied))] if self.applied else []

    # -- entry point ------------------------------------------------------------------

    def run(self) -> Response:
        """Answer the request."""
        tracking = "odata.track-changes" in self.prefs or bool(self.state.get("t"))
        if "$deltatoken" in self.opts:
            self._refuse_with_tracking()
            return self._delta()
        if "$apply" in self.opts:
            raise bad_request("$apply is not supported by the emulator.", INVALID_PROPERTY)
        if tracking:
            self._refuse_with_tracking()
            if "odata.track-changes" in self.prefs:
                self.applied.append("odata.track-changes")
        return self._query(tracking)

    def _refuse_with_tracking(self) -> None:
        for option in ("$filter", "$orderby", "$expand", "$top"):
            if option in self.opts:
                raise bad_request(
                    f'The "{option}" query parameter isn\'t supported when Change Tracking is '
                    "enabled.",
                    INVALID_PROPERTY,
                )

    # -- plain and tracked queries --------------------------------------------------

    def _int_option(self, name: str) -> int | None:
        raw = self.opts.get(name)
        if raw is None:
            return None
        try:
            value = int(raw)
        except ValueError:
            raise bad_request(f"Invalid value '{raw}' for {name}.") from None
        if value < 0:
            raise bad_request(f"Invalid value '{raw}' for {name}.")
        return value

    def _query(self, tracking: bool) -> Response:
        store, table = self.ctx.store, self.table
        resolve = field_resolver(table, store)
        pred: Predicate | None = None
        if "$filter" in self.opts:
            pred = parse_filter(self.opts["$filter"], resolve, self.query.aliases)
        order = parse_orderby(self.opts["$orderby"], resolve) if "$orderby" in self.opts else None
        top = self._int_option("$top")
        skip = self._int_option("$skip") or 0
        if top is not None and self.maxpagesize_asked:
            top = None  # documented: with odata.maxpagesize, $top is ignored
        count_wanted = self.opts.get("$count", "false").lower() == "true"
        served = int(self.state.get("n", 0))
        limit = self.size if top is None else max(0, min(self.size, top - served))
        with store.lock:
            snapshot = int(self.state.get("v", store.version))
            rows = store.live_rows(table.entity_set)
            total = sum(1 for r in rows.values() if pred is None or pred(r)) if count_wanted \
                else 0
            if order is None:
                page, more, last = self._scan_by_id(rows, pred, limit, skip if served == 0 else 0)
                offset = 0
            else:
                page, more, last, offset = self._scan_sorted(rows, pred, order, limit,
                                                             skip if served == 0 else 0)
        served += len(page)
        if top is not None and served >= top:
            more = False
        payload: dict[str, Any] = {"@odata.context": context_url(self.base, table, self.select)}
        if count_wanted:
            payload["@odata.count"] = total if self.ctx.generic else min(total, COUNT_LIMIT)
            if self.ann.wants(TOTAL_COUNT):
                payload[f"@{TOTAL_COUNT}"] = total
            if self.ann.wants(TOTAL_COUNT_EXCEEDED):
                payload[f"@{TOTAL_COUNT_EXCEEDED}"] = total > COUNT_LIMIT
        tail: dict[str, Any] = {}
        if more:
            state = {"last": last, "n": served, "o": offset}
            if tracking:
                state.update(t=1, v=snapshot)
            tail["@odata.nextLink"] = self._next_link(state, tracking)
        elif tracking:
            tail["@odata.deltaLink"] = self._delta_link(snapshot)
        return self._page(payload, page, tail)

    def _page(self, head: dict[str, Any], rows: list[Any], tail: dict[str, Any]) -> Response:
        """A page response; rows are stored rows or ready-made dicts (deleted entries)."""
        shape = None
        encode = render_encoder(self.render)
        if (self.ann.spec is None or self.ctx.generic) and not self.expand:
            cols = [c.prop for c in selected_columns(self.table, self.select)]
            shape = (self.table.entity_set, tuple(cols), self.ctx.generic)
            if not self.ctx.generic:
                encode = plain_row_encoder(cols)
        live = len(self.ctx.store.live_rows(self.table.entity_set))
        if all("versionnumber" in r for r in rows):
            values = self.ctx.fragments.encode(shape, rows, self.table.primary_id, encode, live)
        else:  # a delta page: changed rows plus $deletedEntity entries
            stored = [r for r in rows if "versionnumber" in r]
            encoded = iter(self.ctx.fragments.encode(shape, stored, self.table.primary_id,
                                                     encode, live))
            values = [next(encoded) if "versionnumber" in r else _dumps(r) for r in rows]
        headers = [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *self._headers()]
        return Response(200, headers, page_body(head, values, tail))

    def _scan_by_id(
        self, rows: dict[str, Row], pred: Predicate | None, limit: int, skip: int
    ) -> tuple[list[Row], bool, str | None]:
        ids = self._candidate_ids(rows, pred)
        if ids is None:
            ids = self.ctx.store.sorted_ids(self.table.entity_set)
        last = self.state.get("last")
        i = bisect.bisect_right(ids, last) if last else 0
        n = len(ids)
        if pred is None:
            start = i + skip
            page = [rows[g] for g in ids[start:start + limit]]
            more = start + limit < n
        else:
            page = []
            more = False
            while i < n:
                row = rows[ids[i]]
                i += 1
                if not pred(row):
                    continue
                if skip:
                    skip -= 1
                    continue
                if len(page) >= limit:
                    more = True
                    break
                page.append(row)
        pid = self.table.primary_id
        return page, more, (page[-1][pid] if page else last)

    def _candidate_ids(self, rows: dict[str, Row], pred: Predicate | None) -> list[str] | None:
        """The ids a filter can only hold for, in order, where it names them (an ``In`` on the
        primary id, as a client asks for rows it knows the keys of): looked up, as Dataverse
        seeks its key index, not tested row by row. None: every row may match."""
        keys = key_values(pred) if pred is not None else None
        if keys is None or keys[0] != self.table.primary_id.casefold():
            return None
        return sorted(guid for guid in keys[1] if guid in rows)

    def _scan_sorted(
        self,
        rows: dict[str, Row],
        pred: Predicate | None,
        order: list[tuple[Getter, bool]],
        limit: int,
        skip: int,
    ) -> tuple[list[Row], bool, str | None, int]:
        pid = self.table.primary_id
        matches = [r for r in rows.values() if pred is None or pred(r)]
        ordered = sort_rows(matches, order, lambda r: r[pid])
        start = int(self.state.get("o", 0)) + skip
        last = self.state.get("last")
        if last:
            for index, row in enumerate(ordered):
                if row[pid] == last:
                    start = index + 1
                    break
        page = ordered[start:start + limit]
        more = start + limit < len(ordered)
        end = start + len(page)
        return page, more, (page[-1][pid] if page else last), end

    # -- delta ------------------------------------------------------------------------

    def _delta(self) -> Response:
        store, table = self.ctx.store, self.table
        since = self.ctx.tokens.version(self.opts["$deltatoken"])
        upto = int(self.state.get("upto", store.version))
        phase = self.state.get("phase", "rows")
        last = int(self.state.get("last", since))
        changed, deleted = store.changes(table.entity_set, since, upto)
        entries: list[tuple[str, int, Any]] = []
        if phase == "rows":
            entries += [("rows", r["versionnumber"], r) for r in changed if r["versionnumber"] > last]
            entries += [("deleted", v, g) for v, g in deleted]
        else:
            entries += [("deleted", v, g) for v, g in deleted if v > last]
        page, more = entries[: self.size], len(entries) > self.size
        if "odata.track-changes" in self.prefs:
            self.applied.append("odata.track-changes")
        deleted_context = f"{self.base}$metadata#{table.entity_set}/$deletedEntity"
        values = [
            item if kind == "rows"
            else {"@odata.context": deleted_context, "id": item, "reason": "deleted"}
            for kind, _, item in page
        ]
        head = {"@odata.context": context_url(self.base, table, self.select, "/$delta")}
        tail: dict[str, Any] = {}
        if more:
            kind, version, _ = page[-1]
            state = {"upto": upto, "phase": kind, "last": version}
            tail["@odata.nextLink"] = self._next_link(state, True)
        else:
            tail["@odata.deltaLink"] = self._delta_link(upto)
        return self._page(head, values, tail)


def _dumps(value: Any) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode()


def count_rows(ctx: ReadContext, table: Table, query: Query) -> Response:
    """GET <set>/$count: a bare number (capped at 5000 like @odata.count)."""
    store = ctx.store
    if "$deltatoken" in query.options:
        since = ctx.tokens.version(query.options["$deltatoken"])
        changed, deleted = store.changes(table.entity_set, since, store.version)
        total = len(changed) + len(deleted)
    else:
        pred = None
        if "$filter" in query.options:
            pred = parse_filter(query.options["$filter"], field_resolver(table), query.aliases)
        with store.lock:
            rows = store.live_rows(table.entity_set)
            total = sum(1 for r in rows.values() if pred is None or pred(r))
    if not ctx.generic:
        total = min(total, MAX_PAGE_SIZE)
    return Response(200, [("Content-Type", "text/plain"), ("OData-Version", "4.0")],
                    str(total).encode())


__all__ = ["CollectionRead", "ReadContext", "count_rows", "parse_select"]
