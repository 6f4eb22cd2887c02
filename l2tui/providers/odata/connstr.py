"""Connection string → ODataSettings: where the service is, which entity set, how to sign in.

Three spellings are accepted (keys are case-insensitive, synonyms as declared in
``l2tui.config.specs.odata``):

* the Layer2 form ``URL=<service root>/<entity set>;Authentication=microsoft_modern_crm;User=…;``
* the Dataverse client form ``AuthType=OAuth|ClientSecret|Certificate;Url=…;Username=…;ClientId=…``
* generic OData v4 ``URL=…;Authentication=none|basic|bearer|device_code|client_secret|certificate``

``URL`` names the entity set as its last path segment. A Dataverse organization root
(``Url=https://org.crm.dynamics.com``, or ``…/api/data/v9.2``) is accepted when the entity set is
given by ``EntitySet=accounts``; the Web API path ``/api/data/v9.2/`` is added to a bare root.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from urllib.parse import urlsplit

from l2tui.config.urls import url_host, without_userinfo
from l2tui.errors import ConfigError
from l2tui.providers.odata.spec import declaration

DEFAULT_CLIENT_ID = "51f81489-12ee-4a9e-aaae-a2591f45987d"
DEFAULT_REDIRECT_URI = "app://58145B91-0C36-4500-8554-080854F2AC97"
MICROSOFT_LOGIN = "https://login.microsoftonline.com"
WEB_API_PATH = "/api/data/v9.2/"
DEFAULT_PAGE_SIZE = 5000
DEFAULT_BATCH_SIZE = 100
DEFAULT_PARALLEL = 3
MAX_PARALLEL = 52
"""Dataverse answers at most 52 requests of one user at once (its service protection limits);
each one more is a connection kept open (a million took minutes to set up)."""
DEFAULT_TIMEOUT = 120.0

# Sign-in methods after normalisation.
NONE = "none"
BASIC = "basic"
BEARER = "bearer"
PASSWORD = "password"  # MSAL username + password (ROPC): the seed's microsoft_modern_crm
DEVICE_CODE = "device_code"
CLIENT_SECRET = "client_secret"
CERTIFICATE = "certificate"
MSAL_METHODS = (PASSWORD, DEVICE_CODE, CLIENT_SECRET, CERTIFICATE)

_API_PATH = re.compile(r"/api/data/v\d+(\.\d+)*/?$", re.IGNORECASE)


@dataclass(frozen=True)
class ODataSettings:
    """Everything a connection string says, normalised."""

    service_root: str  # ends with "/"
    entity_set: str
    method: str
    user: str | None = None
    password: str | None = None
    client_id: str = DEFAULT_CLIENT_ID
    client_secret: str | None = None
    tenant: str | None = None
    authority: str | None = None
    redirect_uri: str | None = None
    thumbprint: str | None = None
    certificate_path: str | None = None
    ca_bundle: str | None = None
    token: str | None = None
    scope: str | None = None
    timeout: float = DEFAULT_TIMEOUT
    page_size: int = DEFAULT_PAGE_SIZE
    batch_size: int = DEFAULT_BATCH_SIZE
    parallel: int = DEFAULT_PARALLEL

    @property
    def entity_url(self) -> str:
        """The entity set's URL."""
        return self.service_root + self.entity_set

    @property
    def host(self) -> str:
        """Host (with a non-default port) of the service, as shown to a person."""
        return url_host(self.service_root)

    @property
    def resource(self) -> str:
        """``scheme://host[:port]``: the resource the access token is for."""
        parts = urlsplit(self.service_root)
        return f"{parts.scheme}://{parts.netloc}"

    @property
    def scopes(self) -> list[str]:
        """MSAL scopes: the ``Scope`` key, else ``<resource>/.default``."""
        return [self.scope] if self.scope else [f"{self.resource}/.default"]

    @property
    def effective_authority(self) -> str:
        """The sign-in authority: ``Authority`` key, else Microsoft's for the tenant."""
        if self.authority:
            return self.authority.rstrip("/")
        return f"{MICROSOFT_LOGIN}/{self.tenant or 'organizations'}"

    @property
    def uses_msal(self) -> bool:
        """Whether sign-in goes through MSAL."""
        return self.method in MSAL_METHODS

    @property
    def confidential(self) -> bool:
        """Whether this is a server-to-server (app) sign-in."""
        return self.method in (CLIENT_SECRET, CERTIFICATE)


