"""Service protection limits (429) and injected faults."""

from __future__ import annotations

import threading
import time

import pytest
import requests

from l2tui.emulator import Emulator


def test_429_with_retry_after_over_the_request_limit(emu: Emulator, http: requests.Session):
    emu.limits.set(requests_per_window=3, window_seconds=60, retry_after=7)
    codes = [http.get(emu.url("accounts?$top=1")).status_code for _ in range(3)]
    resp = http.get(emu.url("accounts?$top=1"))
    assert codes == [200, 200, 200]
    assert resp.status_code == 429
    assert resp.headers["Retry-After"] == "7"
    assert resp.json()["error"] == {
        "code": "0x80072322",
        "message": "Number of requests exceeded the limit of 3 over time window of 60 seconds.",
    }


def test_the_window_slides(emu: Emulator, http: requests.Session):
    emu.limits.set(requests_per_window=2, window_seconds=0.3)
    assert [http.get(emu.url("")).status_code for _ in range(3)] == [200, 200, 429]
    time.sleep(0.35)
    assert http.get(emu.url("")).status_code == 200


def test_429_over_the_concurrency_limit(emu: Emulator):
    emu.limits.set(concurrent=1, retry_after=2)
    gate = threading.Event()
    original = emu.api.handle

    def slow(req):
        gate.wait(2)
        return original(req)

    emu.api.handle = slow  # type: ignore[method-assign]
    results: list[int] = []
    first = threading.Thread(target=lambda: results.append(
        requests.get(emu.url("accounts?$top=1")).status_code))
    first.start()
    time.sleep(0.2)
    second = requests.get(emu.url("accounts?$top=1"))
    gate.set()
    first.join()
    assert second.status_code == 429
    assert second.json()["error"]["code"] == "0x80072326"
    assert second.headers["Retry-After"] == "2"
    assert results == [200]


def test_fail_next_fails_matching_requests_only(emu: Emulator, http: requests.Session):
    emu.faults.fail_next(2, status=503, method="GET", path_contains="/accounts")
    assert http.get(emu.url("contacts?$top=1")).status_code == 200
    assert http.post(emu.url("accounts"), json={"name": "x"}).status_code == 204
    assert [http.get(emu.url("accounts?$top=1")).status_code for _ in range(3)] == [503, 503, 200]


def test_failed_requests_have_a_dataverse_error_body(emu: Emulator, http: requests.Session):
    emu.faults.fail_next(1, status=500)
    body = http.get(emu.url("accounts")).json()
    assert set(body["error"]) == {"code", "message"}


def test_fail_rate_is_reproducible_with_a_seed(emu: Emulator, http: requests.Session):
    def run() -> list[int]:
        emu.faults.fail_rate(0.5, status=500, seed=42)
        return [http.get(emu.url("")).status_code for _ in range(20)]

    first, second = run(), run()
    assert first == second
    assert 500 in first and 200 in first
    emu.faults.clear()
    assert {http.get(emu.url("")).status_code for _ in range(5)} == {200}


def test_drop_next_closes_the_connection_mid_response(emu: Emulator, http: requests.Session):
    emu.faults.drop_next(1)
    with pytest.raises(requests.exceptions.RequestException):
        http.get(emu.url("accounts"))
    assert http.get(emu.url("accounts?$top=1")).status_code == 200


def test_request_count_counts_every_request(emu: Emulator, http: requests.Session):
    start = emu.request_count
    for _ in range(4):
        http.get(emu.url(""))
    assert emu.request_count == start + 4


def test_faults_do_not_hit_the_identity_provider_by_default(emu_auth: Emulator,
                                                            http: requests.Session):
    emu_auth.faults.fail_next(1)
    resp = http.get(f"{emu_auth.root_url}/common/v2.0/.well-known/openid-configuration")
    assert resp.status_code == 200


def test_an_injected_429_carries_retry_after(emu: Emulator, http: requests.Session):
    emu.limits.set(retry_after=3)
    emu.faults.fail_next(1, status=429)
    resp = http.get(emu.url("accounts?$top=1"))
    assert resp.status_code == 429 and resp.headers["Retry-After"] == "3"


def held_until_top_2(emu: Emulator, *first: str) -> list[int]:
    """The status of an accounts request held until one with ``$top=2`` comes, sent (after
    the ``first`` paths, answered meanwhile) while it waits."""
    emu.faults.hold_next(1, "%24top=2", seconds=5, path_contains="/accounts")
    answered: list[int] = []
    held = threading.Thread(target=lambda: answered.append(
        requests.get(emu.url("accounts?$top=1")).status_code))
    held.start()
    time.sleep(0.2)
    assert answered == []  # still waiting
    for path in first:
        assert requests.get(emu.url(path)).status_code == 200
    assert requests.get(emu.url("accounts?%24top=2")).status_code == 200
    held.join(2)
    return answered


def test_a_held_request_is_answered_once_the_request_it_waits_for_comes(emu: Emulator):
    assert held_until_top_2(emu) == [200] and emu.faults.holds_timed_out == 0


def test_a_held_request_is_answered_when_its_awaited_request_comes_after_another(
        emu: Emulator):
    assert held_until_top_2(emu, "contacts?$top=1") == [200]
    assert emu.faults.holds_timed_out == 0


def test_a_held_request_whose_awaited_request_never_comes_is_answered_and_counted(
        emu: Emulator, http: requests.Session):
    emu.faults.hold_next(1, "never", seconds=0.2, path_contains="/accounts")
    assert http.get(emu.url("accounts?$top=1")).status_code == 200
    assert emu.faults.holds_timed_out == 1


def test_answer_next_answers_matching_requests_with_the_body_given(emu: Emulator,
                                                                   http: requests.Session):
    emu.faults.answer_next(1, b'{"value": 5}', path_contains="/accounts", query_contains="top")
    other = http.get(emu.url("contacts?$top=1"))
    answered = http.get(emu.url("accounts?$top=1"))
    after = http.get(emu.url("accounts?$top=1"))
    assert other.json()["value"] and after.json()["value"]
    assert answered.status_code == 200 and answered.content == b'{"value": 5}'
    assert answered.headers["Content-Type"] == "application/json"


def test_answer_next_answers_with_the_status_and_headers_given(emu: Emulator,
                                                               http: requests.Session):
    emu.faults.answer_next(1, b"<html><title>Busy</title></html>", path_contains="/accounts",
                           status=429, headers={"Content-Type": "text/html"})
    answered = http.get(emu.url("accounts?$top=1"))
    assert answered.status_code == 429 and answered.reason == "Too Many Requests"
    assert answered.content == b"<html><title>Busy</title></html>"
    assert answered.headers["Content-Type"] == "text/html"
    assert "Retry-After" not in answered.headers
