"""Reading: pages, change tracking (delta), fallback to a full read, schema."""

from __future__ import annotations

import time
from datetime import date, datetime
from decimal import Decimal

import pytest

from l2tui.emulator.faults import Fault
from l2tui.errors import ConfigError, ConnectError
from l2tui.providers.base import ColumnType
from l2tui.providers.odata import schema
from l2tui.providers.odata.http import HttpError


def read_all(stream):
    pages = list(stream)
    records = [r for p in pages for r in p.records]
    deleted = [k for p in pages for k in p.deleted]
    return pages, records, deleted


def test_12000_rows_are_read_in_pages(make_crm):
    crm = make_crm(rows=12000, auth=True)
    provider = crm.provider()
    pages, records, _ = read_all(provider.read())
    assert len(records) == 12000
    assert len({r["accountid"] for r in records}) == 12000
    assert [len(p.records) for p in pages] == [5000, 5000, 2000]


def test_page_size_key_sets_odata_maxpagesize(crm):
    provider = crm.provider(crm.emu.connection_string() + "PageSize=64;")
    pages, records, _ = read_all(provider.read())
    assert len(records) == 200 and len(pages) == 4


def test_a_full_read_hands_back_a_delta_cursor(crm):
    stream = crm.provider().read()
    read_all(stream)
    assert stream.is_delta is False
    assert stream.cursor and "$deltatoken=" in stream.cursor


def test_delta_read_returns_only_out_of_band_changes_and_deletions(crm):
    provider = crm.provider(select="$select=name,revenue")
    first = provider.read()
    _, records, _ = read_all(first)
    emu = crm.emu
    changed, gone = records[0]["accountid"], records[1]["accountid"]
    emu.store.update("accounts", changed, {"name": "Renamed Ltd"})
    emu.store.delete("accounts", gone)
    new = emu.store.insert("accounts", {"name": "Brand New"})

    delta = provider.read(first.cursor)
    _, changes, deleted = read_all(delta)
    assert delta.is_delta is True
    assert {r["accountid"]: r["name"] for r in changes} == {changed: "Renamed Ltd", new: "Brand New"}
    assert deleted == [(gone,)]
    assert delta.cursor and delta.cursor != first.cursor


def test_a_full_read_leaves_out_the_records_its_seen_filter_names(crm):
    provider = crm.provider(select="$select=name")
    _, everything, _ = read_all(provider.read())
    asked: list[tuple[list, list]] = []

    def seen(keys, versions):
        asked.append((keys, versions))
        return {i for i, (key,) in enumerate(keys) if key.endswith(("0", "1", "2", "3"))}

    first = provider.read(seen=seen)
    pages, records, _ = read_all(first)
    keys = [k for page_keys, _ in asked for k in page_keys]
    assert keys == [(r["accountid"],) for r in everything]  # as sent (lower-case GUIDs here)
    assert all(v and v.startswith('W/"') for _, versions in asked for v in versions)
    kept = [r for r in everything if not r["accountid"].endswith(("0", "1", "2", "3"))]
    assert records == kept and sum(p.skipped for p in pages) == len(everything) - len(kept)
    assert all(len(p.versions) == len(p.records) for p in pages)
    crm.emu.store.update("accounts", everything[0]["accountid"], {"name": "Renamed Ltd"})
    asked.clear()
    _, changes, _ = read_all(provider.read(first.cursor, seen=seen))
    assert [r["name"] for r in changes] == ["Renamed Ltd"] and asked == []  # a delta: changes


def test_delta_with_nothing_changed_is_empty(crm):
    provider = crm.provider()
    first = provider.read()
    read_all(first)
    delta = provider.read(first.cursor)
    _, records, deleted = read_all(delta)
    assert (records, deleted, delta.is_delta) == ([], [], True)


def test_expired_delta_token_falls_back_to_a_full_read(crm):
    provider = crm.provider()
    first = provider.read()
    read_all(first)
    crm.emu.expire_delta_tokens()
    again = provider.read(first.cursor)
    _, records, _ = read_all(again)
    assert again.is_delta is False and len(records) == 200
    assert again.cursor and again.cursor != first.cursor
    assert any("refused the change-tracking cursor" in line for line in crm.logs)


def test_a_cursor_from_another_select_means_a_full_read(crm):
    first = crm.provider(select="$select=name").read()
    read_all(first)
    again = crm.provider(select="$select=name,revenue").read(first.cursor)
    _, records, _ = read_all(again)
    assert again.is_delta is False and len(records) == 200


def test_filter_turns_change_tracking_off(crm):
    provider = crm.provider(select="$select=name&$filter=statecode eq 0")
    stream = provider.read()
    _, records, _ = read_all(stream)
    assert records and stream.cursor is None
    assert not provider.capabilities().can_delta
    assert "change tracking off" in provider.verify().message


