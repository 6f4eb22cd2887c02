"""Generic OData v4 mode: server-driven paging, relative links, decimals as strings."""

from __future__ import annotations

from urllib.parse import urljoin

import requests

from l2tui.emulator import Emulator


def test_generic_mode_pages_by_itself_with_relative_next_links(make_emu, http: requests.Session):
    emu = make_emu(rows=2500)
    emu.mode = "generic"
    url, sizes, seen = emu.url("accounts?$select=name"), [], set()
    while url:
        resp = http.get(url, headers={"Prefer": "odata.maxpagesize=5000"})
        body = resp.json()
        assert "Preference-Applied" not in resp.headers
        sizes.append(len(body["value"]))
        seen |= {r["accountid"] for r in body["value"]}
        link = body.get("@odata.nextLink")
        if link:
            assert not link.startswith("http")
        url = urljoin(url, link) if link else None
    assert sizes == [1000, 1000, 500]
    assert len(seen) == 2500


def test_generic_mode_returns_money_as_strings(emu: Emulator, http: requests.Session):
    emu.mode = "generic"
    rows = http.get(emu.url("accounts?$select=revenue")).json()["value"]
    assert all(isinstance(r["revenue"], str) for r in rows if r["revenue"] is not None)


def test_generic_mode_refuses_plus_for_space(emu: Emulator, http: requests.Session):
    emu.mode = "generic"
    assert http.get(emu.url("accounts?$filter=statecode+eq+0")).status_code == 400
    assert http.get(emu.url("accounts?$filter=statecode%20eq%200")).status_code == 200


def test_dataverse_mode_accepts_plus_for_space(emu: Emulator, http: requests.Session):
    assert http.get(emu.url("accounts?$filter=statecode+eq+0")).status_code == 200


def test_generic_mode_has_no_entity_definitions(emu: Emulator, http: requests.Session):
    emu.mode = "generic"
    assert http.get(emu.url("EntityDefinitions(LogicalName='account')")).status_code == 404
    assert http.get(emu.url("$metadata")).status_code == 200


def test_generic_mode_accepts_skip(emu: Emulator, http: requests.Session):
    emu.mode = "generic"
    all_ids = [r["accountid"] for r in http.get(emu.url("accounts?$select=name")).json()["value"]]
    page = http.get(emu.url("accounts?$select=name&$skip=10&$top=5")).json()["value"]
    assert [r["accountid"] for r in page] == all_ids[10:15]
