"""A fake Microsoft identity platform: discovery, token and device-code endpoints, userrealm."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs

from .http_types import Request, Response

DEFAULT_USERS = {"alice@contoso.com": "Passw0rd!"}
DEFAULT_CLIENTS = {"l2tui-emulator-app": "emulator-secret"}
DEVICE_GRANT = "urn:ietf:params:oauth:grant-type:device_code"
USER_SCOPES = {"openid", "profile", "offline_access"}

_DISCOVERY_RE = re.compile(r"^/([^/]+)(/v2\.0)?/\.well-known/openid-configuration$")
_TOKEN_RE = re.compile(r"^/([^/]+)/oauth2/(?:v2\.0/)?token$")
_DEVICE_RE = re.compile(r"^/([^/]+)/oauth2/(?:v2\.0/)?devicecode$")
_USERREALM_RE = re.compile(r"^/common/userrealm/(.+)$")
_GUID_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$", re.I)


def _b64(data: dict[str, Any]) -> str:
    raw = json.dumps(data, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


@dataclass
class _Issued:
    subject: str
    issued_at: float


@dataclass
class DeviceCode:
    """A pending device-code login."""

    device_code: str
    user_code: str
    client_id: str
    scope: str
    expires_at: float
    approved_user: str | None = None


class IdentityProvider:
    """Issues and validates bearer tokens for the emulator; holds users and clients."""

    def __init__(self, tenant_id: str, clock: Any = time.time) -> None:
        self.tenant_id = tenant_id
        self.clock = clock
        self.users: dict[str, str] = dict(DEFAULT_USERS)
        self.clients: dict[str, str] = dict(DEFAULT_CLIENTS)
        self.token_lifetime: float = 3600
        self.auto_approve_device_codes = False
        self.device_interval = 1
        self.base = "https://login.fake.test"  # scheme and host the discovery document names
        self.resource = "http://127.0.0.1"
        self._lock = threading.Lock()
        self._tokens: dict[str, _Issued] = {}
        self._refresh: dict[str, tuple[str, str]] = {}
        self._devices: dict[str, DeviceCode] = {}

    # -- Python API ---------------------------------------------------------------------

    def issue_token(self, subject: str) -> str:
        """A new access token for a user (or app) that the Web API accepts."""
        now = self.clock()
        payload = {
            "aud": self.resource, "iss": f"{self.base}/{self.tenant_id}/v2.0",
            "iat": int(now), "nbf": int(now), "exp": int(now + self.token_lifetime),
            "tid": self.tenant_id, "oid": self.user_id(subject), "upn": subject,
        }
        token = f"{_b64({'typ': 'JWT', 'alg': 'none'})}.{_b64(payload)}." \
                f"{secrets.token_urlsafe(24)}"
        with self._lock:
            self._tokens[token] = _Issued(subject, now)
        return token

    def validate(self, token: str) -> str | None:
        """The subject of a valid, unexpired access token, else None."""
        with self._lock:
            issued = self._tokens.get(token)
        if issued is None or self.clock() >= issued.issued_at + self.token_lifetime:
            return None
        return issued.subject

    def revoke_all(self) -> None:
        """Invalidate every access and refresh token."""
        with self._lock:
            self._tokens.clear()
            self._refresh.clear()

    def approve_device_code(self, user_code: str, username: str | None = None) -> None:
        """Complete a pending device login as a user (KeyError if the code is unknown)."""
        username = username or next(iter(self.users))
        with self._lock:
            for device in self._devices.values():
                if device.user_code == user_code:
                    device.approved_user = username
                    return
        raise KeyError(user_code)

    def pending_device_codes(self) -> list[str]:
        """User codes of device logins waiting for approval."""
        with self._lock:
            return [d.user_code for d in self._devices.values() if d.approved_user is None]

    def user_id(self, subject: str) -> str:
        """A stable object id for a user or app."""
        return str(uuid.uuid5(uuid.NAMESPACE_URL, f"l2tui-emulator/user/{subject.lower()}"))

    # -- HTTP -----------------------------------------------------------------------------

    def handles(self, path: str) -> bool:
        """Whether a path belongs to the identity provider."""
        return any(r.match(path) for r in (_DISCOVERY_RE, _TOKEN_RE, _DEVICE_RE, _USERREALM_RE))

    def handle(self, req: Request) -> Response:
        """Answer an identity-provider request."""
        if m := _DISCOVERY_RE.match(req.path):
            return self._discovery(m.group(1))
        if m := _USERREALM_RE.match(req.path):
            user = m.group(1)
            return _json(200, {
                "ver": "1.0", "account_type": "Managed",
                "domain_name": user.rsplit("@", 1)[-1], "cloud_instance_name": "fake.test",
                "cloud_audience_urn": "urn:federation:MicrosoftOnline",
            })
        if req.method != "POST":
            return _oauth_error(405, "invalid_request", "AADSTS900561: The endpoint only accepts "
                                "POST requests.")
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8")).items()}
        self._basic_auth(req, form)
        if _DEVICE_RE.match(req.path):
            return self._device_code(form)
        return self._token(form)

    def _discovery(self, tenant: str) -> Response:
        if _GUID_RE.match(tenant) and tenant.lower() != self.tenant_id.lower():
            # another tenant id (a mistyped TenantId): as Entra answers a tenant it has not
            return _oauth_error(400, "invalid_tenant", f"AADSTS90002: Tenant '{tenant}' not "
                                "found. Check to make sure you have the correct tenant ID and "
                                "are signing into the correct cloud.")
        root = f"{self.base}/{tenant}"
        v2 = "" if tenant == "adfs" else "/v2.0"
        return _json(200, {
            "issuer": f"{self.base}/{self.tenant_id}{v2}",
            "authorization_endpoint": f"{root}/oauth2{v2}/authorize",
            "token_endpoint": f"{root}/oauth2/v2.0/token",
            "device_authorization_endpoint": f"{root}/oauth2/v2.0/devicecode",
            "end_session_endpoint": f"{root}/oauth2{v2}/logout",
            "jwks_uri": f"{root}/discovery{v2}/keys",
            "response_types_supported": ["code", "id_token", "code id_token", "token id_token"],
            "response_modes_supported": ["query", "fragment", "form_post"],
            "subject_types_supported": ["pairwise"],
            "id_token_signing_alg_values_supported": ["RS256"],
            "scopes_supported": ["openid", "profile", "email", "offline_access"],
            "grant_types_supported": ["authorization_code", "refresh_token", "password",
                                      "client_credentials", DEVICE_GRANT],
            "tenant_region_scope": None,
            "cloud_instance_name": "fake.test",
        })

    @staticmethod
    def _basic_auth(req: Request, form: dict[str, str]) -> None:
        header = req.headers.get("Authorization") or ""
        if header.lower().startswith("basic "):
            try:
                user, _, secret = base64.b64decode(header[6:]).decode().partition(":")
            except ValueError:
                return
            form.setdefault("client_id", user)
            form.setdefault("client_secret", secret)

    def _client_ok(self, form: dict[str, str], required: bool) -> bool:
        client_id = form.get("client_id", "")
        if "client_assertion" in form:
            return client_id in self.clients
        if "client_secret" in form:
            return self.clients.get(client_id) == form["client_secret"]
        return not required

    def _device_code(self, form: dict[str, str]) -> Response:
        code = DeviceCode(
            device_code=secrets.token_urlsafe(32),
            user_code="".join(secrets.choice("ABCDEFGHJKLMNPQRSTUVWXYZ23456789") for _ in range(9)),
            client_id=form.get("client_id", ""),
            scope=form.get("scope", ""),
            expires_at=self.clock() + 900,
        )
        with self._lock:
            self._devices[code.device_code] = code
        uri = f"{self.base}/devicelogin"
        return _json(200, {
            "device_code": code.device_code, "user_code": code.user_code,
            "verification_uri": uri, "expires_in": 900, "interval": self.device_interval,
            "message": f"To sign in, use a web browser to open the page {uri} and enter the "
                       f"code {code.user_code} to authenticate.",
        })

    def _token(self, form: dict[str, str]) -> Response:
        grant = form.get("grant_type", "")
        client_id = form.get("client_id", "")
        scope = form.get("scope", "")
        if grant == "client_credentials":
            if not self._client_ok(form, required=True):
                return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client "
                                    "secret provided.")
            return self._tokens_for(client_id, client_id, scope, user=False)
        if not self._client_ok(form, required=False):
            return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret "
                                "provided.")
        if grant == "password":
            username, password = form.get("username", ""), form.get("password", "")
            user = next((u for u in self.users if u.lower() == username.lower()), None)
            if user is None or self.users[user] != password:
                return _oauth_error(400, "invalid_grant", "AADSTS50126: Error validating "
                                    "credentials due to invalid username or password.")
            return self._tokens_for(user, client_id, scope, user=True)
        if grant == DEVICE_GRANT:
            return self._device_token(form.get("device_code", ""), client_id)
        if grant == "refresh_token":
            with self._lock:
                found = self._refresh.get(form.get("refresh_token", ""))
            if found is None or found[1] != client_id:
                return _oauth_error(400, "invalid_grant", "AADSTS700082: The refresh token has "
                                    "expired or is invalid.")
            return self._tokens_for(found[0], client_id, scope, user=True)
        return _oauth_error(400, "unsupported_grant_type", f"AADSTS70003: The grant type "
                            f"'{grant}' is not supported by the emulator.")

    def _device_token(self, device_code: str, client_id: str) -> Response:
        with self._lock:
            device = self._devices.get(device_code)
            if device is not None and device.approved_user is None and \
                    self.auto_approve_device_codes:
                device.approved_user = next(iter(self.users))
        if device is None or device.client_id != client_id:
            return _oauth_error(400, "invalid_grant", "AADSTS70000: The device code is not "
                                "valid.")
        if self.clock() > device.expires_at:
            return _oauth_error(400, "expired_token", "AADSTS70020: The provided value for the "
                                "input parameter 'device_code' is not valid. This device code "
                                "has expired.")
        if device.approved_user is None:
            return _oauth_error(400, "authorization_pending", "AADSTS70016: OAuth 2.0 device "
                                "flow error. Authorization is pending. Continue polling.")
        with self._lock:
            self._devices.pop(device_code, None)
        return self._tokens_for(device.approved_user, client_id, device.scope, user=True)

    def _tokens_for(self, subject: str, client_id: str, scope: str, user: bool) -> Response:
        scopes = [s for s in scope.split() if s not in USER_SCOPES]
        body: dict[str, Any] = {
            "token_type": "Bearer",
            "scope": " ".join(scopes),
            "expires_in": int(self.token_lifetime),
            "ext_expires_in": int(self.token_lifetime),
            "access_token": self.issue_token(subject),
        }
        if user:
            uid = self.user_id(subject)
            refresh = secrets.token_urlsafe(32)
            with self._lock:
                self._refresh[refresh] = (subject, client_id)
            now = int(self.clock())
            body["refresh_token"] = refresh
            body["client_info"] = _b64({"uid": uid, "utid": self.tenant_id})
            body["id_token"] = _b64({"typ": "JWT", "alg": "none"}) + "." + _b64({
                "aud": client_id, "iss": f"{self.base}/{self.tenant_id}/v2.0",
                "iat": now, "nbf": now, "exp": now + 3600, "oid": uid, "sub": uid,
                "tid": self.tenant_id, "preferred_username": subject,
                "name": subject.split("@")[0].title(), "ver": "2.0",
            }) + "."
        return _json(200, body)


def _json(status: int, payload: dict[str, Any]) -> Response:
    return Response(status, [("Content-Type", "application/json; charset=utf-8"),
                             ("Cache-Control", "no-store")], json.dumps(payload).encode())


def _oauth_error(status: int, error: str, description: str) -> Response:
    return _json(status, {
        "error": error, "error_description": description,
        "error_codes": [int(description[6:description.index(":")])]
        if description.startswith("AADSTS") else [],
        "timestamp": time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime()),
        "trace_id": str(uuid.uuid4()), "correlation_id": str(uuid.uuid4()),
    })
