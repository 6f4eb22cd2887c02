"""Declaration of the OData provider: Dynamics 365 (Dataverse) and any OData v4 service."""

from __future__ import annotations

import re
from urllib.parse import unquote, urlsplit

from l2tui.config.connstr import ConnectionString, ConnectionStringError
from l2tui.config.specs import KeySpec, ProviderSpec, SelectError, register
from l2tui.config.urls import without_password, without_userinfo

AUTHENTICATION_METHODS = (
    "none",
    "basic",
    "bearer",
    "microsoft_modern_crm",
    "device_code",
    "client_secret",
    "certificate",
    # Dataverse client (Xrm tooling) spellings, given as AuthType=
    "OAuth",
    "ClientSecret",
    "Certificate",
    "Office365",
)

SUPPORTED_OPTIONS = ("$select", "$filter", "$orderby", "$top", "$count")
REFUSED_OPTIONS = {
    "$skip": "Dataverse does not support $skip; l2tui pages with the service's nextLink instead",
    "$search": "Dataverse does not support $search; use $filter with contains()",
    "$format": "$format is not supported; l2tui always asks for JSON",
    "$skiptoken": "$skiptoken is set by the service while paging; leave it out",
    "$deltatoken": "$deltatoken is managed by l2tui's change tracking; leave it out",
    "$expand": "$expand gives nested rows l2tui cannot map; select the lookup column "
    "(_parentaccountid_value) instead",
    "$apply": "$apply gives aggregates, not rows with a key; l2tui syncs rows",
    "$compute": "$compute is OData 4.01; Dataverse speaks OData 4.0",
}
# With Prefer: odata.track-changes the service refuses these, so they turn change tracking off.
NO_CHANGE_TRACKING = ("$filter", "$orderby", "$top", "$expand", "$apply")

_OPTION_START = re.compile(r"&(?=\s*[$@]?[A-Za-z_][\w.]*\s*=)")
_ENCODED = re.compile(r"%[0-9A-Fa-f]{2}")
_IDENTIFIER = re.compile(r"^[A-Za-z_][\w]*$")
_API_PATH = re.compile(r"/api/data/v\d+(\.\d+)*/?$", re.IGNORECASE)


def parse_options(text: str) -> list[tuple[str, str]]:
    """Split OData query options into (name, literal value), with or without a leading '?'.

    Values are taken as typed (``$filter=name eq 'A&B'`` keeps its '&'); a value already
    percent-encoded (``name%20eq%20'x'``, no spaces) is decoded first.
    """
    query = text.strip()
    if query.startswith("?"):
        query = query[1:].strip()
    options: list[tuple[str, str]] = []
    for part in _OPTION_START.split(query) if query else []:
        part = part.strip()
        if not part:
            continue
        if "=" not in part:
            raise SelectError(f"'{part}' is not a query option (expected $option=value)")
        name, value = (s.strip() for s in part.split("=", 1))
        if _ENCODED.search(value) and " " not in value:
            value = unquote(value)
        options.append((name, value))
    return options


def check_select(text: str) -> None:
    """The select statement is OData query options: ``$select=…&$filter=…&$top=5``."""
    seen: set[str] = set()
    for name, value in parse_options(text):
        if name in REFUSED_OPTIONS:
            raise SelectError(REFUSED_OPTIONS[name])
        if name not in SUPPORTED_OPTIONS:
            lowered = {o.lower(): o for o in SUPPORTED_OPTIONS}
            if name.lower() in lowered:
                raise SelectError(f"query options are case-sensitive: write {lowered[name.lower()]}")
            raise SelectError(
                f"unknown query option '{name}'; supported: {', '.join(SUPPORTED_OPTIONS)}"
            )
        if name in seen:
            raise SelectError(f"{name} is given twice")
        seen.add(name)
        if not value:
            raise SelectError(f"{name} has no value")
        if name == "$top" and not value.isdigit():
            raise SelectError(f"$top must be a whole number, not '{value}'")
        if name == "$count" and value not in ("true", "false"):
            raise SelectError(f"$count must be true or false, not '{value}'")
        if name == "$select":
            for column in (c.strip() for c in value.split(",")):
                if not _IDENTIFIER.match(column):
                    raise SelectError(f"$select lists column names; '{column}' is not one")


def selected_columns(text: str) -> list[str] | None:
    """The column names ``$select`` lists, or None when every column is read."""
    for name, value in parse_options(text):
        if name == "$select":
            return [c.strip() for c in value.split(",") if c.strip()]
    return None


def port_problem(netloc: str) -> str | None:
    """What is wrong with the port of a URL's ``host:port`` (requests says only "Failed to
    parse"), or None: no port, or one from 1 to 65535."""
    port = netloc.rpartition("@")[2].rpartition("]")[2].partition(":")[2]  # (past an IPv6 host)
    if not port:
        return None
    if not port.isdigit():
        return f"URL port '{port}' is not a number"
    if not 1 <= int(port) <= 65535:
        return f"URL port {port} is out of range (1-65535)"
    return None


