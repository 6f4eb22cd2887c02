"""Reading collections: $select, $filter, $orderby, $top, $count, paging and formatting."""

from __future__ import annotations

import re
from urllib.parse import quote

import requests

from l2tui.emulator import Emulator


def get(http: requests.Session, url: str, **headers: str) -> requests.Response:
    return http.get(url, headers=headers)


def test_service_document_lists_accounts_and_contacts(emu: Emulator, http: requests.Session):
    body = http.get(emu.base_url).json()
    names = {e["name"] for e in body["value"]}
    assert {"accounts", "contacts"} <= names
    assert body["@odata.context"] == emu.base_url + "$metadata"


def test_metadata_is_csdl_with_change_tracking_annotation(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("$metadata"))
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("application/xml")
    text = resp.text
    assert '<EntityType Name="account">' in text
    assert '<Property Name="revenue" Type="Edm.Decimal" />' in text
    assert re.search(r'<EntitySet Name="accounts"[^>]*><Annotation '
                     r'Term="Org.OData.Capabilities.V1.ChangeTracking">', text)


def test_rows_carry_all_columns_and_a_weak_etag(emu: Emulator, http: requests.Session):
    row = http.get(emu.url("accounts")).json()["value"][0]
    for column in ("accountid", "name", "accountnumber", "revenue", "numberofemployees",
                   "statecode", "statuscode", "telephone1", "address1_city",
                   "_primarycontactid_value", "createdon", "modifiedon", "versionnumber"):
        assert column in row
    assert row["@odata.etag"] == f'W/"{row["versionnumber"]}"'
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", row["modifiedon"])


def test_select_returns_the_key_and_chosen_columns(emu: Emulator, http: requests.Session):
    body = http.get(emu.url("accounts?$select=name,telephone1")).json()
    assert body["@odata.context"] == emu.base_url + "$metadata#accounts(name,telephone1)"
    assert set(body["value"][0]) == {"@odata.etag", "accountid", "name", "telephone1"}


def test_selecting_money_also_returns_the_currency(emu: Emulator, http: requests.Session):
    row = http.get(emu.url("accounts?$select=revenue")).json()["value"][0]
    assert "_transactioncurrencyid_value" in row


def test_select_of_an_unknown_column_is_refused(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("accounts?$select=nosuchcolumn"))
    assert resp.status_code == 400
    assert "nosuchcolumn" in resp.json()["error"]["message"]


def test_filter_with_eq_is_case_insensitive(emu: Emulator, http: requests.Session):
    name = emu.store.rows("accounts")[0]["name"]
    url = emu.url("accounts?$filter=" + quote(f"name eq '{name.upper()}'"))
    assert [r["name"] for r in http.get(url).json()["value"]] == [name]


def test_filter_combines_and_or_not_and_parentheses(emu: Emulator, http: requests.Session):
    flt = "(statecode eq 0 and numberofemployees gt 5000) or not (revenue ne null)"
    got = {r["accountid"] for r in http.get(emu.url("accounts?$filter=" + quote(flt))).json()["value"]}
    want = {
        r["accountid"] for r in emu.store.rows("accounts")
        if (r["statecode"] == 0 and (r["numberofemployees"] or 0) > 5000) or r["revenue"] is None
    }
    assert got == want and want


def test_filter_string_functions(emu: Emulator, http: requests.Session):
    def names(flt: str) -> set[str]:
        return {r["name"] for r in http.get(emu.url("accounts?$filter=" + quote(flt))).json()["value"]}

    all_names = [r["name"] for r in emu.store.rows("accounts")]
    assert names("contains(name,'WORKS')") == {n for n in all_names if "works" in n.lower()}
    assert names("startswith(name,'contoso')") == {n for n in all_names if n.startswith("Contoso")}
    assert names("endswith(name,' 7')") == {n for n in all_names if n.endswith(" 7")}


def test_filter_on_null_and_dates(emu: Emulator, http: requests.Session):
    rows = emu.store.rows("accounts")
    url = emu.url("accounts?$filter=" + quote("_primarycontactid_value eq null"))
    assert len(http.get(url).json()["value"]) == sum(
        1 for r in rows if r["_primarycontactid_value"] is None)
    url = emu.url("accounts?$filter=" + quote("createdon ge 2023-01-01T00:00:00Z"))
    assert len(http.get(url).json()["value"]) == sum(
        1 for r in rows if r["createdon"] >= "2023-01-01T00:00:00Z")


