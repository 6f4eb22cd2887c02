"""Bearer tokens, the fake identity provider and MSAL against it."""

from __future__ import annotations

import base64
import json
import threading
import time
import warnings

import msal
import pytest
import requests

from l2tui.emulator import Emulator


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def public_app(emu: Emulator, client_id: str = "51f81489-12ee-4a9e-aaae-a2591f45987d"):
    """An MSAL public client of the emulator (by default Microsoft's development app id, which
    the emulator has registered)."""
    return msal.PublicClientApplication(
        client_id, authority=emu.authority, instance_discovery=False,
        http_client=emu.msal_http_client(),
    )


def test_requests_without_a_token_get_401_with_www_authenticate(emu_auth: Emulator,
                                                                http: requests.Session):
    resp = http.get(emu_auth.url("accounts"))
    assert resp.status_code == 401
    challenge = resp.headers["WWW-Authenticate"]
    assert challenge.startswith(f"Bearer authorization_uri={emu_auth.authority}/oauth2/authorize")
    assert f"resource_id={emu_auth.root_url}/" in challenge
    assert "error" in resp.json()


def test_issued_token_is_accepted(emu_auth: Emulator, http: requests.Session):
    resp = http.get(emu_auth.url("accounts?$top=1"), headers=bearer(emu_auth.issue_token()))
    assert resp.status_code == 200


def test_unknown_token_is_401(emu_auth: Emulator, http: requests.Session):
    assert http.get(emu_auth.url("accounts"), headers=bearer("nope")).status_code == 401


def test_tokens_expire_after_token_lifetime(emu_auth: Emulator, http: requests.Session):
    token = emu_auth.issue_token()
    emu_auth.token_lifetime = 0.3
    assert http.get(emu_auth.url("accounts?$top=1"), headers=bearer(token)).status_code == 200
    time.sleep(0.4)
    assert http.get(emu_auth.url("accounts?$top=1"), headers=bearer(token)).status_code == 401


def test_discovery_documents_for_v2_and_adfs(emu_auth: Emulator, http: requests.Session):
    v2 = http.get(f"{emu_auth.root_url}/organizations/v2.0/.well-known/openid-configuration").json()
    assert v2["token_endpoint"] == "https://login.fake.test/organizations/oauth2/v2.0/token"
    assert v2["device_authorization_endpoint"].endswith("/organizations/oauth2/v2.0/devicecode")
    adfs = http.get(f"{emu_auth.root_url}/adfs/.well-known/openid-configuration").json()
    assert adfs["token_endpoint"] == "https://login.fake.test/adfs/oauth2/v2.0/token"


def test_discovery_of_another_tenant_id_is_refused_as_entra_refuses_it(
        emu_auth: Emulator, http: requests.Session):
    other = "00000000-1111-2222-3333-444444444444"
    answer = http.get(f"{emu_auth.root_url}/{other}/v2.0/.well-known/openid-configuration")
    assert answer.status_code == 400
    assert answer.json()["error"] == "invalid_tenant"
    assert answer.json()["error_description"].startswith(f"AADSTS90002: Tenant '{other}' not found.")


def test_userrealm_says_managed(emu_auth: Emulator, http: requests.Session):
    body = http.get(f"{emu_auth.root_url}/common/userrealm/alice@contoso.com?api-version=1.0").json()
    assert body["account_type"] == "Managed"


def test_password_grant_returns_the_full_token_response(emu_auth: Emulator, http: requests.Session):
    resp = http.post(f"{emu_auth.root_url}/organizations/oauth2/v2.0/token", data={
        "grant_type": "password", "client_id": emu_auth.public_client_id, "username": emu_auth.username,
        "password": emu_auth.password, "scope": f"{emu_auth.scope} openid profile offline_access",
        "client_info": "1",
    })
    body = resp.json()
    assert {"access_token", "token_type", "expires_in", "scope", "refresh_token", "client_info",
            "id_token"} <= set(body)
    info = json.loads(base64.urlsafe_b64decode(body["client_info"] + "=="))
    assert set(info) == {"uid", "utid"}
    claims = json.loads(base64.urlsafe_b64decode(body["id_token"].split(".")[1] + "=="))
    assert claims["aud"] == emu_auth.public_client_id
    assert claims["preferred_username"] == emu_auth.username
    assert body["scope"] == emu_auth.scope


def test_wrong_password_is_invalid_grant(emu_auth: Emulator, http: requests.Session):
    resp = http.post(f"{emu_auth.root_url}/organizations/oauth2/v2.0/token", data={
        "grant_type": "password", "client_id": emu_auth.public_client_id, "username": emu_auth.username,
        "password": "wrong", "scope": emu_auth.scope})
    assert resp.status_code == 400 and resp.json()["error"] == "invalid_grant"


