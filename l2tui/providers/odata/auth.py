"""Sign-in: MSAL flows (password, device code, client secret, certificate), basic and bearer.

The MSAL token cache is kept at ``context.token_cache_path`` (written atomically, mode 0600), so
later runs sign in silently. ``L2TUI_AUTHORITY_REWRITE=https://login.fake.test=http://127.0.0.1:PORT``
(a testing/emulator aid) sends MSAL's https sign-in requests to a local fake identity provider.
"""

from __future__ import annotations

import base64
import contextlib
import copy
import json
import logging
import os
import re
import threading
import time
import warnings
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import requests

from l2tui.config.files import keep_private, open_unfollowed, write_atomically
from l2tui.config.urls import url_host
from l2tui.errors import ConfigError, ConnectError
from l2tui.providers.base import ProviderContext
from l2tui.providers.odata import connstr as cs
from l2tui.providers.odata.connstr import ODataSettings

REWRITE_ENV = "L2TUI_AUTHORITY_REWRITE"
MICROSOFT_HOSTS = (
    "login.microsoftonline.com",
    "login.microsoftonline.us",
    "login.microsoftonline.de",
    "login.chinacloudapi.cn",
    "login.partner.microsoftonline.cn",
    "login.windows.net",
    "login.microsoft.com",
    "sts.windows.net",
)
# MSAL logs what it meets (a token answer that is no JSON: with a traceback and the answer's
# text) through the logging module, which l2tui does not set up: Python's last-resort handler
# would print it on stderr, under the one line the failure is told in
logging.getLogger("msal").addHandler(logging.NullHandler())

NOT_JSON = "its answer was not JSON (a proxy's page in place of it?)"

EXPIRY_MARGIN = 60.0  # renew this long before expiry (a tenth of the lifetime, if shorter)
Timeout = float | tuple[float, float]  # (requests': one for all, or to connect and to answer)


def request_timeout(timeout: float, options: dict[str, Any]) -> Timeout:
    """Each request's timeout: the connection's Timeout, or where the caller gives a
    ``connect_timeout`` (a person waiting on Verify) that one to connect, Timeout to answer."""
    connect = options.get("connect_timeout")
    return timeout if connect is None else (min(float(connect), timeout), timeout)


class VerifyingSession(requests.Session):
    """A session that passes ``verify`` on every request (REQUESTS_CA_BUNDLE would override it)
    and, unless the caller gives one, ``timeout``: MSAL sets none, so an identity provider that
    took a connection and never answered held a run (and verify) for good."""

    def __init__(self, verify: bool | str = True, timeout: Timeout | None = None) -> None:
        super().__init__()
        self.verify_setting = verify
        self.timeout = timeout
        # no retry of its own (MSAL's session has one): RetryingClient tries again, after a
        # back-off; a timeout tried again here too held each of its tries twice the Timeout
        adapter = requests.adapters.HTTPAdapter(max_retries=0)
        self.mount("http://", adapter)
        self.mount("https://", adapter)

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Send with the configured ``verify`` and ``timeout`` unless the caller gives them."""
        if kwargs.get("verify") is None:
            kwargs["verify"] = self.verify_setting
        if kwargs.get("timeout") is None:
            kwargs["timeout"] = self.timeout
        return super().request(method, url, *args, **kwargs)


class RewritingSession(VerifyingSession):
    """A session that sends requests for one URL prefix to another (e.g. a local fake IdP)."""

    def __init__(self, source: str, target: str, verify: bool | str = True,
                 timeout: Timeout | None = None) -> None:
        super().__init__(verify, timeout)
        self.source = source.rstrip("/")
        self.target = target.rstrip("/")

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:  # type: ignore[override]
        """Rewrite the URL when it starts with the source prefix, then send."""
        text = url.decode() if isinstance(url, bytes) else url
        if text.startswith(self.source):
            text = self.target + text[len(self.source):]
        return super().request(method, text, *args, **kwargs)


def after_tries(text: str, tries: int) -> str:
    """A failure's text with how often the request was tried, when more than once: "… (gave
    up after 6 tries)" (a sign-in's, and a service request's in ``http.HttpClient``)."""
    return f"{text} (gave up after {tries} tries)" if tries > 1 else text


