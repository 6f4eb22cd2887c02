"""An entity set's columns: from Dataverse EntityDefinitions, or from the $metadata CSDL elsewhere."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Callable, Collection
from dataclasses import replace
from typing import Any
from urllib.parse import quote

from l2tui.config.names import names_hint
from l2tui.pools import thread_pool
from l2tui.providers.base import Column, ColumnType
from l2tui.providers.odata.entity_schema import EntitySchema
from l2tui.providers.odata.http import HttpClient, HttpError, collection, shape_error
from l2tui.providers.odata.pages import collection_problem, json_kind
from l2tui.providers.odata.values import ATTRIBUTE_DIGITS, ATTRIBUTE_TYPES, column_type

EDM_NS = "{http://docs.oasis-open.org/odata/ns/edm}"
CRM = "Microsoft.Dynamics.CRM"
DATAVERSE_ROOT = "/api/data/v"  # in every Dataverse Web API root: …/api/data/v9.2/
COMPUTED_TERMS = ("Org.OData.Core.V1.Computed", "Core.Computed", "Org.OData.Core.V1.Immutable")
CHANGE_TRACKING_TERMS = ("Org.OData.Capabilities.V1.ChangeTracking", "Capabilities.ChangeTracking")
LOOKUP_TYPES = ("Lookup", "Customer", "Owner")  # attributes read as `_<name>_value`
WEB_API = "is the URL the Web API's?"  # (said after a metadata answer without a 'value' list)


class UnknownEntitySet(ValueError):
    """The service answered, and its $metadata names no such entity set: a setting to mend."""

    def __init__(self, entity_set: str, known: Collection[str]) -> None:
        self.entity_set = entity_set
        self.hint = known_sets(entity_set, known)
        super().__init__(f"the service has no entity set '{entity_set}' ({self.hint})")


def known_sets(entity_set: str, known: Collection[str]) -> str:
    """The entity set a mistyped one may have meant, else the first few of them."""
    return names_hint(entity_set, known, listing="it has")


def odata_quote(text: str) -> str:
    """A string literal for a URL: quotes doubled, then percent-encoded (spaces as %20)."""
    return quote("'" + text.replace("'", "''") + "'", safe="'")


def load_schema(http: HttpClient, service_root: str, entity_set: str,
                log: Callable[[str], None], selected: Collection[str] | None = None) -> EntitySchema:
    """EntityDefinitions on Dataverse, else the $metadata CSDL.

    On a Dataverse root the table's attributes are asked for together with its definition,
    under the logical name its entity set suggests (``accounts``: ``account``): a describe
    waits one round trip, not two. An answer under a guess the definition does not confirm is
    never read; the attributes are then asked for again under the definition's name.

    ``selected``: the columns the entity's select names (None: all). Only those lookups are
    made writable through @odata.bind, so only their target tables' entity sets are asked for:
    a select without a writable lookup waits no second round trip.
    """
    dataverse = DATAVERSE_ROOT in service_root
    guess = logical_name_guess(entity_set) if dataverse else None
    asked = http.soon(_entity_definition, http, service_root, entity_set, dataverse)
    ahead = _AttributeQueries(http, service_root, guess) if guess else None
    definition = asked.result()
    if definition is not None:
        logical = definition["LogicalName"]
        queries = ahead if ahead is not None and ahead.logical == logical else \
            _AttributeQueries(http, service_root, logical)
        wanted = None if selected is None else {name.casefold() for name in selected}
        return _dataverse_schema(http, service_root, entity_set, definition, queries, log, wanted)
    return csdl_schema(_get_text(http, service_root + "$metadata"), entity_set)


def logical_name_guess(entity_set: str) -> str | None:
    """The logical name Dataverse would have pluralised into this entity set (its default
    rule: ``opportunities``, ``addresses``, ``accounts``); None when nothing suggests one."""
    for plural, single in (("ies", "y"), ("sses", "ss"), ("xes", "x"), ("ches", "ch"),
                           ("shes", "sh"), ("s", "")):
        if entity_set.endswith(plural) and len(entity_set) > len(plural):
            return entity_set[: -len(plural)] + single
    return None


# -- Dataverse ------------------------------------------------------------------------------------


def _entity_definition(http: HttpClient, root: str, entity_set: str,
                       dataverse: bool) -> dict[str, Any] | None:
    """The table's definition (None: none, or no EntityDefinitions); on a Dataverse root
    (``dataverse``) an answer of another shape is a ConnectError saying so."""
    url = (
        f"{root}EntityDefinitions?$select=LogicalName,EntitySetName,PrimaryIdAttribute,"
        f"ChangeTrackingEnabled&$filter=EntitySetName%20eq%20{odata_quote(entity_set)}"
    )
    try:
        body = http.get_json(url)
    except HttpError as exc:
        if exc.status in (400, 404, 405, 501):
            return None  # not Dataverse: no EntityDefinitions
        raise
    if not dataverse and collection_problem(body, ("LogicalName",)) is not None:
        return None  # (an OData service's answer of its own)
    rows = collection(url, body, ("LogicalName",), WEB_API)["value"]
    return rows[0] if rows else None  # type: ignore[no-any-return]


class _AttributeQueries:
    """The five requests that describe a table's attributes, sent together (``HttpClient.soon``):
    independent, so a describe waits for one round trip, not five (against Dataverse, ~0.1 s
    each)."""

    def __init__(self, http: HttpClient, root: str, logical: str) -> None:
        self.logical = logical
        base = f"{root}EntityDefinitions(LogicalName={odata_quote(logical)})/Attributes"
        self.listed = http.soon(
            http.get_collection, base + "?$select=LogicalName,AttributeType,IsValidForCreate,"
            "IsValidForUpdate,IsPrimaryId,IsValidODataAttribute,AttributeOf,RequiredLevel",
            None, ("LogicalName", "AttributeType"), WEB_API)
        self.casts = [http.soon(_cast_values, http, base, cast, prop) for cast, prop in (
            ("StringAttributeMetadata", "MaxLength"), ("DateTimeAttributeMetadata", "Format"),
            ("LookupAttributeMetadata", "Targets"))]
        self.relations = http.soon(_many_to_one, http, root, logical)


def _dataverse_schema(http: HttpClient, root: str, entity_set: str, definition: dict[str, Any],
                      queries: _AttributeQueries, log: Callable[[str], None],
                      wanted: set[str] | None) -> EntitySchema:
    logical = definition["LogicalName"]
    # (read in the order they were asked: their log lines follow it)
    attributes = queries.listed.result()["value"]
    (extra, formats, targets) = [_logged(future.result(), log) for future in queries.casts]
    relationships = queries.relations.result()
    primary = definition.get("PrimaryIdAttribute")
    columns: list[Column] = []
    navigation: dict[str, str] = {}
    lookups: dict[str, list[str]] = {}
    named: dict[str, str] = {}  # a base attribute → its `<base>name` attribute
    for attribute in attributes:
        name = attribute["LogicalName"]
        kind = attribute["AttributeType"]
        base = attribute.get("AttributeOf")
        if isinstance(base, str) and name == base + "name":
            named[base] = name
        if attribute.get("IsValidODataAttribute") is False or base:
            continue
        if kind not in ATTRIBUTE_TYPES and kind != "Virtual":
            log(f"{entity_set}.{name}: attribute type {kind} read as text")
        if kind == "Virtual":
            continue
        column_kind, edm = ATTRIBUTE_TYPES.get(kind, (ColumnType.OTHER, kind))
        digits = ATTRIBUTE_DIGITS.get(kind, (None, None))
        if kind == "DateTime" and formats.get(name) == "DateOnly":
            column_kind, edm = ColumnType.DATE, "Edm.Date"
        is_key = bool(attribute.get("IsPrimaryId")) or name == primary
        writable = bool(attribute.get("IsValidForCreate")) or bool(attribute.get("IsValidForUpdate"))
        prop = f"_{name}_value" if kind in LOOKUP_TYPES else name
        # only what the platform itself requires: ApplicationRequired ("business required") is
        # a form's rule, not the Web API's (an account made through it may have no name), so a
        # table made for these columns takes such a record too
        level = attribute.get("RequiredLevel")
        required = isinstance(level, dict) and level.get("Value") == "SystemRequired"
        if prop != name:
            lookups[prop] = targets.get(name, [])
            if writable and (wanted is None or prop.casefold() in wanted):
                navigation[prop] = name
        columns.append(Column(
            name=prop, type=column_kind, nullable=not (required or is_key),
            read_only=not writable, key=is_key, native_type=edm,
            max_length=extra.get(name) if isinstance(extra.get(name), int) else None,
            precision=digits[0], scale=digits[1],
        ))
    if navigation:
        navigation.update(_navigation_properties(http, root, logical, set(navigation),
                                                 relationships, log))
    # only a lookup written through @odata.bind needs its target's entity set
    sets = _entity_sets(http, root, {t for prop, ts in lookups.items() if prop in navigation
                                     for t in ts}, log)
    columns = [
        _with_target(c, sets, lookups.get(c.name, []), c.name in navigation) for c in columns
    ]
    kinds = {attribute["LogicalName"]: attribute["AttributeType"] for attribute in attributes}
    columns, labels = _with_labels(columns, {
        f"_{base}_value" if kinds.get(base) in LOOKUP_TYPES else base: label
        for base, label in named.items() if kinds.get(base) in (*LABELLED, *LOOKUP_TYPES)})
    return EntitySchema(entity_set, columns, bool(definition.get("ChangeTrackingEnabled")),
                        dataverse=True, logical_name=logical, navigation=navigation,
                        labels=labels)


LABELLED = ("Picklist", "State", "Status", "Boolean", "MultiSelectPicklist")
"""Attribute types whose ``<x>name`` attribute is the choice's label (a lookup's: the related
row's primary name); Dataverse sends either as the base's FormattedValue annotation."""


def _with_labels(columns: list[Column], named: dict[str, str]
                 ) -> tuple[list[Column], dict[str, str]]:
    """The columns, each choice or lookup followed by its read-only ``<x>name`` column (from
    ``named``: base property → name column); and each name column's base property."""
    out: list[Column] = []
    labels: dict[str, str] = {}
    taken = {column.name for column in columns}
    for column in columns:
        out.append(column)
        label = named.get(column.name)
        if label is not None and label not in taken:
            labels[label] = column.name
            out.append(Column(name=label, type=ColumnType.STRING, read_only=True,
                              native_type="Edm.String", filled_from=column.name))
    return out, labels


