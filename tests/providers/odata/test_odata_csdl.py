"""Schema of a non-Dataverse OData service from its $metadata CSDL."""

from __future__ import annotations

import pytest

from l2tui.providers.base import ColumnType
from l2tui.providers.odata.schema import csdl_schema, known_sets

CSDL = """<?xml version="1.0" encoding="utf-8"?>
<edmx:Edmx Version="4.0" xmlns:edmx="http://docs.oasis-open.org/odata/ns/edmx">
 <edmx:DataServices>
  <Schema Namespace="Shop.Model" Alias="m" xmlns="http://docs.oasis-open.org/odata/ns/edm">
   <EntityType Name="Base" Abstract="true">
    <Key><PropertyRef Name="Id"/></Key>
    <Property Name="Id" Type="Edm.Guid" Nullable="false"/>
    <Property Name="Created" Type="Edm.DateTimeOffset">
     <Annotation Term="Org.OData.Core.V1.Computed" Bool="true"/>
    </Property>
   </EntityType>
   <EntityType Name="Product" BaseType="m.Base">
    <Property Name="Name" Type="Edm.String" MaxLength="80" Nullable="false"/>
    <Property Name="Price" Type="Edm.Decimal"/>
    <Property Name="Weight" Type="Edm.Decimal" Precision="12" Scale="3"/>
    <Property Name="CategoryId" Type="Edm.Guid"/>
    <NavigationProperty Name="Category" Type="m.Category">
     <ReferentialConstraint Property="CategoryId" ReferencedProperty="Id"/>
    </NavigationProperty>
   </EntityType>
   <EntityType Name="Category" BaseType="m.Base"/>
   <EntityContainer Name="C">
    <EntitySet Name="Products" EntityType="Shop.Model.Product">
     <NavigationPropertyBinding Path="Category" Target="Categories"/>
     <Annotation Term="Org.OData.Capabilities.V1.ChangeTracking">
      <Record><PropertyValue Property="Supported" Bool="true"/></Record>
     </Annotation>
    </EntitySet>
    <EntitySet Name="Categories" EntityType="Shop.Model.Category"/>
   </EntityContainer>
  </Schema>
 </edmx:DataServices>
</edmx:Edmx>"""


def test_columns_include_base_type_properties_and_key():
    schema = csdl_schema(CSDL, "Products")
    assert [c.name for c in schema.columns] == ["Id", "Created", "Name", "Price", "Weight",
                                                "CategoryId"]
    assert schema.key == ["Id"]


def test_types_nullability_and_length_come_from_the_csdl():
    schema = csdl_schema(CSDL, "Products")
    name, price = schema.column("Name"), schema.column("Price")
    assert (name.type, name.nullable, name.max_length) == (ColumnType.STRING, False, 80)
    assert price.type == ColumnType.DECIMAL and price.native_type == "Edm.Decimal"


def test_a_decimal_has_the_precision_and_scale_the_csdl_gives_it():
    schema = csdl_schema(CSDL, "Products")
    weight, price = schema.column("Weight"), schema.column("Price")
    assert (weight.precision, weight.scale, price.precision, price.scale) == (12, 3, None, None)


def test_computed_properties_are_read_only():
    assert csdl_schema(CSDL, "Products").column("Created").read_only


def test_foreign_keys_become_lookups_bound_through_their_navigation_property():
    schema = csdl_schema(CSDL, "Products")
    assert schema.column("CategoryId").lookup_target == "Categories"
    assert schema.navigation == {"CategoryId": "Category"}


def test_change_tracking_annotation_is_read():
    assert csdl_schema(CSDL, "Products").change_tracking
    assert not csdl_schema(CSDL, "Categories").change_tracking


def test_unknown_entity_set_names_the_known_ones():
    with pytest.raises(ValueError, match="has: Categories, Products"):
        csdl_schema(CSDL, "Orders")


def test_many_entity_sets_are_listed_briefly_with_their_count():
    sets = [f"set{n:03}" for n in range(300)]
    assert known_sets("zzz", sets) == ("it has: set000, set001, set002, set003, set004, set005, "
                                       "set006, set007, set008, set009, … (300 in all)")
