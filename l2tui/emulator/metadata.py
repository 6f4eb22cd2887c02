"""Service document, CSDL ($metadata) and EntityDefinitions for the emulated tables."""

from __future__ import annotations

import uuid
from typing import Any

from .schema import BY_SET, METADATA_TYPES, MONEY_LIMIT, NAMESPACE, TABLES, Column, Table

_OBJECT_TYPE_CODES = {"account": 1, "contact": 2}
_TYPE_NAMES = {
    "Uniqueidentifier": "UniqueidentifierType", "String": "StringType", "Memo": "MemoType",
    "Money": "MoneyType", "Integer": "IntegerType", "BigInt": "BigIntType",
    "Picklist": "PicklistType", "State": "StateType", "Status": "StatusType",
    "DateTime": "DateTimeType", "Lookup": "LookupType", "Customer": "CustomerType",
    "Boolean": "BooleanType", "Virtual": "VirtualType",
}


def _label(text: str) -> dict[str, Any]:
    label = {"Label": text, "LanguageCode": 1033, "IsManaged": True}
    return {"LocalizedLabels": [label], "UserLocalizedLabel": label}


def _schema_name(logical: str) -> str:
    return logical[:1].upper() + logical[1:]


def _metadata_id(*parts: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "l2tui-emulator/" + "/".join(parts)))


def service_document(base_url: str) -> dict[str, Any]:
    """The service document listing every entity set."""
    return {
        "@odata.context": f"{base_url}$metadata",
        "value": [
            {"name": t.entity_set, "kind": "EntitySet", "url": t.entity_set} for t in TABLES
        ]
        + [{"name": "EntityDefinitions", "kind": "EntitySet", "url": "EntityDefinitions"}],
    }


def csdl() -> str:
    """The CSDL document, with the change-tracking annotation on tracked entity sets."""
    types = []
    for table in TABLES:
        props = []
        navs = []
        for col in table.columns:
            props.append(f'<Property Name="{col.prop}" Type="{col.edm}" />')
            if col.nav:
                target = BY_SET.get(col.target or "")
                if target is not None:
                    navs.append(
                        f'<NavigationProperty Name="{col.nav}" '
                        f'Type="{NAMESPACE}.{target.logical}" Nullable="false">'
                        f'<ReferentialConstraint Property="{col.prop}" '
                        f'ReferencedProperty="{target.primary_id}" /></NavigationProperty>'
                    )
        types.append(
            f'<EntityType Name="{table.logical}"><Key><PropertyRef Name="{table.primary_id}" />'
            f"</Key>{''.join(props)}{''.join(navs)}</EntityType>"
        )
    sets = []
    for table in TABLES:
        annotation = (
            '<Annotation Term="Org.OData.Capabilities.V1.ChangeTracking"><Record>'
            '<PropertyValue Property="Supported" Bool="true" /></Record></Annotation>'
            if table.change_tracking
            else ""
        )
        sets.append(
            f'<EntitySet Name="{table.entity_set}" EntityType="{NAMESPACE}.{table.logical}">'
            f"{annotation}</EntitySet>"
        )
    return (
        '<?xml version="1.0" encoding="utf-8"?>'
        '<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">'
        "<edmx:DataServices>"
        f'<Schema Namespace="{NAMESPACE}" Alias="mscrm" '
        'xmlns="http://docs.oasis-open.org/odata/ns/edm">'
        f"{''.join(types)}"
        f'<EntityContainer Name="System">{"".join(sets)}</EntityContainer>'
        "</Schema></edmx:DataServices></edmx:Edmx>"
    )


def entity_definition(table: Table) -> dict[str, Any]:
    """EntityMetadata of one table (the properties clients commonly select)."""
    return {
        "MetadataId": table.metadata_id,
        "LogicalName": table.logical,
        "SchemaName": _schema_name(table.logical),
        "EntitySetName": table.entity_set,
        "LogicalCollectionName": table.entity_set,
        "CollectionSchemaName": _schema_name(table.entity_set),
        "ObjectTypeCode": _OBJECT_TYPE_CODES.get(table.logical, 10000),
        "PrimaryIdAttribute": table.primary_id,
        "PrimaryNameAttribute": table.primary_name,
        "ChangeTrackingEnabled": table.change_tracking,
        "CanChangeTrackingBeEnabled": {
            "Value": True, "CanBeChanged": False,
            "ManagedPropertyLogicalName": "canchangetrackingbeenabled",
        },
        "IsOptimisticConcurrencyEnabled": True,
        "IsCustomEntity": False,
        "IsActivity": False,
        "IsValidForAdvancedFind": True,
        "DisplayName": _label(table.display),
        "DisplayCollectionName": _label(table.display + "s"),
    }