class GaveUp(requests.ConnectionError):
    """A request, a sign-in's or a service's (``http.Retrier``), whose connection failed each
    time it was tried (timed out, dropped), or was refused before any answer (``refused``:
    nothing listens, not tried again): its reason, and how many tries. A RequestException, as
    MSAL expects a network failure (a token still valid is then taken from its cache)."""

    def __init__(self, reason: str, tries: int, refused: bool = False) -> None:
        super().__init__(reason if refused else after_tries(reason, tries))
        self.reason = reason
        self.tries = tries
        self.refused = refused


class SignInServerError(GaveUp):
    """A sign-in request the identity provider answered 429 or 5xx each time it was tried: said
    so in words, not as MSAL's "HTTP Error: 503" (its only word for it), nor as its answer that
    was no JSON (a gateway's page, an empty body)."""

    def __init__(self, response: Any, tries: int) -> None:
        super().__init__(_answered(int(response.status_code), getattr(response, "reason", "")),
                         tries)


def _phrase(status: int) -> str:
    """The standard reason phrase of an HTTP status ("" for one not known)."""
    try:
        return HTTPStatus(status).phrase
    except ValueError:
        return ""


class RetryingClient:
    """MSAL's ``http_client``: sends through ``session``, trying a sign-in request (discovery,
    user realm, token) again as the service's requests are, by the same ``http.Retrier`` (its
    ``RetryPolicy`` from the context's options): a 429 after its Retry-After, a 5xx, a timeout
    or a dropped connection after a back-off, each wait logged. The run's stop ends at once a
    wait for an answer or to try again (StopAsked). The last answer is MSAL's, told as before;
    a 400 or 401 (a wrong password or secret) is not tried again. A 429 or 5xx still answered
    after the retries is SignInServerError, a connection that failed each try (or refused
    before any answer) GaveUp."""

    def __init__(self, session: Any, context: ProviderContext, timeout: Timeout | None = None) -> None:
        # (http imports this module: its retry loop is imported when a client is made)
        from l2tui.providers.odata.http import Retrier, RetryPolicy, sleep_until

        self.session = session
        self.timeout = timeout  # each try's, unless MSAL gives one (it gives none)
        self.policy = RetryPolicy.from_options(context.options)
        self.stop = context.stop
        self.retrier = Retrier(context.log, sleep_until(context.stop)
                               if context.stop is not None else time.sleep)

    def get(self, url: str, **kwargs: Any) -> Any:
        """GET, retrying transient failures."""
        return self._send(self.session.get, url, **kwargs)

    def post(self, url: str, **kwargs: Any) -> Any:
        """POST, retrying transient failures."""
        return self._send(self.session.post, url, **kwargs)

    def close(self) -> None:
        """Close the session's connections."""
        self.session.close()

    def _send(self, send: Any, url: str, **kwargs: Any) -> Any:
        from l2tui.providers.odata.http import StopAsked

        if self.stop is not None and self.stop.is_set():  # (no sign-in begun for a stopping run)
            raise StopAsked()
        if kwargs.get("timeout") is None and self.timeout is not None:
            kwargs["timeout"] = self.timeout
        response, tries = self.retrier.send(
            url, self.policy, lambda: lambda: self._answer(send, url, **kwargs))
        if response.status_code == 429 or response.status_code >= 500:
            raise SignInServerError(response, tries)  # (its page no answer MSAL can read)
        return response

    def _answer(self, send: Any, url: str, **kwargs: Any) -> Any:
        """One try's answer; with a stop, waited for in a thread of its own so that the stop
        ends the wait (an identity provider slow to answer holds it up to Timeout each try)."""
        if self.stop is None:
            return send(url, **kwargs)
        from l2tui.providers.odata.http import in_thread

        return in_thread(lambda: send(url, **kwargs), self.stop, "l2tui-sign-in").result()


