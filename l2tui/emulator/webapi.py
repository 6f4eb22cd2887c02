"""Routing of Web API requests: service document, metadata, reads, writes, $batch."""

from __future__ import annotations

import re
from typing import Any

from . import metadata
from .errors import (
    CONCURRENCY_MISMATCH,
    DUPLICATE_RECORD,
    INVALID_ARGUMENT,
    INVALID_PROPERTY,
    ODataError,
    bad_request,
    not_found,
)
from .expand import parse_expand, with_expansions
from .fragments import FragmentCache
from .http_types import (
    Request,
    Response,
    empty_response,
    error_response,
    json_response,
)
from .metadata_api import entity_definitions
from .options import Query, parse_prefer, parse_query
from .paging import DeltaTokens
from .reads import CollectionRead, ReadContext, context_url, count_rows, parse_select
from .render import Annotations, etag, make_renderer, selected_columns
from .schema import NAMESPACE, Table
from .store import Row, Store
from .values import Key, normalize, parse_entity_ref, parse_key, split_segment

API_PATH_RE = re.compile(r"^/api/data/(v9\.[0-2])(?:/(.*))?$")
BULK_ACTIONS = ("CreateMultiple", "UpdateMultiple", "UpsertMultiple")


def _etag_matches(header: str, row: Row) -> bool:
    tags = [t.strip() for t in header.split(",")]
    return "*" in tags or etag(row) in tags or f'"{row["versionnumber"]}"' in tags


