"""verify and preview against the emulator with each sign-in flow."""

from __future__ import annotations

import contextlib
import http.server
import json
import os
import socket
import stat
import threading
import time
from collections.abc import Iterator

import pytest
import requests

from l2tui.errors import ConfigError, ConnectError
from l2tui.providers.base import ProviderContext


def test_verify_with_password_sign_in(crm):
    result = crm.provider().verify()
    assert result.ok, result.message
    assert result.message.startswith(f"Connected to 127.0.0.1:{crm.emu.port} as {crm.emu.username}")
    assert "accounts:" in result.message and "change tracking on" in result.message


def test_verify_says_when_it_signed_in_from_the_token_cache(crm):
    first = crm.provider().verify()
    assert first.ok and "token cache" not in first.message
    second = crm.provider(context=crm.context(None)).verify()  # no password: the cached sign-in
    assert second.ok, second.message
    assert f"as {crm.emu.username} (signed in from the token cache)" in second.message


def test_preview_with_password_sign_in(crm):
    columns, rows = crm.provider(select="$select=name,revenue").preview(rows=5)
    assert [c.name for c in columns] == ["accountid", "name", "revenue"]
    assert len(rows) == 5 and set(rows[0]) == {"accountid", "name", "revenue"}


def test_verify_with_client_secret(crm):
    provider = crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret)
    result = provider.verify()
    assert result.ok, result.message
    assert f"as app {crm.emu.client_id}" in result.message


def test_preview_with_client_secret(crm):
    provider = crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret)
    assert len(provider.preview(rows=3)[1]) == 3


def test_device_code_prompt_is_delivered_and_sign_in_completes(crm):
    prompts = []

    def show(flow):
        prompts.append(flow)
        crm.emu.idp.approve_device_code(flow["user_code"], crm.emu.username)

    context = crm.context()
    context.device_code = show
    result = crm.provider(crm.device_code_string(), context=context).verify()
    assert result.ok, result.message
    assert prompts and prompts[0]["verification_uri"].endswith("/devicelogin")
    assert crm.emu.username in result.message


def test_device_code_sign_in_without_anyone_to_show_the_code_to_fails_at_once(crm):
    context = crm.context()
    context.device_code = None  # (cron, systemd)
    result = crm.provider(crm.device_code_string(), context=context).verify()
    assert not result.ok
    assert "a device-code sign-in needs a person to enter its code" in result.message
    assert crm.emu.idp.pending_device_codes() == []


def test_verify_and_preview_with_auth_off(open_crm):
    provider = open_crm.provider()
    result = provider.verify()
    assert result.ok, result.message
    assert " as " not in result.message
    assert len(provider.preview(rows=4)[1]) == 4


def test_a_second_run_signs_in_silently_from_the_token_cache(crm):
    crm.provider().verify()
    provider = crm.provider(secret=None, context=crm.context(secret=None))
    result = provider.verify()
    assert result.ok, result.message


def test_token_cache_is_private(crm):
    crm.provider().verify()
    mode = stat.S_IMODE(os.stat(crm.cache).st_mode)
    assert mode == 0o600
    assert not [p for p in crm.cache.parent.iterdir() if p != crm.cache]  # no temp files left


def test_wrong_password_is_one_line_without_the_password(crm):
    result = crm.provider(secret="Wrong-Pa55word!").verify()
    assert not result.ok
    assert "\n" not in result.message and "Wrong-Pa55word!" not in result.message
    assert "sign-in as" in result.message


def test_wrong_client_secret_fails_verify_cleanly(crm):
    result = crm.provider(crm.client_secret_string(), secret="not-the-secret-123").verify()
    assert not result.ok and "not-the-secret-123" not in result.message


def test_a_wrong_client_secret_says_what_the_identity_provider_said(crm):
    """Not 'the app could not get a token': the identity provider's own reason."""
    provider = crm.provider(crm.client_secret_string(), secret="not-the-secret-123")
    with pytest.raises(ConnectError) as caught:
        provider.describe()
    message = str(caught.value)
    assert "Invalid client secret" in message and "\n" not in message, message
    assert "not-the-secret-123" not in message


def test_unreachable_service_fails_verify_with_the_url(crm):
    port = crm.emu.port
    provider = crm.provider(
        f"URL=http://127.0.0.1:{port + 1 if port < 65535 else 1}/api/data/v9.2/accounts;"
        "Authentication=none", retry_max=1)
    result = provider.verify()
    assert not result.ok
    assert "127.0.0.1" in result.message and "\n" not in result.message