def rewriting_session_from_env(verify: bool | str = True,
                               timeout: Timeout | None = None) -> RewritingSession | None:
    """The session ``L2TUI_AUTHORITY_REWRITE=<https prefix>=<target prefix>`` asks for, if set."""
    value = os.environ.get(REWRITE_ENV, "").strip()
    if not value:
        return None
    match = re.match(r"^(https://[^=]+)=(https?://.+)$", value)
    if not match:
        raise ConnectError(f"{REWRITE_ENV} must look like https://login.fake.test=http://127.0.0.1:PORT")
    return RewritingSession(match.group(1), match.group(2), verify, timeout)


class Authenticator:
    """Adds credentials to requests; ``refresh`` renews them after a 401."""

    account = "anonymous"
    refresh_failure = ""  # why the last renewal failed (one line), for the 401 that follows
    from_cache = False  # the last sign-in used the token cache: no password, no prompt

    def headers(self) -> dict[str, str]:
        """Authorization headers for the next request."""
        return {}

    def refresh(self, stale: dict[str, str]) -> bool:
        """Renew credentials the service refused (sent as ``stale``); False when it cannot."""
        return False

    def secrets(self) -> list[str]:
        """Every secret this authenticator knows, so messages can be scrubbed of them."""
        return []

    def check(self) -> None:
        """For verify: put the configured credential itself to the test (ConnectError if not)."""


class BasicAuthenticator(Authenticator):
    """HTTP basic authentication with User and the password."""

    def __init__(self, user: str, password: str) -> None:
        self.account = user
        self._value = "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()
        self._password = password

    def headers(self) -> dict[str, str]:
        """The basic Authorization header."""
        return {"Authorization": self._value}

    def secrets(self) -> list[str]:
        """The password and its encoded header."""
        return [self._password, self._value.split(" ", 1)[1]]


class BearerAuthenticator(Authenticator):
    """A bearer token given in the connection string or by the secret resolver."""

    account = "a bearer token"

    def __init__(self, token: str) -> None:
        self._token = token

    def headers(self) -> dict[str, str]:
        """The bearer Authorization header."""
        return {"Authorization": f"Bearer {self._token}"}

    def secrets(self) -> list[str]:
        """The token."""
        return [self._token]