def check_connection(cs: ConnectionString) -> None:
    """URL must be an http(s) URL naming an entity set (or an organization plus EntitySet)."""
    url = cs.first("URL", "Url", "ServiceUri", "Service Uri", "Server") or ""
    try:
        parts = urlsplit(without_userinfo(url))  # (a password in it is the loader's to refuse)
    except ValueError as exc:  # ("Invalid IPv6 URL": a [ without its ])
        raise ConnectionStringError(f"URL is not a URL ({exc}): '{without_password(url)}'") \
            from None
    if parts.scheme not in ("http", "https") or not parts.netloc:
        raise ConnectionStringError(f"URL must be an http(s) URL, not '{without_password(url)}'")
    problem = port_problem(parts.netloc)
    if problem:
        raise ConnectionStringError(problem)
    if parts.query:
        raise ConnectionStringError("put query options in the select statement, not in URL")
    has_set = cs.first("EntitySet", "Entity Set", "Table") is not None
    if not has_set and (not parts.path.strip("/") or _API_PATH.search(parts.path)):
        raise ConnectionStringError(
            "URL must include the entity set, e.g. "
            "https://contoso.crm4.dynamics.com/api/data/v9.2/accounts (or give EntitySet=accounts)"
        )
    authority = cs.first("Authority")
    if authority is not None and not authority.startswith("https://"):
        raise ConnectionStringError("Authority must be an https URL")


SPEC = register(
    ProviderSpec(
        name="odata",
        title="Data Provider for OData",
        aliases=("dynamics", "dynamics365", "dataverse", "crm"),
        keys=(
            KeySpec("URL", ("Url", "ServiceUri", "Service Uri", "Server"),
                    help="service root and entity set, e.g. https://org.crm4.dynamics.com/api/data/v9.2/accounts"),
            KeySpec("EntitySet", ("Entity Set", "Table"),
                    help="entity set, when URL names only the organization (https://org.crm.dynamics.com)"),
            KeySpec("Authentication", ("AuthType", "AuthenticationType"), choices=AUTHENTICATION_METHODS,
                    help="how to sign in"),
            KeySpec("User", ("UserName", "User Name", "UserId", "User Id"), help="user e-mail"),
            KeySpec("Password", ("PWD",), secret=True, help="kept in the keyring, never in the file"),
            KeySpec("ClientId", ("AppId", "ApplicationId", "Client Id"),
                    help="app registration id (default: Microsoft's public development client)"),
            KeySpec("ClientSecret", ("Secret", "Client Secret"), secret=True,
                    help="kept in the keyring, never in the file"),
            KeySpec("TenantId", ("Tenant", "Tenant Id"), help="directory (tenant) id or domain"),
            KeySpec("Authority", (), help="sign-in authority URL (default: login.microsoftonline.com/<tenant>)"),
            KeySpec("Scope", (), help="token scope (default: <scheme>://<host>/.default)"),
            KeySpec("RedirectUri", ("ReplyUrl",), help="OAuth redirect URI"),
            KeySpec("Thumbprint", ("CertThumbprint",), help="certificate thumbprint (SHA-1 hex)"),
            KeySpec("CertificatePath", ("CertPath", "Certificate"), help="PEM file with the private key"),
            KeySpec("CABundle", ("CA Bundle", "CaCert"), help="CA bundle to trust for https"),
            KeySpec("LoginPrompt", (), choices=("Always", "Auto", "Never")),
            KeySpec("Token", ("BearerToken",), secret=True, help="a bearer token (Authentication=bearer)"),
            KeySpec("Timeout", (), help="seconds to wait for one HTTP request"),
            KeySpec("PageSize", ("MaxPageSize",), help="rows per page (odata.maxpagesize)"),
            KeySpec("BatchSize", (), help="writes per $batch change set (default 100)"),
            KeySpec("Parallel", ("MaxParallel",),
                    help="requests in flight at once: $batch writes, rows read by key (default 3, at most 52)"),
            KeySpec("SkipDiscovery", (), choices=("true", "false")),
            KeySpec("RequireNewInstance", (), choices=("true", "false")),
        ),
        required=("URL",),
        select_help="OData query options ($select; $filter, $orderby and $top turn change "
                    "tracking off)",
        example_connection_string=(
            "URL=https://contoso.crm4.dynamics.com/api/data/v9.2/accounts;"
            "Authentication=microsoft_modern_crm;User=alice@contoso.com;"
        ),
        example_select="$select=accountid,name,accountnumber,revenue&$top=5",
        check_connection=check_connection,
        check_select=check_select,
    )
)
