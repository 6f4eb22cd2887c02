"""Creating, updating (upsert, conditional) and deleting rows."""

from __future__ import annotations

import uuid

import requests

from l2tui.emulator import Emulator

REPRESENTATION = {"Prefer": "return=representation"}


def entity_id(resp: requests.Response) -> str:
    return resp.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")


def test_post_returns_204_with_odata_entityid(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("accounts"), json={"name": "Acme", "revenue": 1200.5})
    assert resp.status_code == 204
    guid = entity_id(resp)
    assert resp.headers["OData-EntityId"] == emu.url(f"accounts({guid})")
    row = emu.store.get("accounts", guid)
    assert row["name"] == "Acme" and row["revenue"] == 1200.5 and row["statecode"] == 0


def test_post_with_return_representation_is_201_with_the_row(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("accounts?$select=name"), json={"name": "Acme"}, headers=REPRESENTATION)
    assert resp.status_code == 201
    body = resp.json()
    assert body["name"] == "Acme" and body["@odata.etag"].startswith('W/"')
    assert "OData-EntityId" not in resp.headers
    assert resp.headers["Preference-Applied"] == "return=representation"


def test_post_honours_a_client_supplied_guid(emu: Emulator, http: requests.Session):
    guid = str(uuid.uuid4())
    resp = http.post(emu.url("accounts"), json={"accountid": guid, "name": "Keyed"})
    assert entity_id(resp) == guid


def test_post_with_an_existing_guid_is_412_duplicate(emu: Emulator, http: requests.Session):
    guid = emu.store.rows("accounts")[0]["accountid"]
    resp = http.post(emu.url("accounts"), json={"accountid": guid, "name": "Again"})
    assert resp.status_code == 412
    assert resp.json()["error"]["message"] == "A record with matching key values already exists."


def test_post_sets_lookups_with_odata_bind(emu: Emulator, http: requests.Session):
    contact = emu.store.rows("contacts")[0]["contactid"]
    resp = http.post(emu.url("accounts"),
                     json={"name": "Bound", "primarycontactid@odata.bind": f"/contacts({contact})"})
    assert emu.store.get("accounts", entity_id(resp))["_primarycontactid_value"] == contact


def test_bind_to_a_missing_row_is_refused(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("accounts"), json={
        "name": "x", "primarycontactid@odata.bind": f"/contacts({uuid.uuid4()})"})
    assert resp.status_code == 404


def test_writing_read_only_columns_is_refused(emu: Emulator, http: requests.Session):
    for body in ({"name": "x", "createdon": "2020-01-01T00:00:00Z"},
                 {"name": "x", "versionnumber": 5},
                 {"name": "x", "_primarycontactid_value": str(uuid.uuid4())}):
        resp = http.post(emu.url("accounts"), json=body)
        assert resp.status_code == 400, body
        error = resp.json()["error"]
        assert error["code"].startswith("0x") and error["message"]


def test_unknown_columns_are_refused(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("accounts"), json={"name": "x", "colour": "blue"})
    assert resp.status_code == 400
    assert "colour" in resp.json()["error"]["message"]


def test_values_are_type_checked(emu: Emulator, http: requests.Session):
    for body in ({"name": 12}, {"revenue": "lots"}, {"numberofemployees": "ten"},
                 {"statecode": 7}, {"creditonhold": "yes"}, {"name": "x" * 161}):
        assert http.post(emu.url("accounts"), json=body).status_code == 400, body


def test_a_create_repeating_another_accounts_number_is_412_duplicate_entity_key(
        emu: Emulator, http: requests.Session):
    taken = emu.store.rows("accounts")[0]["accountnumber"]
    before = emu.store.count("accounts")
    resp = http.post(emu.url("accounts"), json={"name": "Twin", "accountnumber": taken.lower()})
    assert resp.status_code == 412
    error = resp.json()["error"]
    assert error["code"] == "0x80060892" and taken.lower() in error["message"]
    assert emu.store.count("accounts") == before


def test_a_create_repeating_another_accounts_number_with_trailing_blanks_is_412(
        emu: Emulator, http: requests.Session):
    """(SQL Server, under Dataverse's alternate keys, compares texts without trailing blanks)"""
    taken = emu.store.rows("accounts")[0]["accountnumber"]
    resp = http.post(emu.url("accounts"), json={"name": "Twin", "accountnumber": f"{taken}  "})
    assert resp.status_code == 412 and resp.json()["error"]["code"] == "0x80060892"


