"""Against an OData v4 service that is not Dataverse (the emulator's generic mode)."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest

from l2tui.errors import ConfigError
from l2tui.providers.base import Change, ChangeOp, ColumnType


def generic(make_crm, rows=2500):
    crm = make_crm(rows=rows, auth=False)
    crm.emu.mode = "generic"
    return crm


def test_pages_by_itself_with_relative_next_links(make_crm):
    crm = generic(make_crm)
    pages = list(crm.provider(crm.emu.connection_string() + "PageSize=100;").read())
    assert [len(p.records) for p in pages] == [1000, 1000, 500]


def test_schema_comes_from_metadata(make_crm):
    crm = generic(make_crm, rows=10)
    provider = crm.provider()
    columns = {c.name: c for c in provider.describe()}
    assert columns["accountid"].key and columns["revenue"].type == ColumnType.DECIMAL
    assert columns["_primarycontactid_value"].lookup_target == "contacts"
    assert provider.verify().ok


def test_decimals_given_as_strings_are_read_as_decimal(make_crm):
    crm = generic(make_crm, rows=50)
    records = [r for p in crm.provider().read() for r in p.records]
    revenues = [r["revenue"] for r in records if r["revenue"] is not None]
    assert revenues and all(isinstance(v, Decimal) for v in revenues)


def test_spaces_in_query_options_are_sent_as_percent_20(make_crm):
    crm = generic(make_crm, rows=50)
    provider = crm.provider(select="$select=name,statecode&$filter=statecode eq 0")
    records = [r for p in provider.read() for r in p.records]
    assert records and all(r["statecode"] == 0 for r in records)


def test_delta_read_follows_a_relative_delta_link(make_crm):
    crm = generic(make_crm, rows=50)
    provider = crm.provider()
    first = provider.read()
    list(first)
    assert first.cursor and first.cursor.startswith(crm.emu.base_url)
    guid = crm.emu.store.rows("accounts")[0]["accountid"]
    crm.emu.store.delete("accounts", guid)
    delta = provider.read(first.cursor)
    deleted = [k for p in delta for k in p.deleted]
    assert delta.is_delta and deleted == [(guid,)]


def test_writes_work_without_dataverse_metadata(make_crm):
    crm = generic(make_crm, rows=5)
    key = str(uuid.uuid4())
    [outcome] = crm.provider().write([Change(ChangeOp.CREATE, {"accountid": key},
                                             {"name": "Generic", "revenue": Decimal("1.50")})])
    assert outcome.ok, outcome.error
    assert crm.emu.store.get("accounts", key)["name"] == "Generic"


def test_a_name_column_is_not_said_to_need_a_choice_where_the_service_is_not_dataverse(make_crm):
    """Only Dataverse lists `<x>name` columns: elsewhere `statecodename` is plainly unknown."""
    crm = generic(make_crm, rows=10)
    with pytest.raises(ConfigError, match=r"^select: 'statecodename' is not a column of "
                                          r"accounts \(did you mean 'statecode'\?\)$"):
        crm.provider(select="$select=name,statecodename").describe()
