"""The EntityDefinitions endpoint: table and attribute metadata with $select and $filter."""

from __future__ import annotations

from typing import Any

from . import metadata
from .errors import bad_request, not_found
from .http_types import Response, json_response
from .odata_query import parse_filter
from .options import Query
from .schema import NAMESPACE, TABLES, Table
from .values import Key, parse_key, split_segment


def entity_definitions(query: Query, base: str, key: str | None, tail: str) -> Response:
    """GET EntityDefinitions[(key)][/Attributes[(key)][/<cast>]] with $select/$filter/$expand."""
    opts = query.options
    if key is None:
        if tail:
            raise not_found(f"Resource not found for the segment '{tail}'.")
        defs = [metadata.entity_definition(t) for t in TABLES]
        defs = _filter_select(defs, opts, query, "EntityMetadata", "MetadataId")
        return json_response(200, {
            "@odata.context": f"{base}$metadata#EntityDefinitions", "value": defs})
    table = _table_for_key(parse_key(key))
    if not tail:
        entity = metadata.entity_definition(table)
        [entity] = _filter_select([entity], opts, query, "EntityMetadata", "MetadataId",
                                  allow_filter=False)
        return json_response(200, {
            "@odata.context": f"{base}$metadata#EntityDefinitions/$entity", **entity})
    name, attr_key, cast = split_segment(tail)
    if name == "ManyToOneRelationships" and attr_key is None and not cast:
        relations = _filter_select(metadata.many_to_one(table), opts, query,
                                   "OneToManyRelationshipMetadata", "MetadataId")
        return json_response(200, {
            "@odata.context": f"{base}$metadata#EntityDefinitions('{table.metadata_id}')/"
                              "ManyToOneRelationships", "value": relations})
    if name != "Attributes":
        raise not_found(f"Resource not found for the segment '{name}'.")
    cast_type = cast.removeprefix(f"{NAMESPACE}.") if cast else None
    expand = {e.strip().split("(")[0] for e in opts.get("$expand", "").split(",") if e.strip()}
    attrs = metadata.attributes(table, cast_type, expand)
    base_type = cast_type or "AttributeMetadata"
    if attr_key is not None:
        wanted = parse_key(attr_key)
        logical = wanted.get("LogicalName") if isinstance(wanted, dict) else None
        match = [a for a in attrs if a["LogicalName"] == logical or a["MetadataId"] == wanted]
        if not match:
            raise not_found(f"Could not find attribute {attr_key}.")
        [attr] = _filter_select(match, opts, query, base_type, "MetadataId",
                                allow_filter=False, expanded=expand)
        return json_response(200, {
            "@odata.context": f"{base}$metadata#EntityDefinitions('{table.metadata_id}')/"
                              "Attributes/$entity", **attr})
    attrs = _filter_select(attrs, opts, query, base_type, "MetadataId", expanded=expand)
    return json_response(200, {
        "@odata.context": f"{base}$metadata#EntityDefinitions('{table.metadata_id}')/"
                          "Attributes", "value": attrs})


def _table_for_key(key: Key) -> Table:
    for table in TABLES:
        if isinstance(key, dict) and key.get("LogicalName") == table.logical:
            return table
        if key == table.metadata_id:
            return table
    name = key.get("LogicalName") if isinstance(key, dict) else key
    raise not_found(f"Could not find an entity with name {name}.", "0x80040217")


def _filter_select(
    items: list[dict[str, Any]], opts: dict[str, str], query: Query, type_name: str,
    always: str, allow_filter: bool = True, expanded: set[str] | None = None,
) -> list[dict[str, Any]]:
    """Apply $filter and $select to metadata objects (sub-properties like A/Value allowed)."""
    if "$filter" in opts and allow_filter:
        known = set().union(*(i.keys() for i in items)) if items else set()

        def field(path: str):
            head, _, sub = path.partition("/")
            if items and head not in known:
                raise bad_request(f"Could not find a property named '{head}' on type "
                                  f"'{NAMESPACE}.{type_name}'.")

            def get(item: dict[str, Any]) -> Any:
                value = item.get(head)
                if sub:
                    value = value.get(sub) if isinstance(value, dict) else None
                return value

            return get

        pred = parse_filter(opts["$filter"], field, query.aliases)
        items = [i for i in items if pred(i)]
    if "$select" in opts:
        props = [p.strip() for p in opts["$select"].split(",") if p.strip()]
        known = set().union(*(i.keys() for i in items)) if items else set(props)
        for prop in props:
            if items and prop not in known:
                raise bad_request(f"Could not find a property named '{prop}' on type "
                                  f"'{NAMESPACE}.{type_name}'.")
        keep = set(props) | {always, "@odata.type"} | (expanded or set())
        items = [{k: v for k, v in i.items() if k in keep} for i in items]
    return items
