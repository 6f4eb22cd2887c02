"""Connection strings (ADO.NET, ODBC, SQLAlchemy URLs) become the right engine target."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2tui.errors import ConfigError, ConnectError
from l2tui.providers.sql.connstr import build_target, choose_odbc_driver

MS18 = "ODBC Driver 18 for SQL Server"


def _both() -> list[str]:
    return ["FreeTDS", "ODBC Driver 17 for SQL Server", MS18]


ADO_TO_ODBC = [
    ("Data Source=mySQLServerName;Initial Catalog=mySQLDatabase;Trusted_Connection=True;",
     "DRIVER={ODBC Driver 18 for SQL Server};SERVER=mySQLServerName;DATABASE=mySQLDatabase;"
     "Trusted_Connection=yes;"),
    ("Server=db.example.com,1444;Database=crm;User ID=sa;Encrypt=True;TrustServerCertificate=True",
     "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db.example.com,1444;DATABASE=crm;UID=sa;"
     "PWD=***;Encrypt=yes;TrustServerCertificate=yes;"),
    ("Data Source=tcp:db,1433;Initial Catalog=crm;Integrated Security=SSPI",
     "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db,1433;DATABASE=crm;Trusted_Connection=yes;"),
    ("Data Source=sql01\\SQLEXPRESS;Initial Catalog=crm;UID=app;Encrypt=no",
     "DRIVER={ODBC Driver 18 for SQL Server};SERVER=sql01\\SQLEXPRESS;DATABASE=crm;UID=app;"
     "PWD=***;Encrypt=no;"),
    ("Server=db;Port=1500;Database=my db;User=app;Application Name=l2tui",
     "DRIVER={ODBC Driver 18 for SQL Server};SERVER=db,1500;DATABASE=my db;UID=app;PWD=***;"
     "APP=l2tui;"),
    ("Driver={ODBC Driver 17 for SQL Server};Server=db;Database=crm;UID=app;"
     "ApplicationIntent=ReadOnly",
     "DRIVER={ODBC Driver 17 for SQL Server};SERVER=db;DATABASE=crm;UID=app;PWD=***;"
     "ApplicationIntent=ReadOnly;"),
    ("Driver={FreeTDS};Server=db;Database=crm;UID=app;Encrypt=yes",
     "DRIVER={FreeTDS};SERVER=db;PORT=1433;DATABASE=crm;UID=app;PWD=***;TDS_Version=7.4;"
     "Encryption=require;"),
    ("Driver={FreeTDS};Server=db\\INST;Database=crm;UID=app",
     "DRIVER={FreeTDS};SERVER=db\\INST;DATABASE=crm;UID=app;PWD=***;TDS_Version=7.4;"),
]


@pytest.mark.parametrize(("ado", "odbc"), ADO_TO_ODBC)
def test_sql_server_strings_become_odbc_strings(ado: str, odbc: str) -> None:
    target = build_target("sqlserver", ado, "pa;ss}word", drivers=_both)
    assert target.odbc == odbc


def test_the_password_is_braced_in_the_odbc_string_and_masked_where_shown() -> None:
    target = build_target("sqlserver", "Server=db;UID=app", "pa;ss}word", drivers=_both)
    assert str(target.url.query["odbc_connect"]).endswith("UID=app;PWD={pa;ss}}word};")
    assert "pa;ss" not in target.odbc


@pytest.mark.parametrize(("installed", "chosen"), [
    ([MS18, "ODBC Driver 17 for SQL Server", "FreeTDS"], MS18),
    (["FreeTDS", "ODBC Driver 17 for SQL Server"], "ODBC Driver 17 for SQL Server"),
    (["SQLite3", "FreeTDS"], "FreeTDS"),
    (["PostgreSQL Unicode"], None),
])
def test_the_odbc_driver_is_18_then_17_then_freetds(installed: list[str],
                                                      chosen: str | None) -> None:
    assert choose_odbc_driver(installed) == chosen


def test_trusted_connection_with_freetds_says_why_it_cannot_work() -> None:
    with pytest.raises(ConnectError, match="needs Kerberos.*FreeTDS.*ODBC Driver 18"):
        build_target("sqlserver", "Server=db;Trusted_Connection=yes", drivers=lambda: ["FreeTDS"])


def test_no_sql_server_odbc_driver_is_a_clear_error() -> None:
    with pytest.raises(ConnectError, match="no ODBC driver for SQL Server is installed"):
        build_target("sqlserver", "Server=db;UID=a", drivers=lambda: ["SQLite3"])


@pytest.mark.parametrize(("text", "url"), [
    ("Host=db;Port=5433;Database=crm;Username=me;SSL Mode=Require;Search Path=sales",
     "postgresql+psycopg://me:***@db:5433/crm?options=-csearch_path%3Dsales&sslmode=require"),
    ("Data Source=db,5432;Initial Catalog=crm;User ID=me",
     "postgresql+psycopg://me:***@db:5432/crm"),
    ("Server=127.0.0.1;Database=crm;UID=me;Application Name=l2tui",
     "postgresql+psycopg://me:***@127.0.0.1/crm?application_name=l2tui"),
])
def test_postgresql_spellings_become_psycopg_urls(text: str, url: str) -> None:
    assert build_target("postgresql", text, "pw").url.render_as_string() == url


@pytest.mark.parametrize(("mode", "libpq"), [
    ("VerifyFull", "verify-full"), ("verify-ca", "verify-ca"), ("VERIFY_CA", "verify-ca"),
    ("Disable", "disable"), ("prefer", "prefer")])
def test_postgresql_ssl_modes_are_read_in_any_spelling_of_their_names(mode: str, libpq: str) -> None:
    url = build_target("postgresql", f"Host=db;Database=crm;SSL Mode={mode}").url
    assert url.query["sslmode"] == libpq


@pytest.mark.parametrize("provider", ["postgresql", "mariadb"])
def test_an_ssl_mode_misspelt_is_refused_rather_than_taken_for_no_tls(provider: str) -> None:
    with pytest.raises(ConfigError, match="SSL Mode 'Requried' is none of .*Require") as refused:
        build_target(provider, "Host=db;Database=crm;SSL Mode=Requried")
    assert refused.value.key == "connection_string"


def test_a_mysql_ssl_mode_of_required_asks_for_tls() -> None:
    assert "ssl" in build_target("mariadb", "Host=db;Database=crm;SSL Mode=Required").connect_args


@pytest.mark.parametrize(("text", "url"), [
    ("Server=db;Port=3307;Database=crm;User=me",
     "mysql+pymysql://me:***@db:3307/crm?charset=utf8mb4"),
    ("Host=db;Database=crm;Username=me", "mysql+pymysql://me:***@db/crm?charset=utf8mb4"),
])
def test_mysql_spellings_become_pymysql_urls(text: str, url: str) -> None:
    assert build_target("mariadb", text, "pw").url.render_as_string() == url


def test_sqlite_data_source_is_a_file_path(tmp_path: Path) -> None:
    path = tmp_path / "crm.db"
    target = build_target("sqlite", f"Data Source={path}")
    assert target.url.render_as_string() == f"sqlite+pysqlite:///{path}"
    assert target.server == str(path)


def test_a_sqlalchemy_url_is_used_as_given_with_the_secret_as_password() -> None:
    target = build_target("postgresql", "postgresql://me@db:5432/crm", "pw")
    assert target.url.drivername == "postgresql+psycopg"
    assert target.url.password == "pw"


def test_a_url_for_another_database_than_the_provider_is_refused() -> None:
    with pytest.raises(ConfigError, match="the URL is for 'mysql' but the provider is postgresql"):
        build_target("postgresql", "mysql+pymysql://me@db/crm")


def test_an_unknown_key_is_a_config_error_naming_it() -> None:
    with pytest.raises(ConfigError, match="unknown key 'Colour'"):
        build_target("postgresql", "Host=db;Colour=blue")
