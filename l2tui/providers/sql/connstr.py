"""Turn a SQL entity's connection string (ADO.NET, ODBC or a SQLAlchemy URL) into an engine target.

SQL Server connects through pyodbc with an ODBC connection string built here (the driver picked
from ``pyodbc.drivers()``: ODBC Driver 18, then 17, then FreeTDS, unless ``Driver`` names one);
PostgreSQL through psycopg, MySQL/MariaDB through PyMySQL, SQLite through the standard library.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import ArgumentError

from l2tui.config.connstr import ConnectionStringError, parse_connection_string
from l2tui.config.specs import find_spec, looks_like_url
from l2tui.errors import ConfigError, ConnectError

BACKENDS = {"sqlserver": "mssql", "postgresql": "postgresql", "mysql": "mysql", "sqlite": "sqlite"}
DEFAULT_DRIVERS = {"mssql": "pyodbc", "postgresql": "psycopg", "mysql": "pymysql",
                   "mariadb": "pymysql", "sqlite": "pysqlite"}
TITLES = {"sqlserver": "SQL Server", "postgresql": "PostgreSQL", "mysql": "MySQL",
          "sqlite": "SQLite"}
PREFERRED_ODBC = ("ODBC Driver 18 for SQL Server", "ODBC Driver 17 for SQL Server", "FreeTDS")
DEFAULT_TIMEOUT = 15
TRUE = ("true", "yes", "sspi", "1", "mandatory", "strict")


@dataclass(frozen=True)
class Target:
    """Everything needed to create an engine, and how to name the target in messages."""

    provider: str  # sqlserver | postgresql | mysql | sqlite
    url: URL
    server: str  # "host,port" / "host:port" / file path, for messages
    database: str | None
    driver: str  # ODBC driver name, "psycopg", "pymysql" or "sqlite3"
    connect_args: dict[str, Any] = field(default_factory=dict)
    odbc: str = ""  # SQL Server's ODBC connection string (password shown as ***)
    batch_size: int | None = None
    schema: str | None = None

    @property
    def title(self) -> str:
        """The database product, e.g. "PostgreSQL"."""
        return TITLES[self.provider]


def odbc_drivers() -> list[str]:
    """ODBC drivers installed here (empty when pyodbc or unixODBC is missing)."""
    try:
        import pyodbc

        return list(pyodbc.drivers())
    except Exception:  # noqa: BLE001  (no driver manager: no drivers)
        return []


def choose_odbc_driver(installed: Sequence[str]) -> str | None:
    """ODBC Driver 18, then 17, then FreeTDS, then any other SQL Server driver installed."""
    for name in PREFERRED_ODBC:
        if name in installed:
            return name
    return next((d for d in installed if "sql server" in d.lower()), None)


def is_microsoft_driver(driver: str) -> bool:
    """Microsoft's msodbcsql drivers (and Native Client), as opposed to FreeTDS."""
    return "freetds" not in driver.lower()


def build_target(provider: str, text: str, password: str | None = None, *,
                 drivers: Callable[[], Sequence[str]] = odbc_drivers) -> Target:
    """The engine target for an entity; ConfigError for a bad string, ConnectError when unusable."""
    spec = find_spec(provider)
    if spec is None or spec.name not in BACKENDS:
        raise ConfigError(f"unknown SQL provider {provider!r}", key="provider")
    name = spec.name
    if looks_like_url(text):
        return _from_url(name, text.strip(), password)
    cs = spec.parse_setting(text)
    values = spec.canonical(cs)
    secret = values.get("Password") or password
    if name == "sqlite":
        return _sqlite(values)
    if name == "sqlserver":
        return _sqlserver(values, secret, drivers)
    return _network(name, values, secret)


def _batch(values: dict[str, str]) -> int | None:
    return int(values["BatchSize"]) if "BatchSize" in values else None


def _timeout(values: dict[str, str]) -> int:
    return int(values.get("Connect Timeout", DEFAULT_TIMEOUT))


def split_server(server: str, port: str | None) -> tuple[str, str | None, str | None]:
    """``host``, ``host,port``, ``host:port``, ``tcp:host,port`` or ``host\\instance`` → parts."""
    host = server.strip()
    if host.lower().startswith("tcp:"):
        host = host[4:]
    instance = None
    if "\\" in host:
        host, instance = host.split("\\", 1)
    if "," in host:
        host, port = host.split(",", 1)
    elif host.count(":") == 1:
        host, port = host.split(":", 1)
    if host.lower() in ("(local)", ".", "(localdb)"):
        host = "localhost"
    port = port.strip() if port else None
    if port is not None and not port.isdigit():
        raise ConfigError(f"the port in '{server}' is not a number", key="connection_string")
    return host.strip(), port, instance