def test_no_token_is_a_clear_failure_when_auth_is_required(crm):
    provider = crm.provider(f"URL={crm.emu.url('accounts')};Authentication=none")
    result = provider.verify()
    assert not result.ok
    assert "401" in result.message


def test_expired_token_mid_run_is_refreshed_silently(crm):
    provider = crm.provider()
    provider.verify()
    crm.emu.idp.revoke_all()  # the service refuses the token and the refresh token
    assert len(provider.preview(rows=2)[1]) == 2
    assert any("401, renewing" in line for line in crm.logs)


def test_refused_after_refresh_raises_connect_error(crm):
    provider = crm.provider(f"URL={crm.emu.url('accounts')};Authentication=bearer;Token=abc.def.ghi")
    with pytest.raises(ConnectError, match="401"):
        provider.describe()


def test_bearer_token_from_the_secret_resolver(crm):
    token = crm.emu.issue_token()
    entity_string = f"URL={crm.emu.url('accounts')};Authentication=bearer"
    provider = crm.provider(entity_string, secret=token)
    assert provider.verify().ok


def test_authority_rewrite_env_var_reaches_the_fake_idp(crm, monkeypatch):
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test={crm.emu.root_url}")
    context = ProviderContext(secret=lambda: crm.emu.password, token_cache_path=crm.cache,
                              log=crm.logs.append)
    result = crm.provider(context=context).verify()
    assert result.ok, result.message


def test_device_code_sign_in_is_renewed_with_the_refresh_token_not_a_new_prompt(crm):
    crm.emu.idp.auto_approve_device_codes = True
    crm.emu.token_lifetime = 1
    provider = crm.provider(crm.device_code_string())
    assert provider.verify().ok
    prompts = len(crm.notices)
    time.sleep(1.1)  # the access token has expired; the refresh token still works
    assert len(provider.preview(rows=1)[1]) == 1
    assert len(crm.notices) == prompts


def test_a_run_logs_its_sign_in_once_however_often_the_token_is_renewed(crm):
    """Short-lived tokens renewed silently through a run: the log says "signed in" once, not
    once per renewal."""
    crm.emu.token_lifetime = 1
    provider = crm.provider()
    provider.describe()
    for _ in range(3):
        time.sleep(1.0)  # the access token has expired: the next request renews it
        assert len(provider.preview(rows=1)[1]) == 1
    renewals = [r for r in crm.emu.recent_requests if "/oauth2/v2.0/token" in r]
    assert len(renewals) >= 4, renewals
    assert len([line for line in crm.logs if "signed in" in line]) == 1, crm.logs


def test_device_code_refused_mid_run_fails_clearly_without_prompting(crm):
    crm.emu.idp.auto_approve_device_codes = True
    provider = crm.provider(crm.device_code_string())
    provider.verify()
    prompts = len(crm.notices)
    crm.emu.idp.revoke_all()
    with pytest.raises(ConnectError, match="401"):
        list(provider.read())
    assert len(crm.notices) == prompts


class NoNetwork(requests.adapters.BaseAdapter):
    """What a machine's resolver answers for a reserved test name: no such host."""

    def send(self, request, **kwargs):
        raise requests.ConnectionError("[Errno -2] Name or service not known")

    def close(self):
        pass


def test_a_test_authority_out_of_reach_says_how_the_emulator_is_reached(crm):
    unreachable = requests.Session()
    unreachable.mount("https://", NoNetwork())
    provider = crm.provider(context=crm.context(crm.emu.password, msal_http_client=unreachable))
    with pytest.raises(ConnectError) as err:
        provider.describe()
    assert str(err.value).endswith(": Name or service not known (gave up after 6 tries) "
                                   "(a test authority: set "
                                   "L2TUI_AUTHORITY_REWRITE as `l2tui emulator` prints)")


@pytest.mark.parametrize("content", ["[]", '{"AccessToken": []}', '{"AccessToken": {"k": 1}}', "7"])
def test_a_token_cache_of_valid_json_but_not_a_cache_is_started_afresh(crm, content):
    """A cache file that parses as JSON but is not MSAL's shape: signed in anew and rewritten,
    not "sign-in failed: 'list' object has no attribute 'get'" on every run."""
    crm.cache.parent.mkdir(parents=True, exist_ok=True)
    crm.cache.write_text(content)
    result = crm.provider().verify()
    assert result.ok, result.message
    assert any("token cache" in line and "starting afresh" in line for line in crm.logs), crm.logs
    assert isinstance(json.loads(crm.cache.read_text()).get("AccessToken"), dict)
    assert crm.provider(secret=None, context=crm.context(secret=None)).verify().ok


