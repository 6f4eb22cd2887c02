"""Table and column definitions of the emulated Dataverse organization."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field

NAMESPACE = "Microsoft.Dynamics.CRM"
CURRENCY_ID = "e3b5f0c3-6b5e-4c1a-9d8e-2f1a0c9b7d01"
CURRENCY_NAME = "US Dollar"
MONEY_LIMIT = 922_337_203_685_477  # a money column holds -MONEY_LIMIT to MONEY_LIMIT

EDM_TYPES = {
    "Uniqueidentifier": "Edm.Guid",
    "String": "Edm.String",
    "Memo": "Edm.String",
    "Money": "Edm.Decimal",
    "Integer": "Edm.Int32",
    "BigInt": "Edm.Int64",
    "Picklist": "Edm.Int32",
    "State": "Edm.Int32",
    "Status": "Edm.Int32",
    "DateTime": "Edm.DateTimeOffset",
    "Lookup": "Edm.Guid",
    "Customer": "Edm.Guid",
    "Boolean": "Edm.Boolean",
}

METADATA_TYPES = {
    "String": "StringAttributeMetadata",
    "Memo": "MemoAttributeMetadata",
    "Money": "MoneyAttributeMetadata",
    "Integer": "IntegerAttributeMetadata",
    "BigInt": "BigIntAttributeMetadata",
    "Picklist": "PicklistAttributeMetadata",
    "State": "StateAttributeMetadata",
    "Status": "StatusAttributeMetadata",
    "DateTime": "DateTimeAttributeMetadata",
    "Lookup": "LookupAttributeMetadata",
    "Customer": "LookupAttributeMetadata",
    "Boolean": "BooleanAttributeMetadata",
    "Uniqueidentifier": "UniqueIdentifierAttributeMetadata",
}


@dataclass(frozen=True)
class Column:
    """One attribute of a table, as seen in JSON (prop) and in metadata (logical)."""

    logical: str
    type: str
    create: bool = True
    update: bool = True
    max_length: int | None = None
    options: dict[int, str] | None = None
    target: str | None = None  # lookups: entity set of the referenced table
    nav: str | None = None  # lookups: navigation property used with @odata.bind
    date_only: bool = False
    primary_id: bool = False
    primary_name: bool = False
    display: str = ""

    @property
    def prop(self) -> str:
        """The JSON property name (lookups read as _x_value)."""
        if self.type in ("Lookup", "Customer"):
            return f"_{self.logical}_value"
        return self.logical

    @property
    def edm(self) -> str:
        """The CSDL type."""
        return "Edm.Date" if self.date_only else EDM_TYPES[self.type]

    @property
    def is_lookup(self) -> bool:
        """Whether the column references another row."""
        return self.type in ("Lookup", "Customer")


@dataclass(frozen=True)
class Table:
    """One Dataverse table (entity)."""

    logical: str
    entity_set: str
    primary_id: str
    primary_name: str
    columns: tuple[Column, ...]
    change_tracking: bool = True
    alternate_keys: tuple[tuple[str, ...], ...] = ()
    display: str = ""
    by_prop: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)
    by_nav: dict[str, Column] = field(default_factory=dict, compare=False, repr=False)

    def __post_init__(self) -> None:
        self.by_prop.update({c.prop: c for c in self.columns})
        self.by_nav.update({c.nav: c for c in self.columns if c.nav})

    @property
    def metadata_id(self) -> str:
        """A stable MetadataId for the table."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"l2tui-emulator/{self.logical}"))

    @property
    def props(self) -> list[str]:
        """All JSON property names in column order."""
        return [c.prop for c in self.columns]

    @property
    def odata_type(self) -> str:
        """The qualified entity type name."""
        return f"{NAMESPACE}.{self.logical}"


def _system_columns() -> tuple[Column, ...]:
    return (
        Column("createdon", "DateTime", create=False, update=False, display="Created On"),
        Column("modifiedon", "DateTime", create=False, update=False, display="Modified On"),
        Column("versionnumber", "BigInt", create=False, update=False, display="Version Number"),
    )


STATE_OPTIONS = {0: "Active", 1: "Inactive"}
STATUS_OPTIONS = {1: "Active", 2: "Inactive"}
STATE_STATUS = {0: 1, 1: 2}  # default statuscode for a statecode

ACCOUNT = Table(
    logical="account",
    entity_set="accounts",
    primary_id="accountid",
    primary_name="name",
    display="Account",
    alternate_keys=(("accountnumber",),),
    columns=(
        Column("accountid", "Uniqueidentifier", update=False, primary_id=True, display="Account"),
        Column("name", "String", max_length=160, primary_name=True, display="Account Name"),
        Column("accountnumber", "String", max_length=20, display="Account Number"),
        Column("revenue", "Money", display="Annual Revenue"),
        Column("transactioncurrencyid", "Lookup", create=False, update=False,
               target="transactioncurrencies", display="Currency"),
        Column("numberofemployees", "Integer", display="Number of Employees"),
        Column("statecode", "State", options=STATE_OPTIONS, display="Status"),
        Column("statuscode", "Status", options=STATUS_OPTIONS, display="Status Reason"),
        Column("telephone1", "String", max_length=50, display="Main Phone"),
        Column("address1_city", "String", max_length=80, display="Address 1: City"),
        Column("creditonhold", "Boolean", display="Credit Hold"),
        Column("description", "Memo", max_length=2000, display="Description"),
        Column("primarycontactid", "Lookup", target="contacts", nav="primarycontactid",
               display="Primary Contact"),
        *_system_columns(),
    ),
)

CONTACT = Table(
    logical="contact",
    entity_set="contacts",
    primary_id="contactid",
    primary_name="fullname",
    display="Contact",
    columns=(
        Column("contactid", "Uniqueidentifier", update=False, primary_id=True, display="Contact"),
        Column("firstname", "String", max_length=50, display="First Name"),
        Column("lastname", "String", max_length=50, display="Last Name"),
        Column("fullname", "String", create=False, update=False, max_length=160,
               primary_name=True, display="Full Name"),
        Column("emailaddress1", "String", max_length=100, display="Email"),
        Column("telephone1", "String", max_length=50, display="Business Phone"),
        Column("birthdate", "DateTime", date_only=True, display="Birthday"),
        Column("statecode", "State", options=STATE_OPTIONS, display="Status"),
        Column("statuscode", "Status", options=STATUS_OPTIONS, display="Status Reason"),
        Column("parentcustomerid", "Customer", target="accounts", nav="parentcustomerid_account",
               display="Company Name"),
        *_system_columns(),
    ),
)


TABLES: tuple[Table, ...] = (ACCOUNT, CONTACT)
BY_SET: dict[str, Table] = {t.entity_set: t for t in TABLES}
BY_LOGICAL: dict[str, Table] = {t.logical: t for t in TABLES}