def test_top_limits_the_rows(crm):
    _, records, _ = read_all(crm.provider(select="$top=5").read())
    assert len(records) == 5


def test_filter_with_spaces_and_quotes_is_encoded(crm):
    name = crm.emu.store.rows("accounts")[0]["name"]
    crm.emu.store.insert("accounts", {"name": "O'Neil & Sons"})
    _, records, _ = read_all(crm.provider(select="$filter=name eq 'O''Neil & Sons'").read())
    assert [r["name"] for r in records] == ["O'Neil & Sons"]
    assert name


def test_values_are_converted_to_python_types(crm):
    _, records, _ = read_all(crm.provider().read())
    row = next(r for r in records if r.get("revenue") is not None)
    assert isinstance(row["revenue"], Decimal)
    assert isinstance(row["createdon"], datetime) and row["createdon"].utcoffset().total_seconds() == 0
    assert isinstance(row["statecode"], int) and isinstance(row["creditonhold"], bool)
    assert row["accountid"] == row["accountid"].lower()
    assert not any("@" in key for key in row)


def test_date_only_columns_read_as_dates(crm):
    provider = crm.provider(crm.emu.connection_string("contacts"))
    _, records, _ = read_all(provider.read())
    birthdays = [r["birthdate"] for r in records if r.get("birthdate")]
    assert birthdays and all(type(b) is date for b in birthdays)


def test_describe_lists_types_key_read_only_and_lookups(crm):
    columns = {c.name: c for c in crm.provider().describe()}
    assert columns["accountid"].key and columns["accountid"].type == ColumnType.GUID
    assert columns["revenue"].type == ColumnType.DECIMAL
    assert columns["name"].max_length == 160
    assert columns["createdon"].read_only and columns["versionnumber"].read_only
    contact = columns["_primarycontactid_value"]
    assert contact.lookup_target == "contacts" and not contact.read_only
    assert columns["_transactioncurrencyid_value"].read_only
    assert "primarycontactidname" not in columns


def test_describe_goes_without_the_metadata_casts_it_cannot_read(crm):
    crm.emu.faults.fail_next(1, status=404, path_contains="StringAttributeMetadata")
    crm.emu.faults.fail_next(1, status=404, path_contains="LookupAttributeMetadata")
    columns = {c.name: c for c in crm.provider().describe()}
    assert columns["name"].max_length is None  # MaxLength comes from the string cast
    assert columns["_primarycontactid_value"].lookup_target is None  # targets: the lookup cast
    assert columns["revenue"].type == ColumnType.DECIMAL
    missing = [line for line in crm.logs if "AttributeMetadata not available" in line]
    assert missing == ["StringAttributeMetadata not available (404); going without MaxLength",
                       "LookupAttributeMetadata not available (404); going without Targets"]


def test_describe_finds_navigation_in_metadata_when_relationships_are_refused(crm):
    crm.emu.faults.fail_next(1, status=404, path_contains="ManyToOneRelationships")
    provider = crm.provider()
    provider.describe()
    assert provider.schema().navigation["_primarycontactid_value"] == "primarycontactid"
    assert "ManyToOneRelationships not available (404); reading $metadata" in crm.logs


def test_describe_against_the_emulator_logs_nothing_missing(crm):
    crm.provider().describe()
    assert not [line for line in crm.logs if "not available" in line or "not found" in line]


def test_describe_reads_navigation_from_many_to_one_relationships(crm):
    provider = crm.provider()
    provider.describe()
    assert provider.schema().navigation["_primarycontactid_value"] == "primarycontactid"
    assert not any("$metadata" in line for line in crm.logs)


def test_describe_asks_no_entity_set_for_a_read_only_lookup(crm):
    crm.provider().describe()
    asked = [r for r in crm.emu.recent_requests if "transactioncurrency" in r]
    assert asked == []


def test_describe_goes_without_a_lookup_target_whose_entity_set_it_cannot_read(crm):
    crm.emu.faults.fail_next(1, status=404, path_contains="(LogicalName='contact')")
    columns = {c.name: c for c in crm.provider().describe()}
    assert columns["_primarycontactid_value"].lookup_target is None
    assert "no entity set found for table contact" in crm.logs


def test_describe_asks_for_the_attributes_together_with_the_definition(crm):
    # each metadata answer held 1 s: the definition with the attributes is one wait, the
    # lookup's entity set a second; asked one after the other, they were three
    crm.emu.faults.delay_next(100, 1.0, path_contains="EntityDefinitions")
    started = time.perf_counter()
    columns = {c.name: c for c in crm.provider().describe()}
    assert time.perf_counter() - started < 2.6
    assert columns["_primarycontactid_value"].lookup_target == "contacts"