def test_a_token_cache_readable_by_others_is_made_private_on_a_silent_sign_in(crm):
    """A run that signs in from the cache writes nothing; the file is 0600 all the same."""
    crm.provider().verify()
    os.chmod(crm.cache, 0o644)
    result = crm.provider(secret=None, context=crm.context(secret=None)).verify()
    assert result.ok and "token cache" in result.message, result.message
    assert stat.S_IMODE(os.stat(crm.cache).st_mode) == 0o600


def test_a_symbolic_link_in_place_of_the_token_cache_is_not_followed(crm, tmp_path):
    """A link planted where the cache goes: its target is neither read, made private nor
    written; the sign-in starts afresh and its cache replaces the link."""
    target = tmp_path / "someone-elses.json"
    target.write_text("{}")
    target.chmod(0o644)
    crm.cache.parent.mkdir(parents=True, exist_ok=True)
    crm.cache.symlink_to(target)
    result = crm.provider().verify()
    assert result.ok, result.message
    assert (target.read_text(), stat.S_IMODE(target.stat().st_mode)) == ("{}", 0o644)
    assert any("token cache" in line and "starting afresh" in line for line in crm.logs), crm.logs
    assert not crm.cache.is_symlink()


def test_a_token_cache_that_cannot_be_written_is_a_setup_error_naming_it(crm):
    """A folder where the cache goes: one line naming the file (exit 2, as a state or log
    folder l2tui cannot use), not "unexpected error: IsADirectoryError"."""
    crm.cache.mkdir(parents=True)
    with pytest.raises(ConfigError, match=f"^{crm.cache}: the token cache cannot be written: "
                                          "Is a directory"):
        crm.provider().describe()


def test_verify_puts_a_wrong_client_secret_to_the_test_despite_a_cached_app_token(crm):
    """A run signed in as the app; the secret is then rotated and mistyped: verify fails now,
    not an hour later in the scheduled run when the cached token expires."""
    assert crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret).verify().ok
    result = crm.provider(crm.client_secret_string(), secret="not-the-secret-123").verify()
    assert not result.ok and "Invalid client secret" in result.message, result.message
    assert "not-the-secret-123" not in result.message
    assert crm.provider(crm.client_secret_string(), secret=crm.emu.client_secret).verify().ok


def test_an_identity_provider_that_never_answers_fails_the_sign_in_after_the_timeout(crm, monkeypatch):
    """An identity provider that takes the connection and says nothing: the sign-in gives up
    after the connection string's Timeout on each of its tries, one line, rather than hold the
    run for good."""
    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections are taken (the backlog), never answered
        monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE",
                           f"https://login.fake.test=http://127.0.0.1:{silent.getsockname()[1]}")
        context = ProviderContext(secret=lambda: crm.emu.password, token_cache_path=crm.cache,
                                  log=crm.logs.append,
                                  options={"retry_max": 1, "retry_base_delay": 0.01})
        provider = crm.provider(crm.emu.connection_string() + "Timeout=1;", context=context)
        started = time.monotonic()
        with pytest.raises(ConnectError) as caught:
            provider.describe()
        assert time.monotonic() - started < 10  # two tries of 1 s, each tried once
        assert str(caught.value) == ("cannot use the sign-in authority login.fake.test: timed "
                                     "out (gave up after 2 tries) (sent to 127.0.0.1:"
                                     f"{silent.getsockname()[1]} by L2TUI_AUTHORITY_REWRITE)")


def test_an_identity_provider_down_behind_the_authority_rewrite_names_where_it_was_sent(crm, monkeypatch):
    """L2TUI_AUTHORITY_REWRITE set, its target not answering: the message says where the
    sign-in went, not to set the variable that is set."""
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here
    monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE", f"https://login.fake.test=http://127.0.0.1:{port}")
    context = ProviderContext(secret=lambda: crm.emu.password, token_cache_path=crm.cache,
                              log=crm.logs.append)
    with pytest.raises(ConnectError) as err:
        crm.provider(context=context).describe()
    assert str(err.value) == ("cannot use the sign-in authority login.fake.test: Connection "
                              f"refused (sent to 127.0.0.1:{port} by L2TUI_AUTHORITY_REWRITE)")


