"""Change tracking: delta links, deltas with changes and deletions, expired tokens."""

from __future__ import annotations

from urllib.parse import quote

import requests

from l2tui.emulator import Emulator

TRACK = {"Prefer": "odata.track-changes"}


def full_load(http: requests.Session, url: str, pagesize: int = 5000) -> tuple[list[dict], str]:
    """Read every page with change tracking; return rows and the delta link."""
    rows: list[dict] = []
    headers = {"Prefer": f"odata.track-changes, odata.maxpagesize={pagesize}"}
    while True:
        body = http.get(url, headers=headers).json()
        rows += body["value"]
        if "@odata.nextLink" in body:
            assert "@odata.deltaLink" not in body
            url = body["@odata.nextLink"]
            continue
        return rows, body["@odata.deltaLink"]


def test_track_changes_returns_a_delta_link_and_echoes_the_preference(
    emu: Emulator, http: requests.Session
):
    resp = http.get(emu.url("accounts?$select=name"), headers=TRACK)
    assert resp.headers["Preference-Applied"] == "odata.track-changes"
    body = resp.json()
    assert len(body["value"]) == 50
    assert body["@odata.deltaLink"].startswith(emu.base_url + "accounts?$select=name&$deltatoken=")


def test_delta_link_only_on_the_last_page(emu: Emulator, http: requests.Session):
    rows, delta = full_load(http, emu.url("accounts?$select=name"), pagesize=20)
    assert len(rows) == 50 and delta


def test_delta_without_changes_is_empty_with_a_new_link(emu: Emulator, http: requests.Session):
    _, delta = full_load(http, emu.url("accounts?$select=name"))
    body = http.get(delta, headers=TRACK).json()
    assert body["value"] == []
    assert body["@odata.context"] == emu.base_url + "$metadata#accounts(name)/$delta"
    assert body["@odata.deltaLink"] != delta


def test_delta_after_out_of_band_edits_and_deletes(emu: Emulator, http: requests.Session):
    _, delta = full_load(http, emu.url("accounts?$select=name,telephone1"))
    rows = emu.store.rows("accounts")
    new_id = emu.store.insert("accounts", {"name": "Brand New"})
    emu.store.update("accounts", rows[0]["accountid"], {"telephone1": "+1 555 0000"})
    emu.store.delete("accounts", rows[1]["accountid"])
    body = http.get(delta, headers=TRACK).json()
    changed = {r["accountid"]: r for r in body["value"] if "accountid" in r}
    deleted = [r for r in body["value"] if "reason" in r]
    assert set(changed) == {new_id, rows[0]["accountid"]}
    assert changed[rows[0]["accountid"]]["telephone1"] == "+1 555 0000"
    assert changed[new_id]["@odata.etag"].startswith('W/"')
    assert deleted == [{
        "@odata.context": emu.base_url + "$metadata#accounts/$deletedEntity",
        "id": rows[1]["accountid"],
        "reason": "deleted",
    }]
    assert body["value"].index(deleted[0]) == len(body["value"]) - 1  # deletions come last


def test_row_created_and_deleted_between_syncs_shows_as_delete(emu: Emulator, http: requests.Session):
    _, delta = full_load(http, emu.url("accounts?$select=name"))
    guid = emu.store.insert("accounts", {"name": "Short-lived"})
    emu.store.delete("accounts", guid)
    body = http.get(delta).json()
    assert [r.get("id") for r in body["value"]] == [guid]


def test_a_row_changed_twice_is_in_the_delta_once_with_its_last_values_in_change_order(
    emu: Emulator, http: requests.Session
):
    _, delta = full_load(http, emu.url("accounts?$select=name"))
    rows = emu.store.rows("accounts")
    first, second = rows[0]["accountid"], rows[1]["accountid"]
    emu.store.update("accounts", first, {"name": "First edit"})
    emu.store.update("accounts", second, {"name": "Second edit"})
    emu.store.update("accounts", first, {"name": "First edited again"})
    body = http.get(delta).json()
    assert [(r["accountid"], r["name"]) for r in body["value"]] == [
        (second, "Second edit"), (first, "First edited again")]


def test_each_delta_link_sees_only_later_changes(emu: Emulator, http: requests.Session):
    _, delta = full_load(http, emu.url("accounts?$select=name"))
    first = emu.store.insert("accounts", {"name": "First"})
    body = http.get(delta).json()
    assert [r["accountid"] for r in body["value"]] == [first]
    second = emu.store.insert("accounts", {"name": "Second"})
    body = http.get(body["@odata.deltaLink"]).json()
    assert [r["accountid"] for r in body["value"]] == [second]


def test_changes_during_the_initial_load_appear_in_the_next_delta(
    emu: Emulator, http: requests.Session
):
    headers = {"Prefer": "odata.track-changes, odata.maxpagesize=10"}
    body = http.get(emu.url("accounts?$select=name"), headers=headers).json()
    emu.store.update("accounts", body["value"][0]["accountid"], {"name": "Changed mid-load"})
    url = body["@odata.nextLink"]
    while "@odata.nextLink" in body:
        body = http.get(body["@odata.nextLink"], headers=headers).json()
    assert url
    delta = http.get(body["@odata.deltaLink"]).json()
    assert [r["name"] for r in delta["value"]] == ["Changed mid-load"]


