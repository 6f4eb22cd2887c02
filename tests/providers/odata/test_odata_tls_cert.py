"""https with a private CA (CABundle), certificate sign-in, tokens expiring mid-run."""

from __future__ import annotations

import time

import trustme

from l2tui.providers.base import ProviderContext


def test_ca_bundle_key_trusts_a_private_ca(make_crm, monkeypatch):
    crm = make_crm(rows=20, auth=True, tls=True)
    emu = crm.emu
    monkeypatch.setenv("REQUESTS_CA_BUNDLE", "/nonexistent/ca.pem")  # must not override CABundle
    context = ProviderContext(secret=lambda: emu.password, token_cache_path=crm.cache,
                              log=crm.logs.append)
    result = crm.provider(emu.connection_string() + f"CABundle={emu.ca_bundle};",
                          context=context).verify()
    assert result.ok, result.message


def test_untrusted_certificate_is_a_one_line_hint(make_crm):
    crm = make_crm(rows=5, auth=False, tls=True)
    result = crm.provider().verify()
    assert not result.ok
    assert "TLS failed" in result.message and "CABundle" in result.message


def test_certificate_sign_in(crm, tmp_path):
    key = trustme.CA().issue_cert("l2tui-app", key_type=trustme.KeyType.RSA)
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_key_pem.bytes() + key.cert_chain_pems[0].bytes())
    provider = crm.provider(
        f"URL={crm.emu.url('accounts')};Authentication=certificate;ClientId={crm.emu.client_id};"
        f"Authority={crm.emu.authority};CertificatePath={pem}", secret="")
    result = provider.verify()
    assert result.ok, result.message


def test_an_unusable_certificate_fails_verify_in_one_line(crm, tmp_path):
    key = trustme.CA().issue_cert("l2tui-app", key_type=trustme.KeyType.ECDSA)
    pem = tmp_path / "app.pem"
    pem.write_bytes(key.private_key_pem.bytes() + key.cert_chain_pems[0].bytes())
    provider = crm.provider(
        f"URL={crm.emu.url('accounts')};Authentication=certificate;ClientId={crm.emu.client_id};"
        f"Authority={crm.emu.authority};CertificatePath={pem}", secret="")
    result = provider.verify()
    assert not result.ok and "\n" not in result.message and "failed" in result.message


def test_a_token_expiring_mid_run_is_renewed(crm):
    crm.emu.token_lifetime = 1.0
    provider = crm.provider()
    assert provider.verify().ok
    time.sleep(1.1)
    assert len(provider.preview(rows=3)[1]) == 3


def test_an_untrusted_sign_in_authority_says_certificate_and_cabundle_not_connection_failed(
        make_crm):
    """The emulator's https authority with no CABundle: the sign-in fails on the certificate,
    and says so, rather than "connection failed" for a service that answers."""
    crm = make_crm(rows=5, auth=True, tls=True)
    context = ProviderContext(secret=lambda: crm.emu.password, token_cache_path=crm.cache,
                              log=crm.logs.append)
    result = crm.provider(context=context).verify()
    assert not result.ok and "\n" not in result.message, result.message
    assert "certificate verify failed" in result.message, result.message
    assert "CABundle" in result.message, result.message
