"""Connection strings → ODataSettings."""

from __future__ import annotations

import pytest

from l2tui.errors import ConfigError
from l2tui.providers.odata import connstr as cs
from l2tui.providers.odata.connstr import DEFAULT_CLIENT_ID, parse_settings

SEED = (
    "URL=https://contoso.crm4.dynamics.com/api/data/v9.2/accounts;"
    "Authentication=microsoft_modern_crm;User=alice@contoso.com;"
)


def test_seed_form_splits_service_root_and_entity_set():
    s = parse_settings(SEED)
    assert s.service_root == "https://contoso.crm4.dynamics.com/api/data/v9.2/"
    assert s.entity_set == "accounts"
    assert s.method == cs.PASSWORD
    assert s.user == "alice@contoso.com"


def test_a_user_and_password_in_url_are_neither_sent_nor_shown():
    s = parse_settings("URL=http://bob:TOPSECRET@127.0.0.1:8123/api/data/v9.2/accounts;"
                       "Authentication=none")
    assert (s.service_root, s.host) == ("http://127.0.0.1:8123/api/data/v9.2/", "127.0.0.1:8123")


def test_scope_comes_from_the_url_host():
    assert parse_settings(SEED).scopes == ["https://contoso.crm4.dynamics.com/.default"]


def test_scope_keeps_a_non_default_port():
    s = parse_settings("URL=http://127.0.0.1:8123/api/data/v9.2/accounts;Authentication=none")
    assert s.scopes == ["http://127.0.0.1:8123/.default"]


def test_default_authority_is_microsoft_organizations_and_public_client_id():
    s = parse_settings(SEED)
    assert s.effective_authority == "https://login.microsoftonline.com/organizations"
    assert s.client_id == DEFAULT_CLIENT_ID


def test_tenant_id_picks_the_authority():
    s = parse_settings(SEED + "TenantId=contoso.onmicrosoft.com;")
    assert s.effective_authority == "https://login.microsoftonline.com/contoso.onmicrosoft.com"


def test_authority_key_overrides_the_default():
    s = parse_settings(SEED + "Authority=https://login.fake.test/tenant1/;")
    assert s.effective_authority == "https://login.fake.test/tenant1"


def test_dataverse_client_form_with_org_root_and_entity_set_key():
    s = parse_settings(
        "AuthType=ClientSecret;Url=https://contoso.crm.dynamics.com;ClientId=abc;"
        "TenantId=t1;EntitySet=contacts"
    )
    assert s.service_root == "https://contoso.crm.dynamics.com/api/data/v9.2/"
    assert s.entity_set == "contacts"
    assert s.method == cs.CLIENT_SECRET


def test_org_root_without_entity_set_is_refused_with_a_hint():
    with pytest.raises(ConfigError, match="EntitySet=accounts"):
        parse_settings("AuthType=OAuth;Url=https://contoso.crm.dynamics.com;Username=a@b.c")


def test_web_api_root_without_entity_set_is_refused():
    with pytest.raises(ConfigError, match="entity set"):
        parse_settings("URL=https://contoso.crm.dynamics.com/api/data/v9.2/;Authentication=none")


def test_oauth_with_user_is_password_sign_in_and_without_is_device_code():
    base = "URL=https://x.crm.dynamics.com/api/data/v9.2/accounts;AuthType=OAuth;"
    assert parse_settings(base + "Username=a@b.c").method == cs.PASSWORD
    assert parse_settings(base).method == cs.DEVICE_CODE


@pytest.mark.parametrize("method", ["none", "basic", "bearer", "device_code"])
def test_generic_methods_are_taken_as_given(method):
    s = parse_settings(f"URL=https://odata.example/svc/Products;Authentication={method};User=u")
    assert s.method == method


def test_client_secret_needs_an_app_id():
    with pytest.raises(ConfigError, match="ClientId"):
        parse_settings(SEED.replace("microsoft_modern_crm", "client_secret") + "TenantId=t")


def test_client_secret_needs_a_tenant_or_authority():
    with pytest.raises(ConfigError, match="TenantId"):
        parse_settings(SEED.replace("microsoft_modern_crm", "client_secret") + "ClientId=app")


def test_password_sign_in_needs_a_user():
    with pytest.raises(ConfigError, match="User is required"):
        parse_settings("URL=https://x/api/data/v9.2/accounts;Authentication=microsoft_modern_crm")


def test_authority_must_be_https():
    with pytest.raises(ConfigError, match="https"):
        parse_settings(SEED + "Authority=http://127.0.0.1:1/t;")


def test_query_in_url_is_refused():
    with pytest.raises(ConfigError, match="select statement"):
        parse_settings("URL=https://x/api/data/v9.2/accounts?$top=1;Authentication=none")


def test_unknown_key_is_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="did you mean"):
        parse_settings(SEED + "Authentcation=none;")


def test_numbers_are_checked():
    with pytest.raises(ConfigError, match="BatchSize must be a whole number"):
        parse_settings(SEED + "BatchSize=lots;")
    assert parse_settings(SEED + "BatchSize=25;PageSize=500;Parallel=2").batch_size == 25


@pytest.mark.parametrize("value", ["inf", "nan", "1e400"])
def test_a_timeout_that_is_no_number_of_seconds_is_refused(value):
    with pytest.raises(ConfigError, match=f"Timeout must be a number, not '{value}'"):
        parse_settings(SEED + f"Timeout={value};")


def test_more_requests_at_once_than_dataverse_answers_is_refused():
    """(each is a connection kept ready: a hundred million took minutes before the run began)"""
    assert parse_settings(SEED + "Parallel=52").parallel == 52
    with pytest.raises(ConfigError, match="Parallel must be at most 52, not 100000000"):
        parse_settings(SEED + "Parallel=100000000;")


def test_ca_bundle_key_is_kept():
    assert parse_settings(SEED + "CABundle=/etc/ca.pem").ca_bundle == "/etc/ca.pem"


@pytest.mark.parametrize("port", ["99999", "0", "65536"])
def test_a_url_port_out_of_range_is_refused_up_front(port):
    with pytest.raises(ConfigError, match=f"connection_string: URL port {port} is out of range "
                       r"\(1-65535\)"):
        parse_settings(f"URL=http://127.0.0.1:{port}/api/data/v9.2/accounts;Authentication=none")


def test_a_url_port_that_is_not_a_number_is_refused_up_front():
    with pytest.raises(ConfigError, match="connection_string: URL port 'abc' is not a number"):
        parse_settings("URL=http://127.0.0.1:abc/api/data/v9.2/accounts;Authentication=none")