def _csdl_digits(prop: ET.Element) -> tuple[int | None, int | None]:
    """An ``Edm.Decimal`` property's Precision and Scale, when it gives them as numbers (a
    Scale of "variable" or "floating", or none, leaves the decimal's digits unknown)."""
    precision, scale = prop.get("Precision", ""), prop.get("Scale", "0")
    if prop.get("Type") != "Edm.Decimal" or not precision.isdigit() or not scale.isdigit():
        return None, None
    return int(precision), int(scale)


def _with_target(column: Column, sets: dict[str, str], targets: list[str], bindable: bool) -> Column:
    if not targets or not bindable:
        return column
    target = sets.get(targets[0])
    return column if target is None else replace(column, lookup_target=target)


def _cast_values(http: HttpClient, base: str, cast: str,
                 prop: str) -> tuple[dict[str, Any], str | None]:
    """One property of every attribute of a derived type, by name; or why not (a log line).
    A lookup's Targets are a list of table names (a text read as the one name)."""
    url = f"{base}/{CRM}.{cast}?$select=LogicalName,{prop}"
    try:
        rows = http.get_collection(url, needs=("LogicalName",), hint=WEB_API)["value"]
    except HttpError as exc:
        return {}, f"{cast} not available ({exc.status}); going without {prop}"
    values = {row["LogicalName"]: row.get(prop) for row in rows}
    if prop == "Targets":
        values = {name: _table_names(url, value) for name, value in values.items()}
    return values, None