def test_large_deltas_page_with_next_links(emu: Emulator, http: requests.Session):
    _, delta = full_load(http, emu.url("accounts?$select=name"))
    for row in emu.store.rows("accounts")[:30]:
        emu.store.update("accounts", row["accountid"], {"name": row["name"] + "!"})
    for row in emu.store.rows("accounts")[30:35]:
        emu.store.delete("accounts", row["accountid"])
    headers = {"Prefer": "odata.track-changes, odata.maxpagesize=8"}
    url, entries, pages = delta, [], 0
    while True:
        body = http.get(url, headers=headers).json()
        pages += 1
        entries += body["value"]
        if "@odata.nextLink" not in body:
            break
        assert "@odata.deltaLink" not in body
        url = body["@odata.nextLink"]
    assert pages == 5
    assert len([e for e in entries if "accountid" in e]) == 30
    assert len([e for e in entries if e.get("reason") == "deleted"]) == 5


def test_options_refused_with_change_tracking(emu: Emulator, http: requests.Session):
    for option in ("$filter=" + quote("statecode eq 0"), "$orderby=name", "$top=5",
                   "$expand=primarycontactid"):
        resp = http.get(emu.url(f"accounts?$select=name&{option}"), headers=TRACK)
        assert resp.status_code == 400, option
        name = option.split("=")[0]
        assert resp.json()["error"]["message"] == (
            f'The "{name}" query parameter isn\'t supported when Change Tracking is enabled.'
        )


def test_expired_delta_token_asks_for_a_full_sync(emu: Emulator, http: requests.Session):
    _, delta = full_load(http, emu.url("accounts?$select=name"))
    emu.expire_delta_tokens()
    resp = http.get(delta, headers=TRACK)
    assert resp.status_code == 400
    assert resp.json() == {"error": {
        "code": "0x80044352",
        "message": "Version stamp associated with the client has expired. Please perform a "
                   "full sync.",
    }}


def test_unknown_delta_token_is_refused_the_same_way(emu: Emulator, http: requests.Session):
    resp = http.get(emu.url("accounts?$select=name&$deltatoken=" + quote("12!01/01/2020 00:00:00")))
    assert resp.status_code == 400
    assert resp.json()["error"]["code"] == "0x80044352"


def test_writes_through_the_api_show_in_deltas(emu: Emulator, http: requests.Session):
    _, delta = full_load(http, emu.url("accounts?$select=name"))
    resp = http.post(emu.url("accounts"), json={"name": "Via API"})
    guid = resp.headers["OData-EntityId"].rsplit("(", 1)[1].rstrip(")")
    body = http.get(delta).json()
    assert [r["accountid"] for r in body["value"]] == [guid]


def test_a_tracked_read_begun_before_a_restart_cannot_go_on_after_it(
    make_emu, http: requests.Session
):
    """A restarted emulator holds other data at other versions: the next page of a tracked read
    begun before the restart is refused as an old version stamp (as its delta link would be),
    never served with a delta link that would hide the new data's changes. A read that does not
    track changes pages on by key."""
    before = make_emu(rows=50, seed=1)
    tracked = http.get(before.url("accounts?$select=name"),
                       headers={"Prefer": "odata.track-changes, odata.maxpagesize=20"}).json()
    plain = http.get(before.url("accounts?$select=name"),
                     headers={"Prefer": "odata.maxpagesize=20"}).json()
    before.stop()
    after = make_emu(rows=50, seed=2)

    def on_after(link: str) -> str:
        return link.replace(before.base_url, after.base_url)

    resp = http.get(on_after(tracked["@odata.nextLink"]),
                    headers={"Prefer": "odata.track-changes, odata.maxpagesize=20"})
    assert resp.status_code == 400 and resp.json()["error"]["code"] == "0x80044352"
    resp = http.get(on_after(plain["@odata.nextLink"]), headers={"Prefer": "odata.maxpagesize=20"})
    assert resp.status_code == 200


def test_a_delta_page_carries_the_formatted_values_asked_for(emu: Emulator, http: requests.Session):
    """As Dataverse: a delta read with include-annotations gives a changed row's choice label
    and lookup name, as a full read does."""
    asked = {"Prefer": 'odata.track-changes,odata.include-annotations='
                       '"OData.Community.Display.V1.FormattedValue"'}
    url = emu.url("accounts?$select=statecode,_primarycontactid_value")
    delta = http.get(url, headers=asked).json()["@odata.deltaLink"]
    row = next(r for r in emu.store.rows("accounts") if r["_primarycontactid_value"])
    emu.store.update("accounts", row["accountid"], {"statecode": 1, "statuscode": 2})
    resp = http.get(delta, headers=asked)
    assert 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"' in \
        resp.headers["Preference-Applied"]
    [changed] = resp.json()["value"]
    fv = "@OData.Community.Display.V1.FormattedValue"
    assert changed["statecode" + fv] == "Inactive"
    contact = emu.store.get("contacts", row["_primarycontactid_value"])
    assert changed["_primarycontactid_value" + fv] == contact["fullname"]
