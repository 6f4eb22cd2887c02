"""The HTTP client: its retry policy (429 Retry-After, 5xx and dropped connections, 401 refresh)
and how it reads a body (whole, decoded)."""

from __future__ import annotations

import base64
import contextlib
import gzip
import http.server
import json
import threading
from collections.abc import Callable

import pytest
import requests
import urllib3

from l2tui.errors import ConnectError
from l2tui.providers.odata.auth import Authenticator, BasicAuthenticator, BearerAuthenticator
from l2tui.providers.odata.http import (
    HttpClient,
    HttpError,
    RetryPolicy,
    parse_retry_after,
    safe_url,
)


def response(status: int, body: str = "{}", headers: dict[str, str] | None = None):
    r = requests.Response()
    r.status_code = status
    r._content = body.encode()
    r.headers.update(headers or {})
    r.reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
    return r


class TokenAuth(Authenticator):
    """Hands out token-1, then token-2 after a refresh."""

    def __init__(self, refreshable: bool = True) -> None:
        self.token = "token-1"
        self.refreshable = refreshable
        self.refreshes = 0

    def headers(self):
        return {"Authorization": f"Bearer {self.token}"}

    def refresh(self, stale):
        self.refreshes += 1
        if not self.refreshable:
            return False
        self.token = "token-2"
        return True

    def secrets(self):
        return ["token-1", "token-2"]


def client(script, auth=None, **policy):
    """An HttpClient whose session answers from the script (responses or exceptions)."""
    waits: list[float] = []
    logs: list[str] = []
    http = HttpClient(auth or Authenticator(), timeout=5, ca_bundle=None,
                      policy=RetryPolicy(**{"base_delay": 0.01, "jitter": 0, **policy}),
                      log=logs.append, sleep=waits.append)
    sent: list[dict] = []

    def fake(method, url, **kwargs):
        sent.append(kwargs["headers"])
        item = script.pop(0)
        if isinstance(item, Exception):
            raise item
        return item

    http.session.request = fake  # type: ignore[method-assign]
    return http, waits, sent, logs


def test_429_waits_for_retry_after_then_succeeds():
    http, waits, _, _ = client([response(429, headers={"Retry-After": "2"}), response(200)])
    assert http.request("GET", "http://h/x").status_code == 200
    assert waits == [2.0]


def test_retry_after_is_capped():
    http, waits, _, _ = client([response(429, headers={"Retry-After": "9999"}), response(200)],
                               max_retry_after=5)
    http.request("GET", "http://h/x")
    assert waits == [5]


def test_5xx_is_retried_with_exponential_backoff():
    http, waits, _, _ = client([response(503), response(500), response(200)])
    http.request("GET", "http://h/x")
    assert waits == [0.01, 0.02]


def test_5xx_gives_up_after_the_bound_with_one_line():
    http, _, _, _ = client([response(503)] * 3, max_retries=2)
    with pytest.raises(HttpError) as err:
        http.request("GET", "http://h/api/x?$deltatoken=secret-ish")
    assert err.value.status == 503
    assert str(err.value) == "GET http://h/api/x: 503 Service Unavailable (gave up after 3 tries)"


INJECTED = "503 Service Unavailable: An unexpected error occurred (injected fault)."


def test_a_data_read_still_answered_5xx_after_its_retries_says_it_gave_up(open_crm):
    provider = open_crm.provider()
    provider.describe()
    open_crm.emu.faults.fail_next(6, status=503, method="GET", path_contains="/accounts")
    with pytest.raises(HttpError) as err:
        list(provider.read())
    assert str(err.value) == (f"GET {open_crm.emu.url('accounts')}: {INJECTED} "
                              "(gave up after 6 tries)")


def test_a_metadata_request_still_answered_5xx_after_its_retries_says_it_gave_up(open_crm):
    open_crm.emu.faults.fail_next(3, status=503, path_contains="/Attributes",
                                  query_contains="AttributeType")
    with pytest.raises(HttpError) as err:
        open_crm.provider(retry_max=2).describe()
    url = open_crm.emu.url("EntityDefinitions(LogicalName='account')/Attributes")
    assert str(err.value) == f"GET {url}: {INJECTED} (gave up after 3 tries)"


def test_a_request_still_throttled_after_its_retries_says_it_gave_up(open_crm):
    provider = open_crm.provider(retry_max_throttled=2, retry_max_retry_after=0.01)
    provider.describe()
    open_crm.emu.faults.fail_next(3, status=429, method="GET", path_contains="/accounts")
    with pytest.raises(HttpError) as err:
        list(provider.read())
    assert str(err.value).endswith("(injected fault). (gave up after 3 tries)"), str(err.value)


def test_an_error_answer_not_tried_again_says_no_tries_after_a_5xx_before_it(open_crm):
    """A 5xx tried again, then a 404: the 404 is the answer, not a giving up."""
    provider = open_crm.provider()
    provider.describe()
    open_crm.emu.faults.fail_next(1, status=503, method="GET", path_contains="/accounts")
    open_crm.emu.faults.fail_next(1, status=404, method="GET", path_contains="/accounts")
    with pytest.raises(HttpError) as err:
        list(provider.read())
    assert err.value.status == 404 and "gave up" not in str(err.value), str(err.value)