def _table_names(url: str, targets: Any) -> list[str]:
    """A lookup's Targets as table names: a list of texts, or a text as the one name (as some
    services send it); none for null. Another shape is a ConnectError naming the request."""
    if targets is None:
        return []
    if isinstance(targets, str):
        return [targets] if targets else []
    if isinstance(targets, list) and all(isinstance(name, str) for name in targets):
        return targets
    if isinstance(targets, list):
        odd = next(name for name in targets if not isinstance(name, str))
        problem = f"{json_kind(odd)} in its 'Targets' list, not a table name"
    else:
        problem = f"{json_kind(targets)} as its 'Targets', not a list of table names"
    raise shape_error(url, f"an item of the answer's 'value' list has {problem}")


def _logged(result: tuple[dict[str, Any], str | None],
            log: Callable[[str], None]) -> dict[str, Any]:
    values, message = result
    if message:
        log(message)
    return values


def _many_to_one(http: HttpClient, root: str,
                 logical: str) -> tuple[list[dict[str, Any]] | None, str | None]:
    """The entity's ManyToOneRelationships; or why not (a log line)."""
    url = (f"{root}EntityDefinitions(LogicalName={odata_quote(logical)})/ManyToOneRelationships"
           "?$select=ReferencingAttribute,ReferencingEntityNavigationPropertyName")
    try:
        rows = http.get_collection(url, needs=("ReferencingAttribute",
                                               "ReferencingEntityNavigationPropertyName"),
                                   hint=WEB_API)["value"]
        return rows, None
    except HttpError as exc:
        return None, f"ManyToOneRelationships not available ({exc.status}); reading $metadata"