def test_filter_syntax_error_is_a_400(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("accounts?$filter=" + quote("name eq")))
    assert resp.status_code == 400
    assert set(resp.json()["error"]) >= {"code", "message"}


def test_orderby_desc_then_top(emu: Emulator, http: requests.Session):
    body = http.get(emu.url("accounts?$select=numberofemployees&$orderby=numberofemployees desc"
                            "&$top=5")).json()
    got = [r["numberofemployees"] for r in body["value"]]
    want = sorted((r["numberofemployees"] for r in emu.store.rows("accounts")
                   if r["numberofemployees"] is not None), reverse=True)[:5]
    assert got == want
    assert "@odata.nextLink" not in body


def test_count_adds_odata_count(emu: Emulator, http: requests.Session):
    body = http.get(emu.url("accounts?$count=true&$filter=statecode eq 0".replace(" ", "%20"))).json()
    assert body["@odata.count"] == len(body["value"])


def test_count_segment_returns_a_bare_number(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("accounts/$count"))
    assert resp.headers["Content-Type"].startswith("text/plain")
    assert resp.text == "50"


def test_skip_is_refused_as_dataverse_does(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("accounts?$top=5&$skip=5"))
    assert resp.status_code == 400
    assert resp.json()["error"]["message"] == "The query parameter $skip is not supported"


def test_unsupported_options_are_refused(emu: Emulator, http: requests.Session):
    for option in ("$search=x", "$format=json"):
        assert http.get(emu.url("accounts?" + option)).status_code == 400


def test_12000_rows_come_in_pages_of_5000(make_emu, http: requests.Session):
    emu = make_emu(rows=12000)
    seen: list[str] = []
    sizes = []
    url = emu.url("accounts?$select=name")
    while url:
        resp = http.get(url, headers={"Prefer": "odata.maxpagesize=5000"})
        assert resp.status_code == 200
        assert resp.headers["Preference-Applied"] == "odata.maxpagesize=5000"
        body = resp.json()
        sizes.append(len(body["value"]))
        seen += [r["accountid"] for r in body["value"]]
        url = body.get("@odata.nextLink")
        if url:
            assert url.startswith(emu.base_url + "accounts?$select=name&$skiptoken=")
    assert sizes == [5000, 5000, 2000]
    assert len(set(seen)) == 12000 == emu.store.count("accounts")


def _in(ids: list[str]) -> str:
    listed = ",".join(f"'{guid}'" for guid in ids)
    return f"Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues=[{listed}])"


def test_rows_asked_for_by_key_come_in_key_order_across_pages(make_emu, http: requests.Session):
    emu = make_emu(rows=300)
    ids = sorted(emu.store.live_rows("accounts"))
    wanted = [ids[250], ids[3], ids[120].upper(), ids[77], ids[199]]
    unknown = "00000000-0000-4000-8000-0000000000ff"
    url = emu.url(f"accounts?$select=accountid&$filter={quote(_in([*wanted, unknown]))}")
    got, pages = [], 0
    while url:
        body = http.get(url, headers={"Prefer": "odata.maxpagesize=2"}).json()
        got += [r["accountid"] for r in body["value"]]
        pages += 1
        url = body.get("@odata.nextLink")
    assert got == sorted(guid.lower() for guid in wanted)
    assert pages == 3


def test_rows_asked_for_by_key_still_meet_the_rest_of_the_filter(make_emu,
                                                                 http: requests.Session):
    emu = make_emu(rows=300)
    rows = emu.store.live_rows("accounts")
    ids = sorted(rows)[:40]
    some = rows[ids[0]]["numberofemployees"]
    flt = f"numberofemployees eq {some} and {_in(ids)}"
    body = http.get(emu.url(f"accounts?$select=accountid&$filter={quote(flt)}")).json()
    assert [r["accountid"] for r in body["value"]] == [
        guid for guid in ids if rows[guid]["numberofemployees"] == some]


def test_default_page_size_is_5000(make_emu, http: requests.Session):
    emu = make_emu(rows=5001)
    body = http.get(emu.url("accounts?$select=name")).json()
    assert len(body["value"]) == 5000 and "@odata.nextLink" in body