def test_dropped_connection_is_retried():
    http, waits, _, _ = client([requests.ConnectionError("reset"), response(200)])
    assert http.request("GET", "http://h/x").status_code == 200
    assert len(waits) == 1


REFUSED = ("HTTPConnectionPool(host='h', port=1): Max retries exceeded with url: /x?q=1 "
           "(Caused by NewConnectionError('<x>: Failed to establish a new connection: "
           "[Errno 111] Connection refused'))")


def test_a_refused_first_connection_fails_at_once_naming_the_url():
    http, waits, _, _ = client([requests.ConnectionError(REFUSED)] * 3, max_retries=2)
    with pytest.raises(ConnectError) as err:
        http.request("GET", "http://h/x?q=1")
    assert str(err.value) == ("GET http://h/x: Connection refused: nothing listens there; is the "
                              "URL right and the service running?")
    assert waits == []


def test_a_refusal_after_the_service_answered_is_retried_until_the_bound():
    http, waits, _, _ = client([response(200), *[requests.ConnectionError(REFUSED)] * 3],
                               max_retries=2)
    http.request("GET", "http://h/x")
    with pytest.raises(ConnectError) as err:
        http.request("GET", "http://h/x?q=1")
    assert str(err.value) == "GET http://h/x: Connection refused (gave up after 3 tries)"
    assert len(waits) == 2


def test_401_refreshes_the_token_once_and_retries():
    auth = TokenAuth()
    http, _, sent, _ = client([response(401), response(200)], auth)
    assert http.request("GET", "http://h/x").status_code == 200
    assert [h["Authorization"] for h in sent] == ["Bearer token-1", "Bearer token-2"]
    assert auth.refreshes == 1


def test_a_second_401_is_a_clear_failure_without_the_token():
    auth = TokenAuth()
    body = '{"error":{"code":"0x80072560","message":"token token-2 expired"}}'
    http, _, _, _ = client([response(401), response(401, body)], auth)
    with pytest.raises(HttpError) as err:
        http.request("GET", "http://h/x")
    assert "refused the sign-in (401)" in str(err.value)
    assert "token-2" not in str(err.value)
    assert auth.refreshes == 1


def test_service_error_message_is_in_the_one_line():
    body = '{"error":{"code":"0x80060888","message":"Could not find a property named \'x\'."}}'
    http, _, _, _ = client([response(400, body)])
    with pytest.raises(HttpError) as err:
        http.request("GET", "http://h/accounts")
    assert str(err.value) == "GET http://h/accounts: 400: Could not find a property named 'x'."
    assert err.value.code == "0x80060888"


@pytest.mark.parametrize("title, said", [
    ("503 Service Unavailable", "GET http://h/accounts: 503 Service Unavailable"),
    ("Gateway &amp; proxy\n  maintenance", "GET http://h/accounts: 503 Service Unavailable: "
                                           "Gateway & proxy maintenance"),
])
def test_a_gateway_s_html_error_page_is_told_by_its_title_not_its_markup(title, said):
    page = f"<!DOCTYPE html>\n<html><head><title>{title}</title></head><body>…</body></html>"
    http, _, _, _ = client([response(503, page, {"Content-Type": "text/html"})], max_retries=0)
    with pytest.raises(HttpError) as err:
        http.request("GET", "http://h/accounts")
    assert str(err.value) == said


def test_allowed_status_is_returned_not_raised():
    http, _, _, _ = client([response(404)])
    assert http.request("DELETE", "http://h/x(1)", allow=(404,)).status_code == 404


def test_retry_after_parsing():
    assert parse_retry_after("3") == 3.0
    assert parse_retry_after(None) is None
    assert parse_retry_after("soon") is None
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:00 GMT") == 0.0


def test_policy_reads_options():
    policy = RetryPolicy.from_options({"retry_base_delay": 0.01, "retry_max": 2})
    assert (policy.base_delay, policy.max_retries) == (0.01, 2)


def test_a_body_is_read_whole_not_ten_kib_at_a_time(make_crm, monkeypatch):
    # (requests reads 10 KiB at a time, taking the interpreter lock back after each read: beside
    # a thread running Python, a 2 MB page then took half a second)
    reads: list[object] = []
    original = urllib3.response.HTTPResponse.read

    def counted(self, *args, **kwargs):
        reads.append(args[0] if args else kwargs.get("amt"))
        return original(self, *args, **kwargs)

    monkeypatch.setattr(urllib3.response.HTTPResponse, "read", counted)
    crm = make_crm(rows=600, auth=False)
    http = crm.provider().http
    page = http.request("GET", crm.emu.url("accounts"),
                        headers={"Prefer": "odata.maxpagesize=500"})
    assert len(page.json()["value"]) == 500 and len(page.content) > 100_000
    assert len(reads) <= 2, reads