def test_msal_username_password(emu_auth: Emulator, http: requests.Session):
    app = public_app(emu_auth)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = app.acquire_token_by_username_password(
            emu_auth.username, emu_auth.password, scopes=[emu_auth.scope])
    assert "access_token" in result, result
    resp = http.get(emu_auth.url("accounts?$top=1"), headers=bearer(result["access_token"]))
    assert resp.status_code == 200
    [account] = app.get_accounts()
    assert account["username"] == emu_auth.username
    silent = app.acquire_token_silent([emu_auth.scope], account=account, force_refresh=True)
    assert silent and "access_token" in silent


def test_msal_device_code_approved_from_a_test(emu_auth: Emulator, http: requests.Session):
    app = public_app(emu_auth)
    flow = app.initiate_device_flow(scopes=[emu_auth.scope])
    assert flow["user_code"] in flow["message"]
    pending = app.client.obtain_token_by_device_flow(dict(flow), exit_condition=lambda f: True)
    assert pending["error"] == "authorization_pending"
    approver = threading.Timer(0.2, emu_auth.idp.approve_device_code,
                               args=(flow["user_code"], emu_auth.username))
    approver.start()
    result = app.acquire_token_by_device_flow(flow)
    approver.join()
    assert "access_token" in result, result
    assert http.get(emu_auth.url("accounts?$top=1"),
                    headers=bearer(result["access_token"])).status_code == 200


def test_msal_device_code_auto_approve(emu_auth: Emulator):
    emu_auth.idp.auto_approve_device_codes = True
    app = public_app(emu_auth)
    result = app.acquire_token_by_device_flow(app.initiate_device_flow(scopes=[emu_auth.scope]))
    assert "access_token" in result


def test_msal_client_credentials(emu_auth: Emulator, http: requests.Session):
    app = msal.ConfidentialClientApplication(
        emu_auth.client_id, client_credential=emu_auth.client_secret,
        authority=emu_auth.authority, instance_discovery=False,
        http_client=emu_auth.msal_http_client(),
    )
    result = app.acquire_token_for_client(scopes=[emu_auth.scope])
    assert "access_token" in result, result
    assert http.get(emu_auth.url("accounts?$top=1"),
                    headers=bearer(result["access_token"])).status_code == 200


def test_msal_client_credentials_with_a_wrong_secret_fails(emu_auth: Emulator):
    app = msal.ConfidentialClientApplication(
        emu_auth.client_id, client_credential="wrong", authority=emu_auth.authority,
        instance_discovery=False, http_client=emu_auth.msal_http_client(),
    )
    assert app.acquire_token_for_client(scopes=[emu_auth.scope])["error"] == "invalid_client"


def test_msal_over_real_tls_with_the_adfs_tenant(make_emu):
    pytest.importorskip("trustme")
    emu = make_emu(rows=5, auth=True, tls=True)
    assert emu.authority == f"https://127.0.0.1:{emu.port}/adfs"
    session = emu.msal_http_client()
    assert session.verify == emu.ca_bundle
    app = msal.PublicClientApplication(emu.public_client_id, authority=emu.authority,
                                       instance_discovery=False, http_client=session)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        result = app.acquire_token_by_username_password(emu.username, emu.password,
                                                        scopes=[emu.scope])
    assert "access_token" in result, result
    resp = session.get(emu.url("accounts?$top=1"), headers=bearer(result["access_token"]))
    assert resp.status_code == 200


def test_connection_strings(emu: Emulator, emu_auth: Emulator):
    assert emu.connection_string() == f"URL={emu.base_url}accounts;Authentication=none;"
    assert emu_auth.connection_string("contacts") == (
        f"URL={emu_auth.base_url}contacts;Authentication=microsoft_modern_crm;"
        f"User=alice@contoso.com;Authority=https://login.fake.test/{emu_auth.tenant};")


def test_users_and_clients_are_configurable(make_emu, http: requests.Session):
    emu = make_emu(rows=1, auth=True, users={"bob@fabrikam.com": "hunter2"},
                   clients={"svc": "s3cret"})
    assert (emu.username, emu.password) == ("bob@fabrikam.com", "hunter2")
    assert (emu.client_id, emu.client_secret) == ("svc", "s3cret")
    resp = http.post(f"{emu.root_url}/organizations/oauth2/v2.0/token", data={
        "grant_type": "client_credentials", "client_id": "svc", "client_secret": "s3cret",
        "scope": emu.scope})
    assert "access_token" in resp.json()


TOKEN_PATH = "/organizations/oauth2/v2.0/token"


def _entra_error(resp: requests.Response, status: int, error: str, code: int) -> str:
    """The first line of an error answered in Entra's shape, after checking that shape."""
    body = resp.json()
    assert resp.status_code == status, (resp.status_code, body)
    assert body["error"] == error and body["error_codes"] == [code], body
    assert {"timestamp", "trace_id", "correlation_id"} <= set(body), body
    assert "Trace ID: " in body["error_description"], body
    first = body["error_description"].splitlines()[0]
    assert first.startswith(f"AADSTS{code}: "), first
    return first