def _attribute(table: Table, col: Column) -> dict[str, Any]:
    required = "SystemRequired" if col.primary_id else (
        "ApplicationRequired" if col.primary_name and col.create else "None"
    )
    return {
        "@odata.type": f"#{NAMESPACE}.{METADATA_TYPES[col.type]}",
        "MetadataId": _metadata_id(table.logical, col.logical),
        "LogicalName": col.logical,
        "SchemaName": _schema_name(col.logical),
        "EntityLogicalName": table.logical,
        "AttributeType": col.type,
        "AttributeTypeName": {"Value": _TYPE_NAMES[col.type]},
        "AttributeOf": None,
        "IsPrimaryId": col.primary_id,
        "IsPrimaryName": col.primary_name,
        "IsValidForCreate": col.create,
        "IsValidForRead": True,
        "IsValidForUpdate": col.update,
        "IsValidODataAttribute": True,
        "IsLogical": col.logical in ("fullname",),
        "IsCustomAttribute": False,
        "SourceType": 0,
        "RequiredLevel": {
            "Value": required, "CanBeChanged": not col.primary_id,
            "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings",
        },
        "DisplayName": _label(col.display or col.logical),
    }


def _name_attribute(table: Table, col: Column) -> dict[str, Any]:
    """The virtual `<x>name` attribute Dataverse lists for lookups and choices."""
    logical = col.logical + "name"
    kind = "String" if col.is_lookup else "Virtual"
    return {
        "@odata.type": f"#{NAMESPACE}."
        + ("StringAttributeMetadata" if col.is_lookup else "VirtualAttributeMetadata"),
        "MetadataId": _metadata_id(table.logical, logical),
        "LogicalName": logical,
        "SchemaName": _schema_name(logical),
        "EntityLogicalName": table.logical,
        "AttributeType": kind,
        "AttributeTypeName": {"Value": _TYPE_NAMES[kind]},
        "AttributeOf": col.logical,
        "IsPrimaryId": False,
        "IsPrimaryName": False,
        "IsValidForCreate": False,
        "IsValidForRead": True,
        "IsValidForUpdate": False,
        "IsValidODataAttribute": False,
        "IsLogical": True,
        "IsCustomAttribute": False,
        "SourceType": 0,
        "RequiredLevel": {"Value": "None", "CanBeChanged": False,
                          "ManagedPropertyLogicalName": "canmodifyrequirementlevelsettings"},
        "DisplayName": _label(""),
    }


def _specific(col: Column, expand: set[str]) -> dict[str, Any]:
    """Properties of the derived attribute metadata types (seen through a cast segment)."""
    out: dict[str, Any] = {}
    if col.type in ("String", "Memo"):
        out["MaxLength"] = col.max_length
        out["Format"] = "Text" if col.type == "String" else "TextArea"
    elif col.type == "Money":
        out.update({"Precision": 2, "PrecisionSource": 2, "MinValue": float(-MONEY_LIMIT),
                    "MaxValue": float(MONEY_LIMIT)})
    elif col.type == "Integer":
        out.update({"MinValue": -2147483648, "MaxValue": 2147483647, "Format": "None"})
    elif col.type == "DateTime":
        out["Format"] = "DateOnly" if col.date_only else "DateAndTime"
        out["DateTimeBehavior"] = {"Value": "DateOnly" if col.date_only else "UserLocal"}
    elif col.is_lookup:
        target = BY_SET.get(col.target or "")
        out["Targets"] = [target.logical if target else "transactioncurrency"]
    elif col.options is not None:
        out["DefaultFormValue"] = min(col.options)
        if "OptionSet" in expand:
            out["OptionSet"] = {
                "Name": f"{col.logical}",
                "IsGlobal": False,
                "OptionSetType": col.type,
                "Options": [
                    {"Value": value, "Label": _label(label)}
                    for value, label in col.options.items()
                ],
            }
        if "GlobalOptionSet" in expand:
            out["GlobalOptionSet"] = None
    return out


def attributes(table: Table, cast: str | None, expand: set[str]) -> list[dict[str, Any]]:
    """AttributeMetadata of a table; with a cast, only that type and its own properties."""
    out = []
    for col in table.columns:
        meta = _attribute(table, col)
        if cast is not None:
            if meta["@odata.type"] != f"#{NAMESPACE}.{cast}":
                continue
            meta.update(_specific(col, expand))
        out.append(meta)
        if (col.is_lookup or col.options is not None) and cast is None:
            out.append(_name_attribute(table, col))
    return out


def many_to_one(table: Table) -> list[dict[str, Any]]:
    """The table's ManyToOneRelationships: one per lookup to an emulated table (as in $metadata,
    whose navigation properties they name)."""
    out = []
    for col in table.columns:
        target = BY_SET.get(col.target or "")
        if not col.nav or target is None:
            continue
        out.append({
            "@odata.type": f"#{NAMESPACE}.OneToManyRelationshipMetadata",
            "MetadataId": _metadata_id(table.logical, "relationship", col.logical),
            "SchemaName": f"{_schema_name(target.logical)}_{_schema_name(table.logical)}_"
                          f"{_schema_name(col.logical)}",
            "RelationshipType": "OneToManyRelationship",
            "ReferencedEntity": target.logical,
            "ReferencedAttribute": target.primary_id,
            "ReferencingEntity": table.logical,
            "ReferencingAttribute": col.logical,
            "ReferencedEntityNavigationPropertyName": f"{table.logical}_{col.logical}",
            "ReferencingEntityNavigationPropertyName": col.nav,
        })
    return out
