"""A sign-in the identity provider failed for a moment is tried again, as Dataverse requests are."""

from __future__ import annotations

import threading
import time

import pytest

from l2tui.errors import ConnectError


def _token_requests(crm):
    return [r for r in crm.emu.recent_requests if "/oauth2/v2.0/token" in r]


def test_a_sign_in_answered_503_is_tried_again_and_each_retry_is_logged(crm):
    crm.emu.faults.fail_next(2, status=503, path_contains="/token")
    result = crm.provider().verify()
    assert result.ok, result.message
    assert len(_token_requests(crm)) == 3
    retries = [line for line in crm.logs if "/oauth2/v2.0/token: 503; retrying in" in line]
    assert len(retries) == 2, crm.logs


def test_a_throttled_sign_in_waits_its_retry_after_and_is_tried_again(crm):
    crm.emu.faults.fail_next(1, status=429, path_contains="/token")
    result = crm.provider().verify()
    assert result.ok, result.message
    assert any("/oauth2/v2.0/token: 429 throttled; retrying in 1.00s" in line
               for line in crm.logs), crm.logs


def test_a_sign_in_whose_connection_dropped_is_tried_again(crm):
    crm.emu.faults.drop_next(2, path_contains="/token")
    result = crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret).verify()
    assert result.ok, result.message


def test_an_authority_discovery_answered_503_is_tried_again(crm):
    crm.emu.faults.fail_next(2, status=503, path_contains="openid-configuration")
    result = crm.provider().verify()
    assert result.ok, result.message
    assert any("openid-configuration: 503; retrying in" in line for line in crm.logs), crm.logs


def test_a_sign_in_that_stays_unavailable_fails_after_the_retries_with_its_reason(crm):
    crm.emu.faults.fail_next(10, status=503, path_contains="/token")
    result = crm.provider(retry_max=2).verify()
    assert not result.ok
    assert result.message == ("sign-in at login.fake.test failed: the identity provider "
                              "answered 503 Service Unavailable (gave up after 3 tries)")
    assert len(_token_requests(crm)) == 3


def test_an_app_sign_in_answered_5xx_not_tried_again_says_so_without_its_secret(crm):
    crm.emu.faults.fail_next(10, status=501, path_contains="/token")  # (not a status retried)
    result = crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret).verify()
    assert not result.ok
    assert result.message == ("sign-in at login.fake.test failed: the identity provider "
                              "answered 501 Not Implemented")
    assert len(_token_requests(crm)) == 1


def test_a_wrong_password_is_not_tried_again(crm):
    result = crm.provider(secret="Wrong-Pa55word!").verify()
    assert not result.ok and "sign-in as" in result.message
    assert len(_token_requests(crm)) == 1
    assert not any("retrying" in line for line in crm.logs), crm.logs


def test_a_stop_ends_the_wait_to_retry_a_sign_in_at_once(crm):
    crm.emu.faults.fail_next(10, status=503, path_contains="/token")
    stop = threading.Event()
    context = crm.context(crm.emu.password, retry_base_delay=30.0, retry_max_delay=30.0)
    context.stop = stop
    provider = crm.provider(context=context)
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    with pytest.raises(ConnectError, match="the run was asked to stop"):
        provider.describe()
    assert time.monotonic() - started < 5
    assert len(_token_requests(crm)) == 1


def test_a_sign_in_answered_after_the_timeout_is_tried_again(crm):
    """The identity provider took the token request but answered too late: tried again, as a
    dropped connection is, rather than the run failing at once."""
    crm.emu.faults.delay_next(1, 1.5, path_contains="/token")
    result = crm.provider(crm.emu.connection_string() + "Timeout=0.5;").verify()
    assert result.ok, result.message
    assert len(_token_requests(crm)) == 2
    assert any("/oauth2/v2.0/token: timed out; retrying in" in line for line in crm.logs), \
        crm.logs


def test_a_sign_in_that_always_times_out_fails_naming_the_identity_provider(crm):
    crm.emu.faults.delay_next(10, 1.5, path_contains="/token")
    provider = crm.provider(crm.emu.connection_string() + "Timeout=0.5;", retry_max=2)
    with pytest.raises(ConnectError) as caught:
        provider.describe()
    assert str(caught.value) == ("sign-in at login.fake.test failed: timed out (gave up after "
                                 "3 tries)")
    assert len(_token_requests(crm)) == 3