class MsalAuthenticator(Authenticator):
    """Signs in with MSAL, silently from the token cache when it can."""

    def __init__(self, settings: ODataSettings, context: ProviderContext) -> None:
        self.settings = settings
        self.context = context
        self.account = settings.user or (f"app {settings.client_id}" if settings.confidential else "")
        self._lock = threading.RLock()
        self._app: Any = None
        self._cache: Any = None
        self._token: str | None = None
        self._expires_at = 0.0
        self._known_secrets: list[str] = []
        self._signed_in_as: str | None = None  # the account the log said it signed in as
        self._attempts = 0  # sign-ins begun by headers(), and how the last one failed
        self._failure: ConnectError | None = None
        # why the last password or device-code sign-in failed: requests that waited on it fail
        # alike, without a new code for a person to enter (another 15 minutes) or a password
        # the identity provider refused tried again
        self._interactive_failure: str | None = None

    # -- public ---------------------------------------------------------------------------------

    def headers(self) -> dict[str, str]:
        """A bearer header with a token valid for at least a minute more. A sign-in that failed
        while this request waited for it fails it alike: the requests of a describe, sent at
        once, would otherwise each begin a sign-in (its retries, minutes of timeouts) anew."""
        seen = self._attempts
        with self._lock:
            if self._token is None or time.time() >= self._expires_at:
                if self._attempts != seen and self._failure is not None:
                    raise copy.copy(self._failure)
                try:
                    self._acquire(force_refresh=False)
                except ConnectError as exc:
                    self._failure = exc
                    raise
                else:
                    self._failure = None
                finally:
                    self._attempts += 1
            return {"Authorization": f"Bearer {self._token}"}

    def refresh(self, stale: dict[str, str]) -> bool:
        """Get a new token unless another thread already did; False when sign-in fails."""
        with self._lock:
            if self._token and stale.get("Authorization") != f"Bearer {self._token}":
                return True
            try:  # no new device-code prompt mid-run: that would stall an unattended run
                self._acquire(force_refresh=True, prompt=self.settings.method != cs.DEVICE_CODE)
            except ConnectError as exc:
                self.context.log(f"token refresh failed: {exc}")
                self.refresh_failure = str(exc)
                return False
            self.refresh_failure = ""
            return True

    def secrets(self) -> list[str]:
        """Password, client secret and every token seen."""
        return [s for s in self._known_secrets if s]

    def check(self) -> None:
        """An app signs in afresh: its token cached by an earlier run would otherwise pass a
        wrong or rotated client secret (a user's silent sign-in says "from the token cache")."""
        if self.settings.confidential:
            with self._lock:
                self._acquire(force_refresh=True)

    # -- acquiring --------------------------------------------------------------------------------

    def _acquire(self, force_refresh: bool, prompt: bool = True) -> None:
        app = self._application()
        try:
            result = self._silent(app, force_refresh)
            self.from_cache = bool(result and "access_token" in result) and \
                not self.settings.confidential
            # an app (client secret, certificate) has no other way in: its failure, as the
            # identity provider told it (AADSTS7000215: Invalid client secret …), is the one
            if (not result or "access_token" not in result) and prompt and \
                    not self.settings.confidential:
                if self._interactive_failure is not None:
                    raise ConnectError(self._interactive_failure)
                result = self._interactive(app)
                if "access_token" not in result:
                    self._interactive_failure = self._sign_in_failure(result)
            result = result or {"error": "not_signed_in", "error_description": "sign in again"}
        except ConnectError:
            raise
        except Exception as exc:  # MSAL, requests, jwt, cryptography: one line, no traceback
            host = url_host(self.settings.effective_authority)
            reason = NOT_JSON if isinstance(exc, json.JSONDecodeError) else short_reason(exc)
            raise ConnectError(f"sign-in at {host} failed: {reason}") from None
        finally:
            self._save_cache()
        if "access_token" not in result:
            raise ConnectError(self._sign_in_failure(result))
        self._token = result["access_token"]
        self._known_secrets += [result["access_token"], result.get("refresh_token", "")]
        lifetime = float(result.get("expires_in", 600))
        self._expires_at = time.time() + lifetime - min(EXPIRY_MARGIN, lifetime / 10)
        claims = result.get("id_token_claims") or {}
        name = claims.get("preferred_username") or claims.get("upn")
        if name and not self.settings.confidential:
            self.account = name
        if self._signed_in_as != self.account:  # once: a renewal (short-lived tokens renew
            self._signed_in_as = self.account  # many times a run) goes unsaid
            source = "cache" if result.get("token_source") == "cache" else "identity provider"
            self.context.log(f"signed in to {self.settings.host} as {self.account} ({source})")

    def _silent(self, app: Any, force_refresh: bool) -> dict[str, Any] | None:
        scopes = self.settings.scopes
        if self.settings.confidential:
            if force_refresh:
                self._forget_access_tokens()
            return app.acquire_token_for_client(scopes)  # type: ignore[no-any-return]
        accounts = app.get_accounts(username=self.settings.user) if self.settings.user else []
        if not accounts and not self.settings.user:
            accounts = app.get_accounts()
        for account in accounts[:1]:
            result = app.acquire_token_silent(scopes, account=account, force_refresh=force_refresh)
            if result and "access_token" in result:
                self.account = account.get("username") or self.account
                return result  # type: ignore[no-any-return]
        return None

    def _interactive(self, app: Any) -> dict[str, Any]:
        scopes = self.settings.scopes
        method = self.settings.method
        if method == cs.PASSWORD:
            password = self.settings.password or self.context.secret()
            if not password:
                raise ConnectError(_missing(f"no password for {self.settings.user}", self.context))
            self._known_secrets.append(password)
            with warnings.catch_warnings():
                warnings.simplefilter("ignore", DeprecationWarning)
                return app.acquire_token_by_username_password(  # type: ignore[no-any-return]
                    self.settings.user, password, scopes=scopes
                )
        if method == cs.DEVICE_CODE:
            if self.context.device_code is None:  # (cron, systemd: nobody to enter a code)
                raise ConnectError(self._unattended())
            stop = self.context.stop
            stopped = "stopped while waiting for the device-code sign-in: the run was asked to stop"
            if stop is not None and stop.is_set():  # (no new code for a request that waited)
                raise ConnectError(stopped)
            flow = app.initiate_device_flow(scopes=scopes)
            if "user_code" not in flow:
                return flow  # type: ignore[no-any-return]
            self.context.device_code(flow)
            # MSAL polls until the code expires (15 minutes), asking the condition each second
            result = app.acquire_token_by_device_flow(flow, exit_condition=lambda f: bool(
                (stop is not None and stop.is_set()) or f.get("expires_at", 0) < time.time()))
            if stop is not None and stop.is_set() and "access_token" not in result:
                raise ConnectError(stopped)
            return result  # type: ignore[no-any-return]
        return {"error": "not_signed_in", "error_description": "the app could not get a token"}

    def _unattended(self) -> str:
        """Why a device-code sign-in is not started where no person would see its code."""
        who = f" for {self.settings.user}" if self.settings.user else ""
        where = f" ({self.context.sign_in_hint})" if self.context.sign_in_hint else ""
        return (f"no sign-in{who} in the token cache, and a device-code sign-in needs a person "
                f"to enter its code: sign in once on a terminal{where}; later runs renew the "
                "token silently")

    def _sign_in_failure(self, result: dict[str, Any]) -> str:
        text = str(result.get("error_description") or result.get("error") or "no token returned")
        first = text.strip().splitlines()[0] if text.strip() else "no token returned"
        host = url_host(self.settings.effective_authority)
        who = f" as {self.settings.user}" if self.settings.user else ""
        return f"sign-in{who} at {host} failed: {first}"

    # -- MSAL application and cache ----------------------------------------------------------

    def _application(self) -> Any:
        if self._app is not None:
            return self._app
        import msal

        self._cache = msal.SerializableTokenCache()
        path = self._cache_path()
        if path is not None and path.exists():
            try:
                text = _read_cache(path)
                _check_cache_shape(text)
                self._cache.deserialize(text)
            except (OSError, ValueError) as exc:
                self.context.log(f"token cache {path} unreadable ({type(exc).__name__}); starting afresh")
        authority = self.settings.effective_authority
        kwargs: dict[str, Any] = {"authority": authority, "token_cache": self._cache}
        http_client = self._http_client()
        if http_client is not None:
            kwargs["http_client"] = RetryingClient(http_client, self.context, self._timeout())
        if urlsplit(authority).hostname not in MICROSOFT_HOSTS:
            kwargs["instance_discovery"] = False
        try:
            if self.settings.confidential:
                credential = self._client_credential()
                self._app = msal.ConfidentialClientApplication(
                    self.settings.client_id, client_credential=credential, **kwargs
                )
            else:
                self._app = msal.PublicClientApplication(self.settings.client_id, **kwargs)
        except (ValueError, TypeError, KeyError, RuntimeError, requests.RequestException,
                msal.exceptions.MsalServiceError) as exc:  # (the last: MSAL's word for a 5xx)
            where = urlsplit(authority)
            # a reserved test name (the emulator's login.fake.test) reaches nothing by itself
            hint = (" (a test authority: set L2TUI_AUTHORITY_REWRITE as `l2tui emulator` "
                    "prints)") if (where.hostname or "").endswith(".test") and \
                isinstance(exc, requests.RequestException) and \
                not isinstance(exc, SignInServerError) else ""
            if isinstance(http_client, RewritingSession) and \
                    authority.startswith(http_client.source):  # (set, and pointing elsewhere)
                hint = f" (sent to {url_host(http_client.target)} by {REWRITE_ENV})"
            if isinstance(exc, requests.exceptions.SSLError):
                hint = "; give CABundle=<file> to trust a private CA"
            raise ConnectError(
                f"cannot use the sign-in authority {url_host(authority)}: "
                f"{_discovery_refusal(exc) or short_reason(exc)}{hint}"
            ) from None
        return self._app

    def _http_client(self) -> requests.Session | None:
        injected = self.context.options.get("msal_http_client")
        if injected is not None:
            return injected  # type: ignore[no-any-return]
        verify: bool | str = self.settings.ca_bundle or True
        rewriting = rewriting_session_from_env(verify, self._timeout())
        if rewriting is not None:
            return rewriting
        return VerifyingSession(verify, self._timeout())

    def _timeout(self) -> Timeout:
        """Each sign-in request's timeout (``request_timeout``)."""
        return request_timeout(self.settings.timeout, self.context.options)

    def _client_credential(self) -> Any:
        secret = self.settings.client_secret or self.context.secret()
        if self.settings.method == cs.CLIENT_SECRET:
            if not secret:
                raise ConnectError(_missing(f"no client secret for app {self.settings.client_id}",
                                            self.context))
            self._known_secrets.append(secret)
            return secret
        path = Path(self.settings.certificate_path or "")
        if secret:
            self._known_secrets.append(secret)
        if path.suffix.lower() in (".pfx", ".p12"):
            return {"private_key_pfx_path": str(path), "passphrase": secret}
        try:
            pem = path.read_text(encoding="utf-8")
        except OSError as exc:
            raise ConnectError(f"cannot read certificate {path}: {exc.strerror}") from None
        credential: dict[str, Any] = {"private_key": pem}
        certificate = re.search(r"-----BEGIN CERTIFICATE-----.+?-----END CERTIFICATE-----", pem, re.S)
        if certificate:
            credential["public_certificate"] = certificate.group(0)
        if self.settings.thumbprint:
            credential["thumbprint"] = self.settings.thumbprint
        if secret and "ENCRYPTED" in pem:
            credential["passphrase"] = secret
        return credential

    def _forget_access_tokens(self) -> None:
        """Drop cached access tokens so a client-credentials call fetches a new one."""
        cache = self._cache
        for item in list(cache.search(cache.CredentialType.ACCESS_TOKEN)):
            if item.get("client_id") == self.settings.client_id:
                cache.remove_at(item)

    def _cache_path(self) -> Path | None:
        path = self.context.token_cache_path
        return Path(path) if path else None

    def _save_cache(self) -> None:
        path = self._cache_path()
        if path is None or self._cache is None or not self._cache.has_state_changed:
            return
        try:
            write_atomically(path, self._cache.serialize())
        except OSError as exc:  # (a folder in its place, or a file in its folder's): setup
            raise ConfigError(f"the token cache cannot be written: {exc.strerror or exc} "
                              "(choose another data folder with $L2TUI_DATA_DIR)",
                              file=str(path)) from None  # (the file it is about)
        self._cache.has_state_changed = False


