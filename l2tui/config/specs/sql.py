"""Declarations of the SQL providers: SQL Server, PostgreSQL, MySQL/MariaDB and SQLite."""

from __future__ import annotations

from l2tui.config.connstr import ConnectionString, ConnectionStringError
from l2tui.config.specs import KeySpec, ProviderSpec, register

SQL_KEYS = (
    KeySpec("Data Source", ("Server", "Host", "Address", "Addr", "Network Address", "Hostname"),
            help="server (host, host,port or host\\instance), or the file path for SQLite"),
    KeySpec("Initial Catalog", ("Database", "DBName", "DB"), help="database name"),
    KeySpec("Trusted_Connection", ("Integrated Security",),
            choices=("true", "false", "yes", "no", "sspi"), help="Windows / Kerberos sign-in"),
    KeySpec("User ID", ("UID", "User", "Username", "User Name", "UserID"), help="SQL login"),
    KeySpec("Password", ("PWD",), secret=True, help="kept in the keyring, never in the file"),
    KeySpec("Port", (), help="TCP port"),
    KeySpec("Encrypt", (), choices=("true", "false", "yes", "no", "mandatory", "optional", "strict")),
    KeySpec("TrustServerCertificate", ("Trust Server Certificate",), choices=("true", "false", "yes", "no")),
    KeySpec("Driver", (), help="ODBC driver name (default: the best installed)"),
    KeySpec("SSL Mode", ("SslMode", "sslmode"), help="PostgreSQL / MySQL TLS mode"),
    KeySpec("Connect Timeout", ("Connection Timeout", "Timeout", "connect_timeout"), help="seconds"),
    KeySpec("Application Name", ("App", "ApplicationName"), help="shown to the server"),
    KeySpec("Schema", ("Search Path",), help="default schema"),
    KeySpec("BatchSize", ("Batch Size",), help="rows per write batch"),
    KeySpec("ApplicationIntent", ("Application Intent",), choices=("ReadOnly", "ReadWrite"),
            help="SQL Server: ReadOnly routes to a readable secondary"),
    KeySpec("MultiSubnetFailover", ("Multi Subnet Failover",), choices=("true", "false", "yes", "no")),
    KeySpec("TDS_Version", ("TDS Version",), help="FreeTDS protocol version (default 7.4)"),
    KeySpec("Persist Security Info", ("PersistSecurityInfo",), help="ADO.NET; accepted and ignored",
            ignored=True),
    *(KeySpec(name, (), help="ADO.NET pooling; accepted and ignored", ignored=True)
      for name in ("Pooling", "Max Pool Size", "Min Pool Size", "Connection Lifetime")),
    KeySpec("MultipleActiveResultSets", ("MARS_Connection",), help="accepted and ignored",
            ignored=True),
)


def check_connection(cs: ConnectionString) -> None:
    """Either a server or a file path must be named; a port must be a number."""
    server = cs.first(*SQL_KEYS[0].names())
    if server is None:
        raise ConnectionStringError("missing required key 'Data Source' (or 'Server')")
    port = cs.first("Port")
    if port is not None and not (port.isdigit() and 0 < int(port) < 65536):
        raise ConnectionStringError(f"'Port' must be a number from 1 to 65535, not '{port}'")
    for name in ("Connect Timeout", "BatchSize"):
        value = cs.first(*next(k for k in SQL_KEYS if k.name == name).names())
        if value is not None and not (value.isdigit() and int(value) > 0):
            raise ConnectionStringError(f"'{name}' must be a positive whole number, not '{value}'")


def check_select(text: str) -> None:
    """A table name, one SELECT or a procedure call; nothing else runs (see ``sql_select``)."""
    from l2tui.config.specs.sql_select import parse_select

    parse_select(text)


def _spec(name: str, title: str, aliases: tuple[str, ...], example: str, select: str,
          takes_password: bool = True, used_keys: tuple[str, ...] = ()) -> ProviderSpec:
    return register(
        ProviderSpec(
            name=name,
            title=title,
            aliases=aliases,
            keys=SQL_KEYS,
            select_help="a table name, or one SELECT (joins, aggregates and procedure calls are read-only)",
            example_connection_string=example,
            example_select=select,
            check_connection=check_connection,
            check_select=check_select,
            accepts_url=True,
            takes_password=takes_password,
            used_keys=used_keys,
        )
    )


# what PostgreSQL and MySQL read of the keys every SQL provider accepts: the SQL Server keys
# (Encrypt, TrustServerCertificate, Driver, ApplicationIntent, …) are refused under them rather
# than ignored (Encrypt=true gave no TLS; their own is SSL Mode)
_SERVER_KEYS = ("Data Source", "Port", "Initial Catalog", "User ID", "Password",
                "Trusted_Connection", "SSL Mode", "Connect Timeout", "Schema", "BatchSize")
SQLSERVER = _spec(
    "sqlserver", "Data Provider for SQL Server", ("mssql", "sql server", "sql_server"),
    "Data Source=mySQLServerName;Initial Catalog=mySQLDatabase;Trusted_Connection=True;",
    "SELECT * FROM dbo.accounts",
)
POSTGRESQL = _spec(
    "postgresql", "Data Provider for PostgreSQL", ("postgres", "pg", "psql"),
    "Host=localhost;Port=5432;Database=crm;Username=l2tui;", "SELECT * FROM accounts",
    used_keys=_SERVER_KEYS[:7] + ("Application Name",) + _SERVER_KEYS[7:],
)
MYSQL = _spec(
    "mysql", "Data Provider for MySQL / MariaDB", ("mariadb",),
    "Server=localhost;Port=3306;Database=crm;User=l2tui;", "SELECT * FROM accounts",
    used_keys=_SERVER_KEYS,
)
SQLITE = _spec(
    "sqlite", "Data Provider for SQLite", ("sqlite3",),
    "Data Source=crm.db;", "accounts", takes_password=False,
    used_keys=("Data Source", "Connect Timeout", "BatchSize"),  # (the file, its busy timeout)
)
