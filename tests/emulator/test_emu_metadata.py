"""EntityDefinitions and their Attributes."""

from __future__ import annotations

from urllib.parse import quote

import requests

from l2tui.emulator import Emulator


def test_entity_definition_names_the_set_key_and_change_tracking(emu: Emulator,
                                                                  http: requests.Session):
    body = http.get(emu.url("EntityDefinitions(LogicalName='account')?$select=EntitySetName,"
                            "PrimaryIdAttribute,ChangeTrackingEnabled")).json()
    assert body["EntitySetName"] == "accounts"
    assert body["PrimaryIdAttribute"] == "accountid"
    assert body["ChangeTrackingEnabled"] is True
    assert "MetadataId" in body
    assert "LogicalName" not in body


def test_entity_definitions_filter_on_change_tracking(emu: Emulator, http: requests.Session):
    url = emu.url("EntityDefinitions?$select=LogicalName&$filter="
                  + quote("ChangeTrackingEnabled eq true"))
    names = {e["LogicalName"] for e in http.get(url).json()["value"]}
    assert names == {"account", "contact"}


def test_attributes_describe_types_and_write_rules(emu: Emulator, http: requests.Session):
    url = emu.url("EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName,"
                  "AttributeType,IsPrimaryId,IsValidForCreate,IsValidForUpdate,IsValidForRead")
    attrs = {a["LogicalName"]: a for a in http.get(url).json()["value"]}
    assert attrs["accountid"]["IsPrimaryId"] is True
    assert attrs["revenue"]["AttributeType"] == "Money"
    assert attrs["statecode"]["AttributeType"] == "State"
    assert attrs["primarycontactid"]["AttributeType"] == "Lookup"
    assert attrs["createdon"]["IsValidForCreate"] is False
    assert attrs["modifiedon"]["IsValidForUpdate"] is False
    assert attrs["name"]["IsValidForCreate"] and attrs["name"]["IsValidForUpdate"]
    assert attrs["primarycontactidname"]["AttributeType"] == "String"


def test_attribute_filter_on_enum_literal(emu: Emulator, http: requests.Session):
    flt = "AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'Picklist' or " \
          "AttributeType eq Microsoft.Dynamics.CRM.AttributeTypeCode'State'"
    url = emu.url("EntityDefinitions(LogicalName='account')/Attributes?$select=LogicalName"
                  "&$filter=" + quote(flt))
    assert [a["LogicalName"] for a in http.get(url).json()["value"]] == ["statecode"]


def test_type_specific_properties_need_a_cast(emu: Emulator, http: requests.Session):
    base = emu.url("EntityDefinitions(LogicalName='account')/Attributes")
    assert http.get(base + "?$select=LogicalName,MaxLength").status_code == 400
    body = http.get(base + "/Microsoft.Dynamics.CRM.StringAttributeMetadata"
                           "?$select=LogicalName,MaxLength").json()
    assert {"LogicalName": "name", "MaxLength": 160} in [
        {k: v for k, v in a.items() if k in ("LogicalName", "MaxLength")} for a in body["value"]]


def test_choice_options_through_expand(emu: Emulator, http: requests.Session):
    url = emu.url("EntityDefinitions(LogicalName='account')/Attributes/"
                  "Microsoft.Dynamics.CRM.StatusAttributeMetadata?$select=LogicalName"
                  "&$expand=OptionSet")
    [attr] = http.get(url).json()["value"]
    labels = {o["Value"]: o["Label"]["UserLocalizedLabel"]["Label"]
              for o in attr["OptionSet"]["Options"]}
    assert labels == {1: "Active", 2: "Inactive"}


def test_unknown_entity_definition_is_404(emu: Emulator, http: requests.Session):
    assert http.get(emu.url("EntityDefinitions(LogicalName='widget')")).status_code == 404


def test_many_to_one_relationships_name_the_lookups_navigation(emu: Emulator,
                                                                http: requests.Session):
    url = emu.url("EntityDefinitions(LogicalName='account')/ManyToOneRelationships?$select="
                  "ReferencingAttribute,ReferencingEntityNavigationPropertyName,ReferencedEntity")
    rows = http.get(url).json()["value"]
    contact = [(r["ReferencingEntityNavigationPropertyName"], r["ReferencedEntity"])
               for r in rows if r["ReferencingAttribute"] == "primarycontactid"]
    assert contact == [("primarycontactid", "contact")]
    assert all("SchemaName" not in r for r in rows)  # $select applies