class WebApi:
    """The Dataverse Web API over a Store; transport-independent."""

    def __init__(self, store: Store, tokens: DeltaTokens | None = None) -> None:
        self.store = store
        self.tokens = tokens or DeltaTokens()
        self.mode = "dataverse"
        self.generic_page_size = 1000
        self.root_url = "http://127.0.0.1"
        self.fragments = FragmentCache()

    @property
    def generic(self) -> bool:
        """Whether the emulator behaves as a plain OData v4 service."""
        return self.mode == "generic"

    def handle(self, req: Request) -> Response:
        """Answer one request (errors become Dataverse error responses)."""
        try:
            return self.dispatch(req)
        except ODataError as err:
            return error_response(err)

    def dispatch(self, req: Request) -> Response:
        """Route one request; raises ODataError."""
        m = API_PATH_RE.match(req.path)
        if not m:
            raise not_found(f"Resource not found for the segment '{req.path}'.")
        version, rest = m.group(1), m.group(2) or ""
        base = f"{self.root_url}/api/data/{version}/"
        query = parse_query(req.query, self.generic)
        if rest == "":
            self._method(req, "GET")
            return json_response(200, metadata.service_document(base))
        if rest == "$metadata":
            self._method(req, "GET")
            return Response(200, [("Content-Type", "application/xml"), ("OData-Version", "4.0")],
                            metadata.csdl().encode())
        if rest == "$batch":
            self._method(req, "POST")
            from .batch import handle_batch

            return handle_batch(self, req, base)
        name, key, tail = split_segment(rest)
        if name == "EntityDefinitions":
            if self.generic:
                raise not_found("Resource not found for the segment 'EntityDefinitions'.")
            self._method(req, "GET")
            return entity_definitions(query, base, key, tail)
        table = self.store.tables.get(name)
        if table is None:
            raise not_found(f"Resource not found for the segment '{name}'.", INVALID_PROPERTY)
        if key is None:
            return self._collection(req, query, base, table, tail)
        return self._entity(req, query, base, table, parse_key(key), tail)

    @staticmethod
    def _method(req: Request, *allowed: str) -> None:
        if req.method not in allowed:
            raise ODataError(405, INVALID_ARGUMENT,
                             f"The HTTP method '{req.method}' is not allowed on this resource.")

    def _context(self) -> ReadContext:
        return ReadContext(self.store, self.tokens, self.generic, self.generic_page_size,
                           self.fragments)

    # -- collections ------------------------------------------------------------------

    def _collection(self, req: Request, query: Query, base: str, table: Table, tail: str) -> Response:
        if tail == "$count":
            self._method(req, "GET")
            return count_rows(self._context(), table, query)
        if tail:
            action = tail.removeprefix(f"{NAMESPACE}.")
            if action in BULK_ACTIONS and not self.generic:
                self._method(req, "POST")
                return self._bulk(req, base, table, action)
            raise not_found(f"Resource not found for the segment '{tail}'.", INVALID_PROPERTY)
        if req.method == "GET":
            return CollectionRead(self._context(), req, table, query, base).run()
        if req.method == "POST":
            return self._create(req, query, base, table)
        raise ODataError(405, INVALID_ARGUMENT,
                         f"The HTTP method '{req.method}' is not allowed on a collection.")

    def _entity_id(self, base: str, table: Table, guid: str) -> str:
        return f"{base}{table.entity_set}({guid})"

    def _representation(
        self, req: Request, query: Query, base: str, table: Table, row: Row, status: int,
        extra: list[tuple[str, str]] | None = None,
    ) -> Response:
        prefs = parse_prefer(req.headers.get("Prefer"))
        select = parse_select(table, query.options.get("$select"))
        ann = Annotations(None if self.generic else prefs.get("odata.include-annotations"))
        render = with_expansions(
            make_renderer(table, selected_columns(table, select), ann, self._name,
                          money_as_string=self.generic),
            parse_expand(table, query.options.get("$expand"), self.store.tables),
            self.store, Annotations(None),
        )
        payload = {"@odata.context": context_url(base, table, select, "/$entity"), **render(row)}
        applied = ["return=representation"] if "return" in prefs else []
        if ann.spec:
            applied.append(f'odata.include-annotations="{ann.spec}"')
        headers = [("ETag", etag(row))] + (extra or [])
        if applied:
            headers.append(("Preference-Applied", ", ".join(applied)))
        return json_response(status, payload, headers)

    def _name(self, entity_set: str, guid: str) -> str | None:
        table = self.store.tables.get(entity_set)
        row = self.store.find(entity_set, guid) if table else None
        return row.get(table.primary_name) if row and table else None

    def _wants_representation(self, req: Request) -> bool:
        return parse_prefer(req.headers.get("Prefer")).get("return") == "representation"

    def _create(self, req: Request, query: Query, base: str, table: Table) -> Response:
        body = req.json()
        with self.store.lock:
            values = normalize(table, body, creating=True, resolve=self.store.resolve)
            row = self.store.create_row(table.entity_set, values)
        return self._written(req, query, base, table, row, created=True)

    def _written(
        self, req: Request, query: Query, base: str, table: Table, row: Row, created: bool
    ) -> Response:
        entity_id = self._entity_id(base, table, row[table.primary_id])
        if self._wants_representation(req):
            return self._representation(req, query, base, table, row, 201 if created else 200)
        return empty_response(204, [("OData-EntityId", entity_id)])

    # -- single entities --------------------------------------------------------------

    def _resolve_key(self, table: Table, key: Key) -> Row | None:
        if isinstance(key, str):
            return self.store.find(table.entity_set, key)
        for name in key:
            if name not in table.by_prop:
                raise bad_request(f"Could not find a property named '{name}' on type "
                                  f"'{table.odata_type}'.")
        if tuple(sorted(key)) not in {tuple(sorted(k)) for k in table.alternate_keys}:
            if list(key) != [table.primary_id]:
                raise bad_request(f"The key '{', '.join(key)}' is not an alternate key of "
                                  f"'{table.logical}'.", INVALID_ARGUMENT)
            value = key[table.primary_id]
            return self.store.find(table.entity_set, str(value))
        return self.store.find_by_key(table.entity_set, key)

    def _entity(
        self, req: Request, query: Query, base: str, table: Table, key: Key, tail: str
    ) -> Response:
        if tail:
            return self._property(req, query, base, table, key, tail)
        if req.method == "GET":
            row = self._resolve_key(table, key)
            if row is None:
                raise not_found(f"Entity '{table.logical}' With Id = {_key_text(key)} Does Not Exist")
            inm = req.headers.get("If-None-Match")
            prefs = parse_prefer(req.headers.get("Prefer"))
            if inm and inm != "null" and "odata.include-annotations" not in prefs and \
                    "$expand" not in query.options and _etag_matches(inm, row):
                return empty_response(304, [("ETag", etag(row))])
            return self._representation(req, query, base, table, row, 200)
        if req.method == "PATCH":
            return self._upsert(req, query, base, table, key)
        if req.method == "DELETE":
            with self.store.lock:
                row = self._resolve_key(table, key)
                if row is None:
                    raise not_found(f"{table.logical} With Id = {_key_text(key)} Does Not Exist",
                                    code="")
                self._check_if_match(req, row)
                self.store.delete_row(table.entity_set, row[table.primary_id])
            return empty_response(204)
        raise ODataError(405, INVALID_ARGUMENT,
                         f"The HTTP method '{req.method}' is not allowed on an entity.")

    @staticmethod
    def _check_if_match(req: Request, row: Row) -> None:
        if_match = req.headers.get("If-Match")
        if if_match and not _etag_matches(if_match, row):
            raise ODataError(412, CONCURRENCY_MISMATCH, "The version of the existing record "
                             "doesn't match the RowVersion property provided.")

    def _upsert(self, req: Request, query: Query, base: str, table: Table, key: Key) -> Response:
        body = req.json()
        if_match = req.headers.get("If-Match")
        if_none_match = req.headers.get("If-None-Match")
        with self.store.lock:
            row = self._resolve_key(table, key)
            if row is not None:
                if if_none_match == "*":
                    raise ODataError(412, DUPLICATE_RECORD,
                                     "A record with matching key values already exists.")
                self._check_if_match(req, row)
                values = normalize(table, body, creating=False, resolve=self.store.resolve)
                guid = row[table.primary_id]
                if values.pop(table.primary_id, guid) != guid:
                    raise bad_request("The primary key in the body does not match the URL.",
                                      INVALID_ARGUMENT)
                if not isinstance(key, str):
                    for name in key:
                        values.pop(name, None)  # key columns in the body are ignored on update
                row = self.store.update_row(table.entity_set, guid, values)
                created = False
            else:
                if if_match:
                    raise not_found(
                        f"{table.logical} With Id = {_key_text(key)} Does Not Exist", code=""
                    )
                values = normalize(table, body, creating=True, resolve=self.store.resolve)
                if isinstance(key, str):
                    if values.get(table.primary_id, key) != key:
                        raise bad_request("The primary key in the body does not match the URL.",
                                          INVALID_ARGUMENT)
                    guid = key
                else:
                    guid = values.get(table.primary_id)
                    keyed = normalize(table, dict(key), creating=True, resolve=self.store.resolve)
                    values = {**keyed, **values}  # body values take precedence over the URL
                row = self.store.create_row(table.entity_set, values, guid)
                created = True
        if self._wants_representation(req):
            return self._representation(req, query, base, table, row, 201 if created else 200)
        entity_id = self._entity_id(base, table, row[table.primary_id])
        return empty_response(204, [("OData-EntityId", entity_id)])

    def _property(
        self, req: Request, query: Query, base: str, table: Table, key: Key, tail: str
    ) -> Response:
        col = table.by_prop.get(tail)
        if col is None:
            raise bad_request(f"Resource not found for the segment '{tail}'.", INVALID_PROPERTY)
        with self.store.lock:
            row = self._resolve_key(table, key)
            if row is None:
                raise not_found(f"{table.logical} With Id = {_key_text(key)} Does Not Exist",
                                code="")
            guid = row[table.primary_id]
            if req.method == "GET":
                payload = {
                    "@odata.context": f"{base}$metadata#{table.entity_set}({guid})/{tail}",
                    "value": row[tail],
                }
                return json_response(200, payload)
            if req.method in ("PUT", "DELETE"):
                value = None if req.method == "DELETE" else (req.json() or {}).get("value")
                values = normalize(table, {tail: value}, creating=False,
                                   resolve=self.store.resolve)
                self.store.update_row(table.entity_set, guid, values)
                return empty_response(204)
        raise ODataError(405, INVALID_ARGUMENT,
                         f"The HTTP method '{req.method}' is not allowed on a property.")

    # -- bulk actions -----------------------------------------------------------------

    def _bulk(self, req: Request, base: str, table: Table, action: str) -> Response:
        body = req.json()
        targets = body.get("Targets") if isinstance(body, dict) else None
        if not isinstance(targets, list):
            raise bad_request("The body must have a 'Targets' array.", INVALID_ARGUMENT)
        ids: list[str] = []
        with self.store.transaction():
            for target in targets:
                if not isinstance(target, dict) or \
                        target.get("@odata.type") != f"{NAMESPACE}.{table.logical}":
                    raise bad_request(f"Every target needs \"@odata.type\": "
                                      f"\"{NAMESPACE}.{table.logical}\".", INVALID_ARGUMENT)
                ids.append(self._bulk_one(table, action, target))
        if action == "CreateMultiple":
            return json_response(200, {
                "@odata.context": f"{base}$metadata#{NAMESPACE}.CreateMultipleResponse",
                "Ids": ids,
            })
        return empty_response(204)

    def _bulk_one(self, table: Table, action: str, target: dict[str, Any]) -> str:
        store = self.store
        pid = table.primary_id
        if action == "CreateMultiple":
            values = normalize(table, target, creating=True, resolve=store.resolve)
            return str(store.create_row(table.entity_set, values)[pid])
        row: Row | None = None
        key: Key | None = None
        if "@odata.id" in target:
            entity_set, key = parse_entity_ref(str(target["@odata.id"]))
            if entity_set != table.entity_set:
                raise bad_request(f"'@odata.id' must reference {table.entity_set}.",
                                  INVALID_ARGUMENT)
            row = self._resolve_key(table, key)
        elif target.get(pid):
            key = str(target[pid]).lower()
            row = store.find(table.entity_set, key)
        if action == "UpdateMultiple" and row is None:
            raise not_found(f"{table.logical} With Id = {target.get(pid)} Does Not Exist", code="")
        if row is not None:
            values = normalize(table, target, creating=False, resolve=store.resolve)
            values.pop(pid, None)
            return str(store.update_row(table.entity_set, row[pid], values)[pid])
        values = normalize(table, target, creating=True, resolve=store.resolve)
        if isinstance(key, dict):
            values = {**normalize(table, dict(key), creating=True, resolve=store.resolve),
                      **values}
        return str(store.create_row(table.entity_set, values, key if isinstance(key, str)
                                    else None)[pid])

def _key_text(key: Key) -> str:
    if isinstance(key, str):
        return key
    return ",".join(f"{k}={v}" for k, v in key.items())