def _navigation_properties(http: HttpClient, root: str, logical: str, lookups: set[str],
                           relationships: tuple[list[dict[str, Any]] | None, str | None],
                           log: Callable[[str], None]) -> dict[str, str]:
    """``_x_value`` → navigation property for @odata.bind (ManyToOneRelationships, else CSDL)."""
    rows, message = relationships
    if rows is not None:
        return {
            f"_{row['ReferencingAttribute']}_value": row["ReferencingEntityNavigationPropertyName"]
            for row in rows if f"_{row['ReferencingAttribute']}_value" in lookups
        }
    log(message or "ManyToOneRelationships not available; reading $metadata")
    try:
        text = _get_text(http, root + "$metadata")
    except HttpError:
        return {}
    return {
        prop: nav for prop, nav in _csdl_navigation(text, logical).items() if prop in lookups
    }


def _entity_set(http: HttpClient, root: str, logical: str) -> str | None:
    """The entity set of one table (None: not found)."""
    try:
        body = http.get_json(
            f"{root}EntityDefinitions(LogicalName={odata_quote(logical)})?$select=EntitySetName")
        return str(body["EntitySetName"])
    except (HttpError, KeyError, TypeError):
        return None


def _entity_sets(http: HttpClient, root: str, logicals: set[str],
                 log: Callable[[str], None]) -> dict[str, str]:
    """The entity sets of the lookups' target tables, asked for together."""
    names = sorted(logicals)
    if not names:
        return {}
    with thread_pool(min(8, len(names)), "l2tui-describe") as pool:
        found = list(pool.map(lambda logical: _entity_set(http, root, logical), names))
    out: dict[str, str] = {}
    for logical, entity_set in zip(names, found, strict=True):
        if entity_set is None:
            log(f"no entity set found for table {logical}")
        else:
            out[logical] = entity_set
    return out


# -- CSDL -----------------------------------------------------------------------------------------


def _get_text(http: HttpClient, url: str) -> str:
    response = http.request("GET", url, headers={"Accept": "application/xml"})
    return response.text