def test_maxpagesize_above_5000_is_ignored(make_emu, http: requests.Session):
    emu = make_emu(rows=5001)
    resp = http.get(emu.url("accounts?$select=name"), headers={"Prefer": "odata.maxpagesize=9000"})
    assert len(resp.json()["value"]) == 5000
    assert "Preference-Applied" not in resp.headers
    body = http.get(emu.url("accounts?$select=name&$count=true&$top=1"),
                    headers={"Prefer": 'odata.include-annotations="Microsoft.Dynamics.CRM.*"'}).json()
    assert body["@odata.count"] == 5000  # capped like Dataverse
    assert body["@Microsoft.Dynamics.CRM.totalrecordcount"] == 5001
    assert body["@Microsoft.Dynamics.CRM.totalrecordcountlimitexceeded"] is True
    assert http.get(emu.url("accounts/$count")).text == "5000"


def test_top_is_ignored_together_with_maxpagesize(emu: Emulator, http: requests.Session):
    body = http.get(emu.url("accounts?$select=name&$top=3"),
                    headers={"Prefer": "odata.maxpagesize=20"}).json()
    assert len(body["value"]) == 20 and "@odata.nextLink" in body


def test_paging_survives_inserts_and_deletes_between_pages(emu: Emulator, http: requests.Session):
    prefer = {"Prefer": "odata.maxpagesize=10"}
    first = http.get(emu.url("accounts?$select=name"), headers=prefer).json()
    seen = [r["accountid"] for r in first["value"]]
    emu.store.delete("accounts", seen[0])
    url = first["@odata.nextLink"]
    while url:
        body = http.get(url, headers=prefer).json()
        seen += [r["accountid"] for r in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(seen) == len(set(seen)) == 50


def test_paging_with_orderby_visits_every_row_once(emu: Emulator, http: requests.Session):
    prefer = {"Prefer": "odata.maxpagesize=7"}
    url = emu.url("accounts?$select=address1_city&$orderby=address1_city asc,name desc".replace(" ", "%20"))
    seen = []
    while url:
        body = http.get(url, headers=prefer).json()
        seen += [r["accountid"] for r in body["value"]]
        url = body.get("@odata.nextLink")
    assert len(seen) == len(set(seen)) == 50


def test_formatted_values_with_include_annotations(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("accounts?$select=statecode,revenue,_primarycontactid_value,createdon"
                            "&$filter=_primarycontactid_value ne null".replace(" ", "%20")),
                    headers={"Prefer": 'odata.include-annotations="*"'})
    assert resp.headers["Preference-Applied"] == 'odata.include-annotations="*"'
    row = resp.json()["value"][0]
    fv = "@OData.Community.Display.V1.FormattedValue"
    assert row["statecode" + fv] in ("Active", "Inactive")
    assert re.fullmatch(r"\d{1,2}/\d{1,2}/\d{4} \d{1,2}:\d\d [AP]M", row["createdon" + fv])
    contact = emu.store.get("contacts", row["_primarycontactid_value"])
    assert row["_primarycontactid_value" + fv] == contact["fullname"]
    assert row["_primarycontactid_value@Microsoft.Dynamics.CRM.lookuplogicalname"] == "contact"


def test_rows_asked_for_by_key_carry_the_formatted_values_asked_for(
        emu: Emulator, http: requests.Session):
    row = next(r for r in emu.store.rows("accounts") if r["_primarycontactid_value"])
    in_keys = f"Microsoft.Dynamics.CRM.In(PropertyName='accountid',PropertyValues=['{row['accountid']}'])"
    asked = {"Prefer": 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'}
    fv = "@OData.Community.Display.V1.FormattedValue"
    contact = emu.store.get("contacts", row["_primarycontactid_value"])["fullname"]
    [listed] = http.get(emu.url(f"accounts?$select=statecode,_primarycontactid_value&$filter="
                                f"{in_keys}"), headers=asked).json()["value"]
    one = http.get(emu.url(f"accounts({row['accountid']})?$select=statecode,"
                           "_primarycontactid_value"), headers=asked).json()
    for got in (listed, one):
        assert (got["statecode" + fv], got["_primarycontactid_value" + fv]) == \
            (["Active", "Inactive"][row["statecode"]], contact)


def test_no_annotations_without_the_prefer_header(emu: Emulator, http: requests.Session):
    row = http.get(emu.url("accounts?$select=statecode")).json()["value"][0]
    assert not [k for k in row if "@OData.Community" in k]


def test_single_record_by_id(emu: Emulator, http: requests.Session):
    guid = emu.store.rows("accounts")[3]["accountid"]
    resp = http.get(emu.url(f"accounts({guid})?$select=name"))
    body = resp.json()
    assert body["@odata.context"] == emu.base_url + "$metadata#accounts(name)/$entity"
    assert body["accountid"] == guid and "name" in body
    assert resp.headers["ETag"] == body["@odata.etag"]


def test_single_record_by_alternate_key(emu: Emulator, http: requests.Session):
    row = emu.store.rows("accounts")[0]
    body = http.get(emu.url(f"accounts(accountnumber='{row['accountnumber']}')")).json()
    assert body["accountid"] == row["accountid"]


def test_single_record_missing_is_404(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("accounts(00000000-0000-0000-0000-000000000001)"))
    assert resp.status_code == 404
    assert "Does Not Exist" in resp.json()["error"]["message"]


def test_if_none_match_with_current_etag_gives_304(emu: Emulator, http: requests.Session):
    row = emu.store.rows("accounts")[0]
    resp = http.get(emu.url(f"accounts({row['accountid']})"),
                    headers={"If-None-Match": f'W/"{row["versionnumber"]}"'})
    assert resp.status_code == 304


def test_unknown_entity_set_is_404(emu: Emulator, http: requests.Session):
    assert http.get(emu.url("widgets")).status_code == 404


def test_contacts_are_served_too(emu: Emulator, http: requests.Session):
    row = http.get(emu.url("contacts?$select=fullname,birthdate")).json()["value"][0]
    assert "contactid" in row and "fullname" in row


def test_older_api_versions_and_a_missing_trailing_slash_work(emu: Emulator, http: requests.Session):
    assert http.get(emu.root_url + "/api/data/v9.2").status_code == 200
    body = http.get(emu.root_url + "/api/data/v9.0/accounts?$top=1").json()
    assert body["@odata.context"].startswith(emu.root_url + "/api/data/v9.0/$metadata#accounts")


def test_expand_a_lookup_with_a_nested_select(emu: Emulator, http: requests.Session):
    url = emu.url("accounts?$select=name,_primarycontactid_value"
                  "&$expand=primarycontactid($select=fullname)")
    rows = http.get(url).json()["value"]
    linked = [r for r in rows if r["_primarycontactid_value"]]
    unlinked = [r for r in rows if not r["_primarycontactid_value"]]
    assert linked and unlinked
    contact = emu.store.get("contacts", linked[0]["_primarycontactid_value"])
    assert linked[0]["primarycontactid"]["fullname"] == contact["fullname"]
    assert linked[0]["primarycontactid"]["contactid"] == contact["contactid"]
    assert unlinked[0]["primarycontactid"] is None


def test_expand_of_an_unknown_navigation_property_is_400(emu: Emulator, http: requests.Session):
    assert http.get(emu.url("accounts?$expand=nosuch")).status_code == 400


def test_filter_through_a_lookup(emu: Emulator, http: requests.Session):
    row = next(r for r in emu.store.rows("accounts") if r["_primarycontactid_value"])
    contact = emu.store.get("contacts", row["_primarycontactid_value"])
    flt = quote(f"primarycontactid/contactid eq {contact['contactid']}")
    got = {r["accountid"] for r in http.get(emu.url(f"accounts?$filter={flt}")).json()["value"]}
    assert row["accountid"] in got
    assert all(emu.store.get("accounts", g)["_primarycontactid_value"] == contact["contactid"]
               for g in got)


def test_orderby_puts_nulls_first_ascending_and_last_descending(emu: Emulator,
                                                               http: requests.Session):
    asc = [r["revenue"] for r in http.get(emu.url("accounts?$select=revenue&$orderby=revenue"))
           .json()["value"]]
    desc = [r["revenue"] for r in http.get(emu.url("accounts?$select=revenue&$orderby=revenue%20desc"))
            .json()["value"]]
    nulls = asc.count(None)
    assert nulls and asc[:nulls] == [None] * nulls and desc[-nulls:] == [None] * nulls
    assert asc[nulls:] == sorted(asc[nulls:]) and desc == list(reversed(asc))