def test_an_update_to_another_accounts_number_is_412_and_changes_nothing(
        emu: Emulator, http: requests.Session):
    first, second = emu.store.rows("accounts")[:2]
    resp = http.patch(emu.url(f"accounts({second['accountid']})"),
                      json={"accountnumber": first["accountnumber"]})
    assert resp.status_code == 412 and resp.json()["error"]["code"] == "0x80060892"
    assert emu.store.get("accounts", second["accountid"]) == second


def test_accounts_without_a_number_are_not_duplicates(emu: Emulator, http: requests.Session):
    for _ in range(2):
        assert http.post(emu.url("accounts"), json={"name": "No number"}).status_code == 204


def test_a_whole_number_beyond_int32_is_refused(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("accounts"), json={"name": "Big", "numberofemployees": 3_000_000_000})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "0x80048d19" and "Edm.Int32" in error["message"]


def test_money_beyond_dataverses_range_is_refused(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("accounts"), json={"name": "Rich", "revenue": 1e20})
    assert resp.status_code == 400
    error = resp.json()["error"]
    assert error["code"] == "0x80044331" and "outside the valid range" in error["message"]
    assert http.post(emu.url("accounts"), json={"name": "Rich enough",
                                                "revenue": 922_337_203_685_477}).status_code == 204


def test_patch_updates_and_moves_modifiedon_version_and_etag(emu: Emulator, http: requests.Session):
    before = emu.store.rows("accounts")[0]
    resp = http.patch(emu.url(f"accounts({before['accountid']})"), json={"name": "Renamed"})
    assert resp.status_code == 204
    after = emu.store.get("accounts", before["accountid"])
    assert after["name"] == "Renamed"
    assert after["versionnumber"] > before["versionnumber"]
    assert after["modifiedon"] > before["modifiedon"]
    assert after["createdon"] == before["createdon"]


def test_patch_of_a_missing_row_creates_it(emu: Emulator, http: requests.Session):
    guid = str(uuid.uuid4())
    resp = http.patch(emu.url(f"accounts({guid})"), json={"name": "Upserted"}, headers=REPRESENTATION)
    assert resp.status_code == 201
    assert emu.store.get("accounts", guid)["name"] == "Upserted"
    resp = http.patch(emu.url(f"accounts({guid})"), json={"name": "Again"}, headers=REPRESENTATION)
    assert resp.status_code == 200 and resp.json()["name"] == "Again"


def test_patch_with_if_match_star_does_not_create(emu: Emulator, http: requests.Session):
    guid = str(uuid.uuid4())
    resp = http.patch(emu.url(f"accounts({guid})"), json={"name": "x"}, headers={"If-Match": "*"})
    assert resp.status_code == 404
    assert emu.store.get("accounts", guid) is None


def test_patch_with_if_none_match_star_does_not_update(emu: Emulator, http: requests.Session):
    guid = emu.store.rows("accounts")[0]["accountid"]
    resp = http.patch(emu.url(f"accounts({guid})"), json={"name": "x"},
                      headers={"If-None-Match": "*"})
    assert resp.status_code == 412


def test_patch_with_a_stale_etag_is_412(emu: Emulator, http: requests.Session):
    row = http.get(emu.url("accounts?$select=name&$top=1")).json()["value"][0]
    emu.store.update("accounts", row["accountid"], {"name": "Changed by someone else"})
    resp = http.patch(emu.url(f"accounts({row['accountid']})"), json={"name": "Mine"},
                      headers={"If-Match": row["@odata.etag"]})
    assert resp.status_code == 412
    assert resp.json()["error"]["message"] == (
        "The version of the existing record doesn't match the RowVersion property provided.")
    assert emu.store.get("accounts", row["accountid"])["name"] == "Changed by someone else"


def test_patch_with_the_current_etag_succeeds(emu: Emulator, http: requests.Session):
    row = http.get(emu.url("accounts?$select=name&$top=1")).json()["value"][0]
    resp = http.patch(emu.url(f"accounts({row['accountid']})"), json={"name": "Mine"},
                      headers={"If-Match": row["@odata.etag"]})
    assert resp.status_code == 204


def test_if_none_match_null_is_ignored_on_writes(emu: Emulator, http: requests.Session):
    guid = emu.store.rows("accounts")[0]["accountid"]
    resp = http.patch(emu.url(f"accounts({guid})"), json={"name": "x"},
                      headers={"If-None-Match": "null"})
    assert resp.status_code == 204


def test_patch_by_alternate_key_upserts(emu: Emulator, http: requests.Session):
    resp = http.patch(emu.url("accounts(accountnumber='NEW-1')"), json={"name": "By key"})
    assert resp.status_code == 204
    row = emu.store.get("accounts", entity_id(resp))
    assert row["accountnumber"] == "NEW-1" and row["name"] == "By key"


