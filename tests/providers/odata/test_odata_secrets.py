"""No token, password or secret in any log line, message or file other than the token cache."""

from __future__ import annotations

import json
import uuid

import pytest

from l2tui.errors import L2Error
from l2tui.providers.base import Change, ChangeOp


def cached_secrets(path) -> list[str]:
    """Access and refresh tokens held (by design) in the token cache."""
    cache = json.loads(path.read_text())
    return [item["secret"] for kind in ("AccessToken", "RefreshToken")
            for item in cache.get(kind, {}).values()]


def test_no_secret_reaches_logs_messages_or_other_files(crm, tmp_path):
    emu = crm.emu
    messages: list[str] = []
    # password flow: verify, read, write, a 401 mid-run, and a failing write
    provider = crm.provider()
    messages.append(provider.verify().message)
    list(provider.read())
    emu.idp.revoke_all()
    provider.write([Change(ChangeOp.CREATE, {"accountid": str(uuid.uuid4())}, {"name": "x" * 999})])
    # client secret flow, good and bad
    app = crm.provider(crm.client_secret_string(), secret=emu.client_secret)
    messages.append(app.verify().message)
    messages.append(crm.provider(crm.client_secret_string(), secret="Bad-Secret-42").verify().message)
    messages.append(crm.provider(secret="Bad-Password-42").verify().message)
    # a bearer token the service refuses after it was revoked
    token = emu.issue_token()
    bearer = crm.provider(f"URL={emu.url('accounts')};Authentication=bearer", secret=token)
    emu.idp.revoke_all()
    with pytest.raises(L2Error) as err:
        bearer.describe()
    messages.append(str(err.value))

    secrets = [emu.password, emu.client_secret, token, "Bad-Secret-42", "Bad-Password-42",
               *cached_secrets(crm.cache)]
    files = [p.read_text(errors="replace") for p in tmp_path.rglob("*")
             if p.is_file() and p != crm.cache]
    outputs = crm.logs + crm.notices + messages + files
    assert len(secrets) > 6 and crm.logs
    for secret in secrets:
        leaks = [line for line in outputs if secret in line]
        assert not leaks, f"a secret leaked into: {leaks[0][:80]}"


def test_verify_names_the_service_without_the_user_and_password_of_its_url(open_crm):
    url = open_crm.emu.url("accounts").replace("://", "://bob:TOPSECRET6@")
    result = open_crm.provider(f"URL={url};Authentication=none").verify()
    assert result.ok, result.message
    assert "Connected to 127.0.0.1:" in result.message
    assert "TOPSECRET6" not in result.message and "bob" not in result.message
