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
from urllib.parse import parse_qs, urlsplit

from .http_types import Request, Response

DEFAULT_USERS = {"alice@contoso.com": "Passw0rd!"}
DEFAULT_CLIENTS = {"l2tui-emulator-app": "emulator-secret"}
# app (client) ids registered for user sign-in (password, device code): Microsoft's public
# development client, l2tui's default ClientId; the confidential clients may sign users in too
DEFAULT_PUBLIC_CLIENTS = ("51f81489-12ee-4a9e-aaae-a2591f45987d",)
PERMISSIONS = (".default", "user_impersonation")  # what a scope may ask of the resource
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
        self.public_clients: set[str] = set(DEFAULT_PUBLIC_CLIENTS)
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
        form = {k: v[-1] for k, v in parse_qs(req.body.decode("utf-8", "replace")).items()}
        self._basic_auth(req, form)
        device = bool(_DEVICE_RE.match(req.path))
        refused = self._refusal(form, device)
        if refused is not None:
            return refused
        return self._device_code(form) if device else self._token(form)

    def unavailable(self, status: int, retry_after: int = 1, detail: str = "") -> Response:
        """A failure (injected, or an emulator bug: ``detail``) as Entra answers one: a 429
        throttled with Retry-After, else a transient server error."""
        if status == 429:
            resp = _oauth_error(429, "temporarily_unavailable", "AADSTS90055: There are too "
                                "many incoming requests. Please try again later.")
            resp.headers.append(("Retry-After", str(retry_after)))
            return resp
        return _oauth_error(status, "temporarily_unavailable" if status == 503 else "server_error",
                            "AADSTS90033: A transient error has occurred. Please try again."
                            + (f" ({detail})" if detail else ""))

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

    def _refusal(self, form: dict[str, str], device: bool) -> Response | None:
        """Entra's answer to a request refused before its grant is looked at: a parameter
        missing, an app (client) id not registered, a scope not of this resource; else None."""
        grant = form.get("grant_type", "")
        needed = ["client_id", "scope"] if device else ["grant_type", "client_id", *{
            "password": ["username", "password"], DEVICE_GRANT: ["device_code"],
            "refresh_token": ["refresh_token"], "client_credentials": ["scope"],
        }.get(grant, [])]
        for name in needed:
            if not form.get(name):
                return _oauth_error(400, "invalid_request", "AADSTS900144: The request body "
                                    f"must contain the following parameter: '{name}'.")
        client_id = form["client_id"]
        if client_id not in self.clients and client_id not in self.public_clients:
            return _oauth_error(400, "unauthorized_client", f"AADSTS700016: Application with "
                                f"identifier '{client_id}' was not found in the directory "
                                f"'{self.tenant_id}'. This can happen if the application has not "
                                "been installed by the administrator of the tenant or consented "
                                "to by any user in the tenant. You may have sent your "
                                "authentication request to the wrong tenant.")
        wrong = self._wrong_scope(form.get("scope", ""), app=grant == "client_credentials")
        return _oauth_error(400, "invalid_scope", wrong) if wrong else None

    def _wrong_scope(self, scope: str, app: bool) -> str:
        """Why a scope is refused ("" if it is not): each must be this service's
        ``<resource>/.default`` (an app's) or ``/user_impersonation``, or an OpenID scope. The
        resource is matched by port: the emulator answers to 127.0.0.1, localhost, its host."""
        for item in scope.split():
            if item in USER_SCOPES:
                continue
            resource, _, permission = item.rpartition("/")
            if permission not in PERMISSIONS or not self._is_resource(resource):
                return ("AADSTS70011: The provided value for the input parameter 'scope' is "
                        f"not valid. The scope '{item}' does not exist.")
            if app and permission != ".default":
                return (f"AADSTS1002012: The provided value for scope {item} is not valid. "
                        "Client credential flows must have a scope value with /.default "
                        "suffixed to the resource identifier (application ID URI).")
        return ""

    def _is_resource(self, resource: str) -> bool:
        """Whether an http(s) URL names this service (its port; any host name)."""
        def port(url: str) -> int | None:
            parts = urlsplit(url)
            if parts.scheme not in ("http", "https") or not parts.hostname:
                return None
            return parts.port or (443 if parts.scheme == "https" else 80)

        try:
            return port(resource) is not None and port(resource) == port(self.resource)
        except ValueError:  # (a port that is no number)
            return False

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
            if "client_secret" not in form and "client_assertion" not in form:
                return _oauth_error(400, "invalid_request", "AADSTS7000216: 'client_assertion', "
                                    "'client_secret' or 'request' is required for the "
                                    "'client_credentials' grant type.")
            if not self._client_ok(form, required=True):
                return _wrong_secret(client_id)
            return self._tokens_for(client_id, client_id, scope, user=False)
        if not self._client_ok(form, required=False):
            return _wrong_secret(client_id)
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


def _wrong_secret(client_id: str) -> Response:
    """Entra's answer to a client secret that is not the app's."""
    return _oauth_error(401, "invalid_client", "AADSTS7000215: Invalid client secret provided. "
                        "Ensure the secret being sent in the request is the client secret value, "
                        "not the client secret ID, for a secret added to app "
                        f"'{client_id}'.")


def _oauth_error(status: int, error: str, description: str) -> Response:
    """An OAuth error as Microsoft Entra ID answers it (MSAL reads ``error`` and
    ``error_description``); the description ends in its trace lines, as Entra's does."""
    timestamp = time.strftime("%Y-%m-%d %H:%M:%SZ", time.gmtime())
    trace, correlation = str(uuid.uuid4()), str(uuid.uuid4())
    return _json(status, {
        "error": error,
        "error_description": f"{description}\r\nTrace ID: {trace}\r\nCorrelation ID: "
                             f"{correlation}\r\nTimestamp: {timestamp}",
        "error_codes": [int(description[6:description.index(":")])]
        if description.startswith("AADSTS") else [],
        "timestamp": timestamp, "trace_id": trace, "correlation_id": correlation,
        "error_uri": "https://login.fake.test/error?code="
                     + (description[6:description.index(":")]
                        if description.startswith("AADSTS") else ""),
    })