def test_an_app_sign_in_that_always_times_out_says_so_without_its_secret(crm):
    crm.emu.faults.delay_next(10, 1.5, path_contains="/token")
    provider = crm.provider(crm.client_secret_string() + "Timeout=0.5;",
                            secret=crm.emu.client_secret, retry_max=1)
    result = provider.verify()
    assert not result.ok
    assert "login.fake.test failed: timed out (gave up after 2 tries)" in result.message, \
        result.message
    assert crm.emu.client_secret not in result.message and "\n" not in result.message


def test_a_stop_ends_the_wait_for_a_sign_in_answer_at_once(crm):
    """A stop while the identity provider is slow to answer (verify signs an app in afresh, in
    its own thread): the sign-in ends within moments, not after the Timeout (120 s by default,
    each try)."""
    crm.emu.faults.delay_next(1, 5.0, path_contains="/token")
    stop = threading.Event()
    context = crm.context(crm.emu.client_secret)
    context.stop = stop
    provider = crm.provider(crm.client_secret_string() + "Timeout=30;", context=context)
    threading.Timer(0.5, stop.set).start()
    started = time.monotonic()
    result = provider.verify()
    assert time.monotonic() - started < 3
    assert not result.ok and "the run was asked to stop" in result.message, result.message
    assert len(_token_requests(crm)) == 1


def test_an_authority_discovery_that_stays_unavailable_fails_in_one_line(crm):
    """MSAL raises its own error for a discovery answered 5xx: one line, not its traceback."""
    crm.emu.faults.fail_next(10, status=503, path_contains="openid-configuration")
    result = crm.provider(retry_max=1).verify()
    assert not result.ok
    assert result.message == ("cannot use the sign-in authority login.fake.test: the identity "
                              "provider answered 503 Service Unavailable (gave up after 2 tries)")


THROTTLED = ("sign-in at login.fake.test failed: the identity provider answered 429 Too Many "
             "Requests (gave up after 3 tries)")


@pytest.mark.parametrize(("body", "headers"), [
    (b"<html><head><title>Too busy</title></head></html>", {"Content-Type": "text/html"}),
    (b"<html><head><title>Too busy</title></head></html>",
     {"Content-Type": "text/html", "Retry-After": "0"}),
    (b"", {"Content-Type": "text/plain"}),
])
def test_a_sign_in_still_throttled_after_its_retries_says_so_whatever_its_body(crm, body,
                                                                               headers):
    crm.emu.faults.answer_next(10, body, path_contains="/token", status=429, headers=headers)
    result = crm.provider(retry_max_throttled=2).verify()
    assert not result.ok
    assert result.message == THROTTLED
    assert len(_token_requests(crm)) == 3
    assert len([line for line in crm.logs if "token: 429 throttled; retrying" in line]) == 2


def test_an_app_sign_in_still_throttled_after_its_retries_says_so(crm):
    crm.emu.faults.answer_next(10, b"", path_contains="/token", status=429)
    result = crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret,
                          retry_max_throttled=2).verify()
    assert not result.ok
    assert result.message == THROTTLED


def test_an_authority_discovery_still_throttled_after_its_retries_says_so(crm):
    crm.emu.faults.answer_next(10, b"<html><title>Busy</title></html>",
                               path_contains="openid-configuration", status=429,
                               headers={"Content-Type": "text/html"})
    result = crm.provider(retry_max_throttled=1).verify()
    assert not result.ok
    assert result.message == ("cannot use the sign-in authority login.fake.test: the identity "
                              "provider answered 429 Too Many Requests (gave up after 2 tries)")


def test_a_sign_in_answered_5xx_not_tried_again_after_a_503_says_no_giving_up(crm):
    """As a service request's: the 501 is the answer, not a giving up after the 503 retried."""
    crm.emu.faults.fail_next(1, status=503, path_contains="/token")
    crm.emu.faults.fail_next(1, status=501, path_contains="/token")
    result = crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret).verify()
    assert not result.ok
    assert result.message == ("sign-in at login.fake.test failed: the identity provider "
                              "answered 501 Not Implemented")
    assert len(_token_requests(crm)) == 2


def test_a_sign_in_given_up_counts_its_throttled_tries_too(crm):
    crm.emu.faults.fail_next(1, status=429, path_contains="/token")
    crm.emu.faults.drop_next(10, path_contains="/token")
    result = crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret,
                          retry_max=2).verify()
    assert not result.ok
    assert result.message.endswith("(gave up after 4 tries)"), result.message
    assert len(_token_requests(crm)) == 4