class _Csdl:
    """Entity types and sets of a CSDL document, names resolved through namespaces and aliases."""

    def __init__(self, text: str) -> None:
        try:
            root = ET.fromstring(text.encode("utf-8") if isinstance(text, str) else text)
        except ET.ParseError as exc:
            raise ValueError(f"$metadata is not CSDL XML ({exc})") from None
        self.types: dict[str, ET.Element] = {}
        self.sets: dict[str, ET.Element] = {}
        self.aliases: dict[str, str] = {}
        for schema in root.iter(f"{EDM_NS}Schema"):
            namespace = schema.get("Namespace", "")
            if schema.get("Alias"):
                self.aliases[schema.get("Alias", "")] = namespace
            for entity_type in schema.findall(f"{EDM_NS}EntityType"):
                self.types[f"{namespace}.{entity_type.get('Name')}"] = entity_type
            for container in schema.findall(f"{EDM_NS}EntityContainer"):
                for entity_set in container.findall(f"{EDM_NS}EntitySet"):
                    self.sets[entity_set.get("Name", "")] = entity_set

    def qualified(self, name: str) -> str:
        """A type name with its alias replaced by the namespace."""
        head, _, tail = name.rpartition(".")
        return f"{self.aliases.get(head, head)}.{tail}"

    def lineage(self, type_name: str) -> list[ET.Element]:
        """The entity type and its base types, base first."""
        chain: list[ET.Element] = []
        current: str | None = self.qualified(type_name)
        while current and current in self.types and len(chain) < 20:
            element = self.types[current]
            chain.insert(0, element)
            base = element.get("BaseType")
            current = self.qualified(base) if base else None
        return chain

    def set_of_type(self, type_name: str) -> str | None:
        """The first entity set whose type is the given one."""
        wanted = self.qualified(type_name)
        for name, element in self.sets.items():
            if self.qualified(element.get("EntityType", "")) == wanted:
                return name
        return None


def _has_true_annotation(element: ET.Element, terms: tuple[str, ...]) -> bool:
    for annotation in element.findall(f"{EDM_NS}Annotation"):
        if annotation.get("Term") not in terms:
            continue
        if annotation.get("Bool", "true").lower() == "true" and not len(annotation):
            return True
        for value in annotation.iter(f"{EDM_NS}PropertyValue"):
            if value.get("Property") == "Supported" and value.get("Bool", "").lower() == "true":
                return True
    return False


def _csdl_navigation(text: str, logical: str) -> dict[str, str]:
    """``_x_value`` → navigation property of a Dataverse entity type, from the CSDL."""
    csdl = _Csdl(text)
    out: dict[str, str] = {}
    for element in csdl.lineage(f"{CRM}.{logical}"):
        for nav in element.findall(f"{EDM_NS}NavigationProperty"):
            for constraint in nav.findall(f"{EDM_NS}ReferentialConstraint"):
                out[constraint.get("Property", "")] = nav.get("Name", "")
    return out


def csdl_schema(text: str, entity_set: str) -> EntitySchema:
    """The schema of an entity set read from a CSDL ($metadata) document."""
    csdl = _Csdl(text)
    element = csdl.sets.get(entity_set)
    if element is None:
        raise UnknownEntitySet(entity_set, csdl.sets)
    chain = csdl.lineage(element.get("EntityType", ""))
    keys = [ref.get("Name", "") for t in chain for k in t.findall(f"{EDM_NS}Key")
            for ref in k.findall(f"{EDM_NS}PropertyRef")]
    bindings = {b.get("Path", ""): b.get("Target", "")
                for b in element.findall(f"{EDM_NS}NavigationPropertyBinding")}
    navigation: dict[str, str] = {}
    targets: dict[str, str] = {}
    for entity_type in chain:
        for nav in entity_type.findall(f"{EDM_NS}NavigationProperty"):
            name = nav.get("Name", "")
            target = bindings.get(name) or csdl.set_of_type(nav.get("Type", ""))
            for constraint in nav.findall(f"{EDM_NS}ReferentialConstraint"):
                foreign_key = constraint.get("Property", "")
                navigation[foreign_key] = name
                if target:
                    targets[foreign_key] = target.rpartition("/")[2]
    columns: list[Column] = []
    for entity_type in chain:
        for prop in entity_type.findall(f"{EDM_NS}Property"):
            name = prop.get("Name", "")
            edm = prop.get("Type", "")
            is_key = name in keys
            max_length = prop.get("MaxLength", "")
            precision, scale = _csdl_digits(prop)
            columns.append(Column(
                name=name,
                type=column_type(edm),
                nullable=prop.get("Nullable", "true").lower() != "false" and not is_key,
                read_only=_has_true_annotation(prop, COMPUTED_TERMS),
                key=is_key,
                native_type=edm,
                max_length=int(max_length) if max_length.isdigit() else None,
                lookup_target=targets.get(name),
                precision=precision,
                scale=scale,
            ))
    tracked = _has_true_annotation(element, CHANGE_TRACKING_TERMS)
    return EntitySchema(entity_set, columns, tracked, dataverse=False, navigation=navigation)