@contextlib.contextmanager
def serving(handler: type[http.server.BaseHTTPRequestHandler]):
    """An HTTP server on 127.0.0.1 answering with ``handler``; yields its base address."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield f"http://127.0.0.1:{server.server_port}"
    finally:
        server.shutdown()
        server.server_close()


def test_a_gzipped_chunked_body_is_read_whole_and_decoded():
    # (as a service may send a page: compressed, in chunks; the emulator sends neither)
    payload = {"value": [{"accountid": str(i), "name": "n" * 50} for i in range(2000)]}
    packed = gzip.compress(json.dumps(payload).encode())

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802  (http.server's name)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Encoding", "gzip")
            self.send_header("Transfer-Encoding", "chunked")
            self.end_headers()
            for start in range(0, len(packed), 4096):
                part = packed[start:start + 4096]
                self.wfile.write(b"%x\r\n%s\r\n" % (len(part), part))
            self.wfile.write(b"0\r\n\r\n")

        def log_message(self, *args):
            pass

    with serving(Handler) as base:
        http_client = HttpClient(Authenticator(), timeout=5, ca_bundle=None,
                                 policy=RetryPolicy(), log=lambda message: None)
        assert http_client.request("GET", f"{base}/accounts").json() == payload
        assert http_client.request("GET", f"{base}/accounts").json() == payload


def test_a_body_cut_off_midway_is_asked_for_again():
    body = json.dumps({"value": [{"name": "n" * 100} for _ in range(500)]}).encode()
    served: list[int] = []

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802  (http.server's name)
            served.append(1)
            self.send_response(200)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            if len(served) == 1:  # the first answer stops halfway, its connection closed
                self.wfile.write(body[: len(body) // 2])
                self.close_connection = True
                return
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    waits: list[float] = []
    with serving(Handler) as base:
        http_client = HttpClient(Authenticator(), timeout=5, ca_bundle=None,
                                 policy=RetryPolicy(), log=lambda message: None,
                                 sleep=waits.append)
        assert http_client.request("GET", f"{base}/accounts").content == body
    assert len(served) == 2 and len(waits) == 1


def echoing(status: int, body: Callable[[str], str]) -> type[http.server.BaseHTTPRequestHandler]:
    """A handler answering every GET with ``status`` and a body made from the Authorization
    header it was sent (as a service's error may quote the request)."""

    class Handler(http.server.BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_GET(self):  # noqa: N802  (http.server's name)
            payload = body(self.headers.get("Authorization", "")).encode()
            self.send_response(status)
            self.send_header("Content-Length", str(len(payload)))
            self.end_headers()
            self.wfile.write(payload)

        def log_message(self, *args):
            pass

    return Handler


def refused(handler: type[http.server.BaseHTTPRequestHandler], auth: Authenticator,
            path: str = "/accounts", user_info: str = "") -> HttpError:
    """The HttpError of a GET the handler answers with an error."""
    with serving(handler) as base:
        http_client = HttpClient(auth, timeout=5, ca_bundle=None, policy=RetryPolicy(),
                                 log=lambda message: None)
        with pytest.raises(HttpError) as err:
            http_client.request("GET", base.replace("://", f"://{user_info}") + path)
    return err.value


def test_a_user_and_password_in_a_refused_url_are_not_in_the_message():
    error = refused(echoing(401, lambda sent: ""), Authenticator(), "/EntityDefinitions",
                    user_info="bob:TOPSECRET6@")
    assert "refused the sign-in (401)" in str(error)
    assert "TOPSECRET6" not in str(error) and "bob" not in str(error)


@pytest.mark.parametrize("url", ["http://bob:Sl/TOPSECRET@127.0.0.1:1/accounts?$top=1",
                                 "http://bob:Hash#TOPSECRET@127.0.0.1:1/accounts"])
def test_a_url_whose_password_holds_a_slash_or_hash_is_shown_without_it(url):
    assert safe_url(url) == "http://127.0.0.1:1/accounts"


# the service quotes the Authorization it was sent past the length a message keeps
QUOTED_PAST_THE_CUT = [
    lambda sent: "x" * 150 + f" you sent Authorization: {sent}",  # text: 200 kept
    lambda sent: json.dumps({"error": {"code": "0x1", "message": "x" * 250 +
                                       f" you sent Authorization: {sent}"}}),  # JSON: 300 kept
]


@pytest.mark.parametrize("body", QUOTED_PAST_THE_CUT, ids=["text", "json"])
def test_a_secret_an_error_body_quotes_is_masked_before_the_message_is_cut_short(body):
    error = refused(echoing(400, body), BasicAuthenticator("bob", "HunterTwo;pw"))
    encoded = base64.b64encode(b"bob:HunterTwo;pw").decode()
    assert str(error).endswith("you sent Authorization: Basic ***")
    assert encoded[:8] not in str(error) and encoded[:8] not in error.service_message


def test_an_authorization_value_the_service_cut_midway_is_masked():
    error = refused(echoing(400, lambda sent: f"you sent Authorization: {sent[:30]}"),
                    BearerAuthenticator("eyJhbGciOiJSUzI1NiJ9.TOPSECRETpayload.signature"))
    assert str(error).endswith("you sent Authorization: Bearer ***")
    assert "eyJhbGci" not in str(error)