def _sqlite(values: dict[str, str]) -> Target:
    path = values["Data Source"]
    if path != ":memory:":
        path = str(Path(os.path.expanduser(path)).absolute())
    url = URL.create("sqlite+pysqlite", database=path)
    return Target("sqlite", url, path, None, "sqlite3", {"timeout": _timeout(values)},
                  batch_size=_batch(values))


def _network(name: str, values: dict[str, str], secret: str | None) -> Target:
    host, port, _ = split_server(values["Data Source"], values.get("Port"))
    backend = BACKENDS[name]
    query: dict[str, str] = {}
    connect_args: dict[str, Any] = {"connect_timeout": _timeout(values)}
    mode = _ssl_mode(name, values.get("SSL Mode"))
    if name == "postgresql":
        if mode:
            query["sslmode"] = mode
        if "Application Name" in values:
            query["application_name"] = values["Application Name"]
        if "Schema" in values:
            query["options"] = f"-csearch_path={values['Schema']}"
    else:
        query["charset"] = "utf8mb4"
        if mode == "require":
            connect_args["ssl"] = {"check_hostname": False}
        elif mode is not None and mode.startswith("verify"):
            connect_args["ssl"] = {"verify_mode": "required"}
    url = URL.create(
        f"{backend}+{DEFAULT_DRIVERS[backend]}",
        username=values.get("User ID"),
        password=None if _trusted(values) else secret,
        host=host,
        port=int(port) if port else None,
        database=values.get("Initial Catalog"),
        query=query,
    )
    shown = f"{host}:{port}" if port else host
    return Target(name, url, shown, values.get("Initial Catalog"), DEFAULT_DRIVERS[backend],
                  connect_args, batch_size=_batch(values), schema=values.get("Schema"))


# SSL Mode as each provider's own strings spell it (libpq's, Npgsql's, MySQL Connector's), with
# case, '-' and '_' ignored → libpq's name of it
_SSL_MODES = {"disable": "disable", "disabled": "disable", "none": "disable", "allow": "allow",
              "prefer": "prefer", "preferred": "prefer", "require": "require",
              "required": "require", "verifyca": "verify-ca", "verifyfull": "verify-full",
              "verifyidentity": "verify-full"}


def _ssl_mode(name: str, value: str | None) -> str | None:
    """The SSL Mode as libpq names it; a value it does not know is refused rather than taken
    for no TLS at all (a typo such as 'Requried' sent everything in clear)."""
    if value is None:
        return None
    spelt = value.lower().replace("-", "").replace("_", "")
    mode = _SSL_MODES.get(spelt)
    if mode is None or (name == "postgresql" and spelt in ("none", "verifyidentity")):
        known = "Disable, Allow, Prefer, Require, VerifyCA, VerifyFull" if name == "postgresql" \
            else "None, Preferred, Required, VerifyCA, VerifyFull"
        raise ConfigError(f"SSL Mode '{value}' is none of {known}", key="connection_string")
    return mode


def _trusted(values: dict[str, str]) -> bool:
    return values.get("Trusted_Connection", "").lower() in TRUE


def odbc_value(value: str) -> str:
    """An ODBC attribute value, braced when it holds ``;``, braces, ``=`` or edge spaces."""
    if value and not any(c in value for c in ";{}=") and value.strip() == value:
        return value
    return "{" + value.replace("}", "}}") + "}"