def _read_cache(path: Path) -> str:
    """The token cache's text, never read through a symbolic link (an OSError: the cache then
    starts afresh, and its save replaces the link). A cache readable by others (restored from a
    backup, copied) is made 0600: a run that signs in silently from it never rewrites it."""
    with os.fdopen(open_unfollowed(path, os.O_RDONLY), encoding="utf-8") as handle:
        with contextlib.suppress(OSError):  # (a file of another user's: read all the same)
            keep_private(handle.fileno())
        return handle.read()


def _check_cache_shape(text: str) -> None:
    """ValueError unless ``text`` is MSAL's token cache shape: sections of entries, all objects.

    Valid JSON of another shape (``[]``, a section that is a list) would otherwise fail later,
    inside MSAL, as "'list' object has no attribute 'get'" on every sign-in.
    """
    data = json.loads(text) if text.strip() else {}
    if not isinstance(data, dict) or not all(
        isinstance(section, dict) and all(isinstance(entry, dict) for entry in section.values())
        for section in data.values()
    ):
        raise ValueError("not a token cache")


def short_reason(exc: BaseException) -> str:
    """A short, URL-free reason for a connection failure."""
    text = str(exc)
    if isinstance(exc, GaveUp):  # (its reason already made short)
        return text
    answered = re.fullmatch(r"HTTP Error: (\d+)", text.strip())
    if answered:  # (MSAL's only word for an answer it takes as an error: a user realm's 403)
        return _answered(int(answered.group(1)))
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip()
    if isinstance(exc, requests.exceptions.SSLError):  # (a ConnectionError: test it first)
        return "certificate verify failed" if "CERTIFICATE_VERIFY_FAILED" in text else "TLS failed"
    if isinstance(exc, requests.ConnectTimeout):  # (no answer to the connection itself)
        return "timed out connecting (is the host reachable from here?)"
    if isinstance(exc, requests.Timeout) or "timed out" in text:  # (a timeout retried, too)
        return "timed out"
    if isinstance(exc, requests.exceptions.ChunkedEncodingError):
        return "connection dropped mid-response"
    if isinstance(exc, requests.ConnectionError):
        return "connection failed"
    return text.splitlines()[0][:200] if text else type(exc).__name__