def test_a_wrong_client_secret_is_answered_as_entra_answers_it(emu_auth: Emulator,
                                                                http: requests.Session):
    resp = http.post(emu_auth.root_url + TOKEN_PATH, data={
        "grant_type": "client_credentials", "client_id": emu_auth.client_id,
        "client_secret": "wrong", "scope": emu_auth.scope})
    assert _entra_error(resp, 401, "invalid_client", 7000215) == \
        ("AADSTS7000215: Invalid client secret provided. Ensure the secret being sent in the "
         "request is the client secret value, not the client secret ID, for a secret added to "
         f"app '{emu_auth.client_id}'.")


def test_an_unregistered_client_id_is_refused_as_entra_refuses_it(emu_auth: Emulator,
                                                                   http: requests.Session):
    resp = http.post(emu_auth.root_url + TOKEN_PATH, data={
        "grant_type": "password", "client_id": "not-registered", "username": emu_auth.username,
        "password": emu_auth.password, "scope": emu_auth.scope})
    first = _entra_error(resp, 400, "unauthorized_client", 700016)
    assert first.startswith("AADSTS700016: Application with identifier 'not-registered' was "
                            "not found in the directory"), first


def test_an_unregistered_client_id_gets_no_device_code(emu_auth: Emulator):
    flow = public_app(emu_auth, client_id="not-registered").initiate_device_flow(
        scopes=[emu_auth.scope])
    assert flow["error"] == "unauthorized_client" and "user_code" not in flow, flow


@pytest.mark.parametrize("missing", ["grant_type", "client_id", "username", "scope"])
def test_a_missing_parameter_is_an_invalid_request(emu_auth: Emulator, http: requests.Session,
                                                    missing: str):
    form = {"grant_type": "password", "client_id": emu_auth.public_client_id,
            "username": emu_auth.username, "password": emu_auth.password,
            "scope": emu_auth.scope}
    if missing == "scope":  # (an app's token is always asked for a scope)
        form = {"grant_type": "client_credentials", "client_id": emu_auth.client_id,
                "client_secret": emu_auth.client_secret}
    else:
        del form[missing]
    resp = http.post(emu_auth.root_url + TOKEN_PATH, data=form)
    assert _entra_error(resp, 400, "invalid_request", 900144) == (
        f"AADSTS900144: The request body must contain the following parameter: '{missing}'.")


@pytest.mark.parametrize("scope", ["https://contoso.crm.dynamics.com/.default", "User.Read",
                                   "{root}/Contacts.Read"])
def test_a_scope_of_another_resource_is_an_invalid_scope(emu_auth: Emulator,
                                                         http: requests.Session, scope: str):
    scope = scope.format(root=emu_auth.root_url)
    resp = http.post(emu_auth.root_url + TOKEN_PATH, data={
        "grant_type": "password", "client_id": emu_auth.public_client_id,
        "username": emu_auth.username, "password": emu_auth.password,
        "scope": f"{scope} openid profile offline_access"})
    assert _entra_error(resp, 400, "invalid_scope", 70011) == (
        "AADSTS70011: The provided value for the input parameter 'scope' is not valid. "
        f"The scope '{scope}' does not exist.")


def test_the_service_is_its_own_scope_under_another_host_name(emu_auth: Emulator,
                                                              http: requests.Session):
    for scope in (f"http://localhost:{emu_auth.port}/user_impersonation", emu_auth.scope):
        resp = http.post(emu_auth.root_url + TOKEN_PATH, data={
            "grant_type": "password", "client_id": emu_auth.public_client_id,
            "username": emu_auth.username, "password": emu_auth.password, "scope": scope})
        assert "access_token" in resp.json(), resp.json()


@pytest.mark.parametrize(("status", "error", "code"), [
    (503, "temporarily_unavailable", 90033), (500, "server_error", 90033),
    (429, "temporarily_unavailable", 90055)])
def test_an_injected_failure_of_the_identity_provider_is_answered_as_entra_answers(
        emu_auth: Emulator, http: requests.Session, status: int, error: str, code: int):
    emu_auth.faults.fail_next(1, status=status, path_contains="/token")
    resp = http.post(emu_auth.root_url + TOKEN_PATH, data={
        "grant_type": "client_credentials", "client_id": emu_auth.client_id,
        "client_secret": emu_auth.client_secret, "scope": emu_auth.scope})
    _entra_error(resp, status, error, code)
    assert (resp.headers.get("Retry-After") is not None) == (status == 429)


def test_more_client_ids_can_be_registered_for_user_sign_in(make_emu, http: requests.Session):
    emu = make_emu(rows=1, auth=True, public_clients=["my-own-app"])
    for client_id in ("my-own-app", emu.public_client_id, emu.client_id):
        resp = http.post(emu.root_url + TOKEN_PATH, data={
            "grant_type": "password", "client_id": client_id, "username": emu.username,
            "password": emu.password, "scope": emu.scope})
        assert "access_token" in resp.json(), (client_id, resp.json())