def sqlserver_odbc(values: dict[str, str], driver: str, password: str | None) -> str:
    """The ODBC connection string for SQL Server through ``driver`` (msodbcsql or FreeTDS)."""
    host, port, instance = split_server(values["Data Source"], values.get("Port"))
    microsoft = is_microsoft_driver(driver)
    parts: list[tuple[str, str]] = [("DRIVER", "{" + driver.replace("}", "}}") + "}")]
    if microsoft:
        server = f"{host}\\{instance}" if instance else host
        parts.append(("SERVER", f"{server},{port}" if port else server))
    else:
        parts.append(("SERVER", f"{host}\\{instance}" if instance else host))
        if port or not instance:
            parts.append(("PORT", port or "1433"))
    if "Initial Catalog" in values:
        parts.append(("DATABASE", odbc_value(values["Initial Catalog"])))
    if _trusted(values):
        if not microsoft:
            raise ConnectError(
                f"Trusted_Connection (Windows sign-in) needs Kerberos, which the {driver} ODBC "
                "driver cannot use here; install 'ODBC Driver 18 for SQL Server' and run kinit, "
                "or give User ID and a password"
            )
        parts.append(("Trusted_Connection", "yes"))
    else:
        if "User ID" in values:
            parts.append(("UID", odbc_value(values["User ID"])))
        if password is not None:
            parts.append(("PWD", "{" + password.replace("}", "}}") + "}"))
    if microsoft:
        if "Encrypt" in values:
            encrypt = values["Encrypt"].lower()
            parts.append(("Encrypt", "strict" if encrypt == "strict" else
                          "yes" if encrypt in TRUE else "no"))
        if "TrustServerCertificate" in values:
            trust = values["TrustServerCertificate"].lower() in TRUE
            parts.append(("TrustServerCertificate", "yes" if trust else "no"))
        if "ApplicationIntent" in values:
            parts.append(("ApplicationIntent", values["ApplicationIntent"]))
        if "MultiSubnetFailover" in values:
            failover = values["MultiSubnetFailover"].lower() in TRUE
            parts.append(("MultiSubnetFailover", "yes" if failover else "no"))
    else:
        parts.append(("TDS_Version", values.get("TDS_Version", "7.4")))
        if "Encrypt" in values:
            required = values["Encrypt"].lower() in TRUE
            parts.append(("Encryption", "require" if required else "off"))
    if "Application Name" in values:
        parts.append(("APP", odbc_value(values["Application Name"])))
    return ";".join(f"{k}={v}" for k, v in parts) + ";"


def _sqlserver(values: dict[str, str], secret: str | None,
               drivers: Callable[[], Sequence[str]]) -> Target:
    driver = values.get("Driver")
    if driver is None:
        installed = drivers()
        driver = choose_odbc_driver(installed)
        if driver is None:
            raise ConnectError(
                "no ODBC driver for SQL Server is installed (install 'ODBC Driver 18 for SQL "
                "Server' or FreeTDS: apt-get install tdsodbc)"
            )
    odbc = sqlserver_odbc(values, driver, secret)
    shown = odbc if secret is None else odbc.replace(
        "PWD={" + secret.replace("}", "}}") + "}", "PWD=***")
    url = URL.create("mssql+pyodbc", query={"odbc_connect": odbc})
    host, port, instance = split_server(values["Data Source"], values.get("Port"))
    server = host + (f"\\{instance}" if instance else "") + (f",{port}" if port else "")
    return Target("sqlserver", url, server, values.get("Initial Catalog"), driver,
                  {"timeout": _timeout(values)}, odbc=shown, batch_size=_batch(values))


def _from_url(name: str, text: str, password: str | None) -> Target:
    try:
        url = make_url(text)
    except ArgumentError:
        raise ConfigError("not a valid SQLAlchemy URL", key="connection_string") from None
    backend = url.get_backend_name()
    if backend == "mariadb":
        backend = "mysql"
    if backend != BACKENDS[name]:
        raise ConfigError(
            f"the URL is for '{url.get_backend_name()}' but the provider is {name}",
            key="connection_string",
        )
    if "+" not in url.drivername:
        url = url.set(drivername=f"{url.drivername}+{DEFAULT_DRIVERS[url.get_backend_name()]}")
    if url.password is None and password is not None and name != "sqlite":
        url = url.set(password=password)
    driver = url.get_driver_name()
    connect_args: dict[str, Any] = {}
    if name == "sqlserver":
        odbc = url.query.get("odbc_connect")
        driver = str(url.query.get("driver", "")) or (
            _odbc_driver_of(str(odbc)) if odbc else driver)
        connect_args["timeout"] = DEFAULT_TIMEOUT
    elif name in ("postgresql", "mysql") and "connect_timeout" not in url.query:
        connect_args["connect_timeout"] = DEFAULT_TIMEOUT
    if name == "sqlite":
        server = url.database or ":memory:"
    else:
        server = f"{url.host}:{url.port}" if url.port else str(url.host or "localhost")
    return Target(name, url, server, url.database, driver, connect_args)


def _odbc_driver_of(odbc: str) -> str:
    try:
        return parse_connection_string(odbc).first("Driver", default="pyodbc") or "pyodbc"
    except ConnectionStringError:
        return "pyodbc"