def test_describe_under_a_wrong_guess_of_the_logical_name_asks_again_under_the_right_one(
        crm, monkeypatch):
    right = {c.name: c for c in crm.provider().describe()}
    monkeypatch.setattr(schema, "logical_name_guess", lambda entity_set: "contact")
    crm.emu.recent_requests.clear()
    assert {c.name: c for c in crm.provider().describe()} == right
    asked = [r.split("?")[0] for r in crm.emu.recent_requests
             if "/Attributes" in r or "/ManyToOneRelationships" in r]
    assert sum("(LogicalName='contact')" in r for r in asked) == 5
    assert sum("(LogicalName='account')" in r for r in asked) == 5


@pytest.mark.parametrize(("entity_set", "logical"), [
    ("accounts", "account"), ("opportunities", "opportunity"), ("new_addresses", "new_address"),
    ("new_boxes", "new_box"), ("new_matches", "new_match"), ("invoices", "invoice"),
    ("data", None),
])
def test_a_logical_name_is_guessed_from_the_entity_set_as_dataverse_pluralises(entity_set,
                                                                              logical):
    assert schema.logical_name_guess(entity_set) == logical


def test_describe_with_select_returns_those_columns_and_the_key(crm):
    columns = crm.provider(select="$select=name,revenue").describe()
    assert [c.name for c in columns] == ["accountid", "name", "revenue"]


def test_describe_with_a_select_without_a_lookup_asks_for_no_target_table(crm):
    # the entity sets of lookup targets are a second round trip: only a selected lookup needs one
    crm.emu.recent_requests.clear()
    crm.provider(select="$select=name,revenue").describe()
    asked = [r for r in crm.emu.recent_requests if "?$select=EntitySetName" in r]
    assert asked == []


def test_describe_with_a_select_naming_a_lookup_finds_its_target_table(crm):
    provider = crm.provider(select="$select=name,_primarycontactid_value")
    columns = {c.name: c for c in provider.describe()}
    assert columns["_primarycontactid_value"].lookup_target == "contacts"
    assert provider.schema().navigation == {"_primarycontactid_value": "primarycontactid"}


def test_select_naming_an_unknown_column_is_a_config_error(crm):
    with pytest.raises(ConfigError, match="'nmae'"):
        crm.provider(select="$select=nmae").describe()


REFUSED_SELECTS = {
    "$select=name&$filter=name eq": "Syntax error: unexpected 'end of input' in 'name eq'.",
    "$filter=nonsense eq 1": "Could not find a property named 'nonsense' on type "
                             "'Microsoft.Dynamics.CRM.account'.",
    "$orderby=nosuch": "Could not find a property named 'nosuch' on type "
                       "'Microsoft.Dynamics.CRM.account'.",
}


@pytest.mark.parametrize("select", REFUSED_SELECTS)
def test_a_select_the_service_refuses_is_a_select_error_with_its_reason(crm, select):
    provider = crm.provider(select=select)
    with pytest.raises(ConfigError) as info:
        read_all(provider.read())
    assert info.value.key == "select"
    assert info.value.detail == f"the service refused the select: {REFUSED_SELECTS[select]}"
    assert provider.verify().in_settings


def test_a_select_the_service_refuses_is_a_select_error_when_the_read_asks_keys_first(crm):
    provider = crm.provider(select="$select=name&$filter=name eq")
    with pytest.raises(ConfigError, match="the service refused the select: Syntax error"):
        read_all(provider.read(seen=lambda keys, versions: set()))
    assert any("/accounts?$select=accountid&" in r for r in crm.emu.recent_requests)


def test_an_entity_set_the_service_does_not_have_is_a_connection_string_error_naming_its_sets(
        open_crm):
    provider = open_crm.provider(f"URL={open_crm.emu.url('nosuchset')};Authentication=none;")
    with pytest.raises(ConfigError) as info:
        provider.describe()
    assert info.value.key == "connection_string"
    assert info.value.detail == (f"the service at {provider.settings.host} has no entity set "
                                 "'nosuchset' (it has: accounts, contacts)")
    assert provider.verify().in_settings


def test_a_mistyped_entity_set_is_named_with_the_one_it_may_mean(open_crm):
    provider = open_crm.provider(f"URL={open_crm.emu.url('contact')};Authentication=none;")
    with pytest.raises(ConfigError, match=r"no entity set 'contact' \(did you mean 'contacts'\?\)"):
        provider.describe()


def test_a_mistyped_column_of_the_select_gets_the_nearest_column_named(crm):
    with pytest.raises(ConfigError) as info:
        crm.provider(select="$select=name,acountnumber").describe()
    assert info.value.detail == "'acountnumber' is not a column of accounts (did you mean " \
        "'accountnumber'?)"


