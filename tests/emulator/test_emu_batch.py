"""$batch: independent requests, atomic change sets, continue-on-error, Content-ID."""

from __future__ import annotations

import json
import re
import uuid

import requests

from l2tui.emulator import Emulator


def part(method: str, url: str, body: dict | None = None, content_id: str | None = None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    text = f"{head}\r\n{method} {url} HTTP/1.1\r\n"
    if body is not None:
        text += f"Content-Type: application/json; type=entry\r\n\r\n{json.dumps(body)}\r\n"
    else:
        text += "Accept: application/json\r\n\r\n"
    return text


def changeset(boundary: str, parts: list[str]) -> str:
    inner = "".join(f"--{boundary}\r\n{p}" for p in parts) + f"--{boundary}--\r\n"
    return f"Content-Type: multipart/mixed; boundary={boundary}\r\n\r\n{inner}"


def send(http: requests.Session, emu: Emulator, items: list[str], **headers: str):
    boundary = f"batch_{uuid.uuid4()}"
    body = "".join(f"--{boundary}\r\n{i}" for i in items) + f"--{boundary}--\r\n"
    return http.post(emu.url("$batch"), data=body.encode(), headers={
        "Content-Type": f'multipart/mixed; boundary="{boundary}"', **headers})


def statuses(resp: requests.Response) -> list[int]:
    return [int(s) for s in re.findall(r"^HTTP/1\.1 (\d{3})", resp.text, re.M)]


def test_batch_of_independent_requests(emu: Emulator, http: requests.Session):
    path = "/api/data/v9.2/"
    resp = send(http, emu, [
        part("GET", f"{path}accounts?$select=name&$top=2"),
        part("POST", f"{path}accounts", {"name": "From batch"}),
    ])
    assert resp.status_code == 200
    assert resp.headers["Content-Type"].startswith("multipart/mixed; boundary=batchresponse_")
    assert statuses(resp) == [200, 204]
    assert '"name"' in resp.text
    assert "OData-EntityId: " + emu.url("accounts(") in resp.text


def test_change_set_commits_all_and_resolves_content_id(emu: Emulator, http: requests.Session):
    resp = send(http, emu, [changeset("changeset_a", [
        part("POST", emu.url("contacts"), {"firstname": "Grace", "lastname": "Hopper"}, "1"),
        part("POST", emu.url("accounts"), {"name": "Navy", "primarycontactid@odata.bind": "$1"},
             "2"),
        part("PATCH", "$2", {"telephone1": "+1 555 1906"}, "3"),
    ])])
    assert resp.status_code == 200, resp.text
    assert statuses(resp) == [204, 204, 204]
    assert "changesetresponse_" in resp.text and "Content-ID: 2" in resp.text
    account = next(r for r in emu.store.rows("accounts") if r["name"] == "Navy")
    contact = emu.store.get("contacts", account["_primarycontactid_value"])
    assert contact["fullname"] == "Grace Hopper"
    assert account["telephone1"] == "+1 555 1906"


def test_change_set_is_rolled_back_on_an_error(emu: Emulator, http: requests.Session):
    before = emu.store.rows("accounts")
    victim = before[0]["accountid"]
    resp = send(http, emu, [changeset("changeset_b", [
        part("POST", emu.url("accounts"), {"name": "Will vanish"}, "1"),
        part("PATCH", emu.url(f"accounts({victim})"), {"name": "Will revert"}, "2"),
        part("DELETE", emu.url(f"accounts({before[1]['accountid']})"), None, "3"),
        part("POST", emu.url("accounts"), {"name": "Bad", "nosuchcolumn": 1}, "4"),
    ])])
    assert resp.status_code == 400
    assert statuses(resp) == [400]
    assert "nosuchcolumn" in resp.text
    assert emu.store.rows("accounts") == before


def test_a_change_set_repeating_an_account_number_is_412_and_takes_no_number(
        emu: Emulator, http: requests.Session):
    before = emu.store.count("accounts")
    twins = [part("POST", emu.url("accounts"), {"name": f"Twin {n}", "accountnumber": "TWIN-1"},
                  str(n)) for n in (1, 2)]
    resp = send(http, emu, [changeset("changeset_t", twins)])
    assert resp.status_code == 412 and "0x80060892" in resp.text
    assert emu.store.count("accounts") == before
    assert send(http, emu, [changeset("changeset_u", twins[:1])]).status_code == 200


def test_rolled_back_change_set_leaves_no_trace_in_deltas(emu: Emulator, http: requests.Session):
    body = http.get(emu.url("accounts?$select=name"),
                    headers={"Prefer": "odata.track-changes"}).json()
    victim = emu.store.rows("accounts")[0]["accountid"]
    send(http, emu, [changeset("changeset_c", [
        part("DELETE", emu.url(f"accounts({victim})")),
        part("PATCH", emu.url(f"accounts({uuid.uuid4()})"), {"name": 3}),
    ])])
    assert http.get(body["@odata.deltaLink"]).json()["value"] == []


def test_batch_stops_at_the_first_error_by_default(emu: Emulator, http: requests.Session):
    before = emu.store.count("accounts")
    resp = send(http, emu, [
        part("POST", emu.url("accounts"), {"name": 1}),
        part("POST", emu.url("accounts"), {"name": "never"}),
    ])
    assert resp.status_code == 400
    assert statuses(resp) == [400]
    assert emu.store.count("accounts") == before


def test_continue_on_error_runs_everything(emu: Emulator, http: requests.Session):
    before = emu.store.count("accounts")
    resp = send(http, emu, [
        part("POST", emu.url("accounts"), {"name": 1}),
        part("POST", emu.url("accounts"), {"name": "still created"}),
        changeset("changeset_d", [part("POST", emu.url("accounts"), {"name": "cs"}, "1"),
                                  part("POST", emu.url("accounts"), {"bad": 1}, "2")]),
        part("POST", emu.url("accounts"), {"name": "after"}),
    ], Prefer="odata.continue-on-error")
    assert resp.status_code == 200
    assert statuses(resp) == [400, 204, 400, 204]
    assert emu.store.count("accounts") == before + 2


def test_get_inside_a_change_set_is_refused(emu: Emulator, http: requests.Session):
    resp = send(http, emu, [changeset("changeset_e", [part("GET", emu.url("accounts"))])])
    assert resp.status_code == 400


def test_undeclared_content_id_reference_is_400(emu: Emulator, http: requests.Session):
    resp = send(http, emu, [changeset("changeset_f", [
        part("POST", emu.url("accounts"), {"name": "x", "primarycontactid@odata.bind": "$9"}, "1"),
        part("PATCH", "$7", {"name": "y"}, "2"),
    ])])
    assert resp.status_code in (400, 404)


def test_more_than_1000_requests_are_refused(emu: Emulator, http: requests.Session):
    items = [part("GET", emu.url("accounts?$top=1"))] * 1001
    assert send(http, emu, items).status_code == 400


def test_relative_urls_and_lf_line_endings_are_accepted(emu: Emulator, http: requests.Session):
    body = (
        "--batch_x\nContent-Type: application/http\nContent-Transfer-Encoding: binary\n\n"
        "POST accounts HTTP/1.1\nContent-Type: application/json\n\n{\"name\": \"LF\"}\n"
        "--batch_x--\n"
    )
    resp = http.post(emu.url("$batch"), data=body,
                     headers={"Content-Type": "multipart/mixed;boundary=batch_x"})
    assert statuses(resp) == [204]
    assert any(r["name"] == "LF" for r in emu.store.rows("accounts"))