def test_patch_can_clear_a_lookup(emu: Emulator, http: requests.Session):
    row = next(r for r in emu.store.rows("accounts") if r["_primarycontactid_value"])
    http.patch(emu.url(f"accounts({row['accountid']})"), json={"primarycontactid@odata.bind": None})
    assert emu.store.get("accounts", row["accountid"])["_primarycontactid_value"] is None


def test_delete_removes_the_row_and_missing_is_404(emu: Emulator, http: requests.Session):
    guid = emu.store.rows("accounts")[0]["accountid"]
    assert http.delete(emu.url(f"accounts({guid})")).status_code == 204
    assert emu.store.get("accounts", guid) is None
    resp = http.delete(emu.url(f"accounts({guid})"))
    assert resp.status_code == 404
    assert "Does Not Exist" in resp.json()["error"]["message"]


def test_delete_with_a_stale_etag_is_412(emu: Emulator, http: requests.Session):
    row = emu.store.rows("accounts")[0]
    emu.store.update("accounts", row["accountid"], {"name": "moved"})
    resp = http.delete(emu.url(f"accounts({row['accountid']})"),
                       headers={"If-Match": f'W/"{row["versionnumber"]}"'})
    assert resp.status_code == 412


def test_patch_or_delete_on_a_collection_is_405(emu: Emulator, http: requests.Session):
    assert http.patch(emu.url("accounts"), json={}).status_code == 405
    assert http.delete(emu.url("accounts")).status_code == 405


def test_setting_statecode_sets_a_matching_statuscode(emu: Emulator, http: requests.Session):
    guid = emu.store.rows("accounts")[0]["accountid"]
    http.patch(emu.url(f"accounts({guid})"), json={"statecode": 1})
    row = emu.store.get("accounts", guid)
    assert (row["statecode"], row["statuscode"]) == (1, 2)


def test_contact_fullname_is_computed_and_read_only(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("contacts"), json={"firstname": "Ada", "lastname": "Lovelace"},
                     headers=REPRESENTATION)
    assert resp.json()["fullname"] == "Ada Lovelace"
    assert http.post(emu.url("contacts"), json={"fullname": "x"}).status_code == 400


def test_bulk_create_multiple(emu: Emulator, http: requests.Session):
    targets = [{"name": f"Bulk {i}", "@odata.type": "Microsoft.Dynamics.CRM.account"}
               for i in range(3)]
    resp = http.post(emu.url("accounts/Microsoft.Dynamics.CRM.CreateMultiple"),
                     json={"Targets": targets})
    assert resp.status_code == 200
    assert [emu.store.get("accounts", g)["name"] for g in resp.json()["Ids"]] == \
        ["Bulk 0", "Bulk 1", "Bulk 2"]


def test_bulk_upsert_multiple_is_all_or_nothing(emu: Emulator, http: requests.Session):
    before = emu.store.count("accounts")
    targets = [
        {"accountid": str(uuid.uuid4()), "name": "ok", "@odata.type": "Microsoft.Dynamics.CRM.account"},
        {"accountid": str(uuid.uuid4()), "name": 5, "@odata.type": "Microsoft.Dynamics.CRM.account"},
    ]
    resp = http.post(emu.url("accounts/Microsoft.Dynamics.CRM.UpsertMultiple"),
                     json={"Targets": targets})
    assert resp.status_code == 400
    assert emu.store.count("accounts") == before


def test_datetimes_are_stored_as_utc_without_fractions(emu: Emulator, http: requests.Session):
    resp = http.post(emu.url("contacts"), json={"lastname": "Date", "birthdate": "1990-10-15"},
                     headers=REPRESENTATION)
    assert resp.json()["birthdate"] == "1990-10-15"
    assert http.post(emu.url("contacts"), json={"birthdate": "not a date"}).status_code == 400
    assert http.post(emu.url("contacts"), json={"birthdate": "1700-01-01"}).status_code == 400


def test_a_text_longer_than_its_max_length_in_utf16_units_is_refused(
        emu: Emulator, http: requests.Session):
    """Dataverse counts a text's length in UTF-16 units, as .NET and SQL Server's nvarchar do:
    an emoji outside the Basic Multilingual Plane is two of a name's 160."""
    fits = http.post(emu.url("accounts"), json={"name": "\U0001F600" * 80})
    assert fits.status_code == 204
    resp = http.post(emu.url("accounts"), json={"name": "\U0001F600" * 81})
    assert resp.status_code == 400
    assert "exceeded the maximum allowed length of '160'" in resp.json()["error"]["message"]