def test_a_primary_key_naming_a_column_the_entity_set_lacks_is_a_primary_key_error(crm):
    provider = crm.provider(select="$select=name", primary_key=["nosuchkey"])
    with pytest.raises(ConfigError) as info:
        provider.describe()
    assert info.value.key == "primary_key"
    assert info.value.detail.startswith(
        "column 'nosuchkey' not found in entity set 'accounts' (its columns: "
        "_primarycontactid_value, _transactioncurrencyid_value, accountid, ")
    assert provider.verify().in_settings


def test_a_primary_key_the_select_leaves_out_is_a_primary_key_error_saying_to_add_it(crm):
    provider = crm.provider(select="$select=name", primary_key=["accountnumber"])
    with pytest.raises(ConfigError) as info:
        provider.describe()
    assert info.value.key == "primary_key"
    assert info.value.detail == "column 'accountnumber' is not in the select's $select; add it there"


def test_unsupported_option_is_refused_before_connecting(crm):
    with pytest.raises(ConfigError, match=r"\$skip"):
        crm.provider(select="$skip=5")


def test_dropped_connections_while_reading_are_retried(crm):
    provider = crm.provider()
    provider.describe()
    crm.emu.faults.drop_next(2, path_contains="/accounts")
    _, records, _ = read_all(provider.read())
    assert len(records) == 200


def test_a_delta_read_throttled_past_its_retries_fails_and_keeps_its_cursor(crm):
    """429 after every retry is the service's load, not a refusal of the cursor: no full read
    of everything in its place (more requests to a service that asks for fewer)."""
    provider = crm.provider(retry_max_throttled=2)
    first = provider.read()
    read_all(first)
    crm.emu.faults.fail_next(3, status=429, method="GET", query_contains="deltatoken")
    before = crm.emu.request_count
    again = provider.read(first.cursor)
    with pytest.raises(HttpError) as caught:
        read_all(again)
    assert caught.value.status == 429
    assert crm.emu.request_count - before == 3  # the delta request and its two retries alone
    assert not any("refused the change-tracking cursor" in line for line in crm.logs)
    _, records, _ = read_all(provider.read(first.cursor))  # the cursor still serves
    assert records == []


def test_a_next_link_to_another_host_is_not_sent_the_sign_in(make_crm):
    """A page whose next link names another host (a service or proxy gone wrong) is not
    followed: the access token goes to the service alone."""
    crm = make_crm(rows=200, seed=1, auth=True)
    elsewhere = make_crm(rows=0, seed=1, auth=False)
    original = crm.emu.api.handle

    def handle(req):
        response = original(req)
        response.body = response.body.replace(crm.emu.base_url.encode(),
                                              elsewhere.emu.base_url.encode())
        return response

    crm.emu.api.handle = handle
    provider = crm.provider(crm.emu.connection_string() + "PageSize=50;")
    with pytest.raises(ConnectError, match="linked to another address"):
        read_all(provider.read())
    assert elsewhere.emu.request_count == 0


def test_a_page_of_html_in_the_middle_of_a_read_is_not_taken_for_a_wrong_url(crm):
    """The service answered JSON until a page came as HTML (a proxy's error page): the message
    says so, rather than ask whether URL names an OData service."""
    provider = crm.provider(crm.emu.connection_string() + "PageSize=50;")
    provider.describe()
    original = crm.emu.faults.check
    pages = [0]

    def check(method, path, query=""):
        if "skiptoken" in query:
            pages[0] += 1
            if pages[0] == 2:
                return Fault("garble", 200)
        return original(method, path, query)

    crm.emu.faults.check = check
    with pytest.raises(ConnectError) as caught:
        read_all(provider.read())
    assert "expected JSON, got text/html" in str(caught.value)
    assert "proxy" in str(caught.value) and "is URL an OData service" not in str(caught.value)


def test_has_rows_asks_the_entity_set_for_one_key(crm):
    provider = crm.provider(select="$select=name&$filter=statecode eq 0")
    provider.describe()
    crm.emu.recent_requests.clear()
    assert provider.has_rows() is True
    [asked] = crm.emu.recent_requests
    assert "$select=accountid" in asked and "$top=1" in asked and "statecode" not in asked


def test_has_rows_does_not_apply_the_select_filter(crm):
    assert crm.provider(select="$filter=name eq 'nobody'").has_rows() is True
    for key in [r["accountid"] for r in crm.emu.store.rows("accounts")]:
        crm.emu.store.delete("accounts", key)
    assert crm.provider(select="$filter=name eq 'nobody'").has_rows() is False