def test_a_wrong_tenant_says_what_the_identity_provider_said(crm):
    """Another tenant id than the directory's: the identity provider's 'Tenant … not found',
    not MSAL's "Authority would typically be in a format of …" cut short."""
    other = "00000000-1111-2222-3333-444444444444"
    connection_string = crm.client_secret_string().replace(crm.emu.tenant, other)
    result = crm.provider(connection_string, secret=crm.emu.client_secret).verify()
    assert not result.ok
    assert result.message == (f"cannot use the sign-in authority login.fake.test: AADSTS90002: "
                              f"Tenant '{other}' not found. Check to make sure you have the "
                              "correct tenant ID and are signing into the correct cloud.")


def test_an_unregistered_client_id_says_what_the_identity_provider_said(crm):
    """A ClientId the directory does not know: Entra's AADSTS700016, on one line (its trace
    lines left out), the password nowhere in it."""
    result = crm.provider(crm.emu.connection_string() + "ClientId=not-registered;").verify()
    assert not result.ok
    assert result.message.startswith(
        "sign-in as alice@contoso.com at login.fake.test failed: AADSTS700016: Application with "
        "identifier 'not-registered' was not found in the directory"), result.message
    assert "\n" not in result.message and "\r" not in result.message
    assert "Trace ID" not in result.message and crm.emu.password not in result.message


def test_a_scope_of_another_resource_says_what_the_identity_provider_said(crm):
    scope = "https://contoso.crm.dynamics.com/.default"
    result = crm.provider(crm.client_secret_string() + f"Scope={scope};",
                          secret=crm.emu.client_secret).verify()
    assert not result.ok
    assert result.message.endswith(
        "at login.fake.test failed: AADSTS70011: The provided value for the input parameter "
        f"'scope' is not valid. The scope '{scope}' does not exist."), result.message
    assert "\n" not in result.message and "\r" not in result.message
    assert crm.emu.client_secret not in result.message


def test_an_authority_configuration_that_is_no_json_says_so(crm):
    """A proxy's page in place of the OpenID configuration: said so, not MSAL's "Authority
    would typically be in a format of …" cut short."""
    crm.emu.faults.garble_next(1, path_contains="openid-configuration")
    result = crm.provider().verify()
    assert result.message == ("cannot use the sign-in authority login.fake.test: its answer "
                              "was not JSON (a proxy's page in place of it?)")


@contextlib.contextmanager
def _web_server(status: int, body: bytes, kind: str) -> Iterator[int]:
    """A web server on 127.0.0.1 that is no identity provider: every GET answered alike."""

    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802  (http.server's name)
            self.send_response(status)
            self.send_header("Content-Type", kind)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, *args):
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        yield server.server_port
    finally:
        server.shutdown()
        server.server_close()


@pytest.mark.parametrize(("status", "body", "kind", "said"), [
    (404, b"<html><body><h1>Not Found</h1></body></html>", "text/html",
     "the identity provider answered 404 Not Found for its OpenID configuration"),
    (200, b"{}", "application/json", "its OpenID configuration names no authorization_endpoint"),
])
def test_an_authority_that_is_no_identity_provider_says_what_it_answered(
        crm, monkeypatch, status, body, kind, said):
    with _web_server(status, body, kind) as port:
        monkeypatch.setenv("L2TUI_AUTHORITY_REWRITE",
                           f"https://login.fake.test=http://127.0.0.1:{port}")
        context = ProviderContext(secret=lambda: crm.emu.password, token_cache_path=crm.cache,
                                  log=crm.logs.append)
        result = crm.provider(context=context).verify()
    assert result.message == (f"cannot use the sign-in authority login.fake.test: {said} "
                              f"(sent to 127.0.0.1:{port} by L2TUI_AUTHORITY_REWRITE)")


def test_a_user_realm_refused_says_what_the_identity_provider_answered(crm):
    """A 403 to the user-realm lookup a password sign-in makes first (a proxy's): said so, not
    MSAL's "HTTP Error: 403"."""
    crm.emu.faults.fail_next(1, status=403, path_contains="/userrealm/")
    result = crm.provider().verify()
    assert result.message == ("sign-in at login.fake.test failed: the identity provider "
                              "answered 403 Forbidden")


def test_an_authority_configuration_answered_neither_200_nor_an_error_says_so(crm):
    """A 302 without a place to go: one line, not MSAL's RuntimeError escaping verify."""
    crm.emu.faults.fail_next(1, status=302, path_contains="openid-configuration")
    result = crm.provider().verify()
    assert result.message == ("cannot use the sign-in authority login.fake.test: the identity "
                              "provider answered 302 Found for its OpenID configuration")