def parse_settings(text: str) -> ODataSettings:
    """Parse and check an OData connection string; raise ConfigError with a one-line reason."""
    spec = declaration().SPEC
    cs = spec.parse_setting(text)
    values = spec.canonical(cs)
    service_root, entity_set = split_url(values["URL"], values.get("EntitySet"))
    method = normalise_method(values.get("Authentication"), values)
    settings = ODataSettings(
        service_root=service_root,
        entity_set=entity_set,
        method=method,
        user=values.get("User"),
        password=values.get("Password"),
        client_id=values.get("ClientId") or DEFAULT_CLIENT_ID,
        client_secret=values.get("ClientSecret"),
        tenant=values.get("TenantId"),
        authority=values.get("Authority"),
        redirect_uri=values.get("RedirectUri"),
        thumbprint=values.get("Thumbprint"),
        certificate_path=values.get("CertificatePath"),
        ca_bundle=values.get("CABundle"),
        token=values.get("Token"),
        scope=values.get("Scope"),
        timeout=_number(values, "Timeout", DEFAULT_TIMEOUT),
        page_size=int(_number(values, "PageSize", DEFAULT_PAGE_SIZE, whole=True)),
        batch_size=int(_number(values, "BatchSize", DEFAULT_BATCH_SIZE, whole=True)),
        parallel=int(_number(values, "Parallel", DEFAULT_PARALLEL, whole=True,
                             most=MAX_PARALLEL)),
    )
    _check_method_needs(settings)
    return settings


def split_url(url: str, entity_set: str | None = None) -> tuple[str, str]:
    """(service root ending in '/', entity set) from URL and an optional EntitySet key; a
    user-info in URL is left out (never sent, never shown: a password is the loader's to refuse)."""
    parts = urlsplit(without_userinfo(url.strip()))
    if parts.query or parts.fragment:
        raise _error("put query options in the select statement, not in URL")
    problem = declaration().port_problem(parts.netloc)
    if problem:
        raise _error(problem)
    path = parts.path
    base = f"{parts.scheme}://{parts.netloc}"
    if entity_set:
        if not path.strip("/"):
            path = WEB_API_PATH
        return base + path.rstrip("/") + "/", entity_set.strip("/")
    if not path.strip("/") or _API_PATH.search(path):
        raise _error(
            "URL names the service but not the entity set: add it to URL "
            "(…/api/data/v9.2/accounts) or give EntitySet=accounts"
        )
    root, _, name = path.rstrip("/").rpartition("/")
    return base + root + "/", name


def normalise_method(given: str | None, values: dict[str, str]) -> str:
    """One of the sign-in methods from Authentication/AuthType and the keys present."""
    folded = (given or "").casefold()
    if folded in ("microsoft_modern_crm", "office365"):
        return PASSWORD
    if folded == "oauth":
        return PASSWORD if values.get("User") else DEVICE_CODE
    if folded in ("clientsecret", "client_secret"):
        return CLIENT_SECRET
    if folded == "certificate":
        return CERTIFICATE
    if folded in (NONE, BASIC, BEARER, DEVICE_CODE):
        return folded
    if folded:
        raise _error(f"unknown Authentication '{given}'")
    # Not given: guess from the keys present.
    if values.get("Token"):
        return BEARER
    if values.get("CertificatePath") or values.get("Thumbprint"):
        return CERTIFICATE
    if values.get("ClientSecret") or (values.get("ClientId") and not values.get("User")):
        return CLIENT_SECRET
    if values.get("User"):
        return PASSWORD
    return NONE


def _check_method_needs(settings: ODataSettings) -> None:
    """Keys a sign-in method cannot do without (secrets may still come from the resolver)."""
    if settings.method in (PASSWORD, BASIC) and not settings.user:
        raise _error(f"User is required to sign in with {settings.method}")
    if settings.confidential and settings.client_id == DEFAULT_CLIENT_ID:
        raise _error("ClientId (your app registration) is required for app sign-in")
    if settings.confidential and not (settings.tenant or settings.authority):
        raise _error("TenantId (or Authority) is required for app sign-in")
    if settings.method == CERTIFICATE and not settings.certificate_path:
        raise _error("CertificatePath (a PEM file with the private key) is required")
    if settings.authority and not settings.authority.startswith("https://"):
        raise _error("Authority must be an https URL")


def _number(values: dict[str, str], key: str, default: float, whole: bool = False,
            most: float | None = None) -> float:
    """A positive number from a key (a whole one when ``whole``; at most ``most``), else the
    default."""
    text = values.get(key)
    if text is None:
        return default
    try:
        number = int(text) if whole else float(text)
    except ValueError:
        kind = "a whole number" if whole else "a number"
        raise _error(f"{key} must be {kind}, not '{text}'") from None
    if not math.isfinite(number):  # (inf, nan: no wait or count is that)
        raise _error(f"{key} must be a number, not '{text}'")
    if number <= 0:
        raise _error(f"{key} must be greater than 0")
    if most is not None and number > most:
        raise _error(f"{key} must be at most {most:g}, not {text}")
    return number


def _error(message: str) -> ConfigError:
    return ConfigError(message, key="connection_string")