def _discovery_refusal(exc: BaseException) -> str:
    """What the identity provider said when it refused the authority's configuration (an
    unknown tenant: "AADSTS90002: Tenant '…' not found. …"), else its status (a web server
    that is no identity provider: 404), or that its answer was no JSON, else ""; MSAL's own
    message says only that the authority "would typically be in a format of …"."""
    cause = exc.__context__
    odd = re.match(r"Unable to complete OIDC Discovery: (\d+),", str(exc))
    if isinstance(exc, RuntimeError) and odd:  # (a status neither 200 nor an error: 302, 204)
        return _answered(int(odd.group(1))) + " for its OpenID configuration"
    if isinstance(exc, KeyError):  # (a configuration without its token or sign-in endpoint)
        return f"its OpenID configuration names no {exc.args[0] if exc.args else 'endpoint'}"
    if not isinstance(exc, ValueError) or not isinstance(cause, ValueError):
        return ""
    if isinstance(cause, json.JSONDecodeError):
        return NOT_JSON
    head, found, body = str(cause).partition(", Error: ")
    try:
        answer = json.loads(body) if found else None
    except ValueError:
        answer = None
    said = answer.get("error_description") if isinstance(answer, dict) else None
    if isinstance(said, str) and said.strip():
        return said.strip().splitlines()[0][:300]
    status = re.search(r"HTTP status: (\d+)$", head)
    return _answered(int(status.group(1))) + " for its OpenID configuration" if status else ""


def _answered(status: int, reason: str | None = "") -> str:
    """An identity provider's answer by its status, for a message (its ``reason`` phrase, else
    the standard one)."""
    return f"the identity provider answered {status} {reason or _phrase(status)}".rstrip()


def _missing(what: str, context: ProviderContext) -> str:
    """A missing secret's message, saying how to give one when the context knows."""
    hint = context.secret_hint()
    return f"{what}: {hint}" if hint else what


def make_authenticator(settings: ODataSettings, context: ProviderContext) -> Authenticator:
    """The authenticator the settings' sign-in method needs."""
    if settings.uses_msal:
        return MsalAuthenticator(settings, context)
    if settings.method == cs.BASIC:
        password = settings.password or context.secret()
        if not password:
            raise ConnectError(_missing(f"no password for {settings.user}", context))
        return BasicAuthenticator(settings.user or "", password)
    if settings.method == cs.BEARER:
        token = settings.token or context.secret()
        if not token:
            raise ConnectError("Authentication=bearer needs a token (Token= or the secret store)")
        return BearerAuthenticator(token)
    return Authenticator()
