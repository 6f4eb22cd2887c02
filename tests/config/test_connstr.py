"""The connection-string syntax of the Layer2 guide: key=value; pairs."""

from __future__ import annotations

import pytest

from l2tui.config.connstr import ConnectionStringError, parse_connection_string
from l2tui.config.specs import find_spec

SEED_ODATA = ("URL=https://contoso.crm4.dynamics.com/api/data/v9.2/accounts;"
              "Authentication=microsoft_modern_crm;User=alice@contoso.com;")
SEED_SQL = "Data Source=mySQLServerName;Initial Catalog=mySQLDatabase;Trusted_Connection=True;"


def test_seed_odata_string_parses_verbatim() -> None:
    cs = parse_connection_string(SEED_ODATA)
    assert dict(cs.pairs) == {
        "URL": "https://contoso.crm4.dynamics.com/api/data/v9.2/accounts",
        "Authentication": "microsoft_modern_crm",
        "User": "alice@contoso.com",
    }
    find_spec("odata").validate_connection_string(cs)  # type: ignore[union-attr]


def test_seed_sql_server_string_parses_verbatim() -> None:
    cs = parse_connection_string(SEED_SQL)
    assert cs["data source"] == "mySQLServerName"
    assert cs["INITIAL CATALOG"] == "mySQLDatabase"
    assert cs["Trusted_Connection"] == "True"
    find_spec("sqlserver").validate_connection_string(cs)  # type: ignore[union-attr]


def test_keys_are_case_insensitive_and_spaces_around_keys_and_equals_are_ignored() -> None:
    cs = parse_connection_string("  server  =  db1 ; DATABASE= crm")
    assert cs["Server"] == "db1"
    assert cs["database"] == "crm"


def test_trailing_semicolon_is_optional() -> None:
    assert dict(parse_connection_string("a=1;b=2").pairs) == {"a": "1", "b": "2"}


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("Password='p;a=ss';", "p;a=ss"),
        ('Password="p;a=ss";', "p;a=ss"),
        ("Password='it''s';", "it's"),
        ('Password="say ""hi""";', 'say "hi"'),
        ("Driver={ODBC Driver 18 for SQL Server};", "ODBC Driver 18 for SQL Server"),
        ("Driver={a;b}}c};", "a;b}c"),
    ],
)
def test_quoted_values_may_hold_separators_and_doubled_quotes(text: str, value: str) -> None:
    key = text.split("=")[0]
    assert parse_connection_string(text)[key] == value


def test_render_round_trips_values_that_need_quotes() -> None:
    cs = parse_connection_string("""a='x;y';b="it's";c=plain""")
    assert parse_connection_string(cs.render()) == cs


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("Password='abc;", "unbalanced quote"),
        ('Password="abc', "unbalanced quote"),
        ("User=a;user=b", "given twice"),
        ("just-a-word", "has no '='"),
        ("=value", "has no key"),
        ("Password='a'b;", "unexpected text after the quoted value"),
    ],
)
def test_malformed_strings_are_refused_with_a_reason(text: str, message: str) -> None:
    with pytest.raises(ConnectionStringError, match=message):
        parse_connection_string(text)


def test_unknown_key_lists_the_valid_ones_and_suggests_the_nearest() -> None:
    spec = find_spec("odata")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.validate_connection_string(parse_connection_string("URL=https://x/api/data/v9.2/accounts;Authentcation=none"))
    assert "did you mean 'Authentication'" in str(info.value)
    assert "valid keys: URL, " in str(info.value)
    assert "Authentication" in str(info.value).split("valid keys:")[1]


def test_a_bare_url_is_answered_with_the_key_to_give_it_as() -> None:
    spec = find_spec("odata")
    assert spec is not None
    url = "https://contoso.crm4.dynamics.com/api/data/v9.2/accounts"
    with pytest.raises(ConnectionStringError, match=f"give it as URL={url};"):
        spec.parse(url)


def test_a_bare_url_with_a_password_is_answered_without_the_password() -> None:
    spec = find_spec("odata")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse("https://alice:s3cret-pw@crm.example/api/data/v9.2/accounts")
    assert "s3cret-pw" not in str(info.value)
    assert "URL=https://alice:***@crm.example/api/data/v9.2/accounts;" in str(info.value)


def test_a_bare_url_whose_password_holds_a_slash_is_answered_without_the_password() -> None:
    spec = find_spec("odata")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse("https://bob:Sl/ashSecret@example.invalid/api/data/v9.2/accounts")
    assert "ashSecret" not in str(info.value) and "Sl/" not in str(info.value)
    assert "URL=https://bob:***@example.invalid/api/data/v9.2/accounts;" in str(info.value)


def test_a_url_that_is_not_http_is_named_without_its_password() -> None:
    spec = find_spec("odata")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse("URL=ftp://bob:TOPSECRET@crm.example/accounts")
    assert str(info.value) == "URL must be an http(s) URL, not 'ftp://bob:***@crm.example/accounts'"


def test_a_url_whose_ipv6_host_is_not_closed_is_a_connection_string_error() -> None:
    spec = find_spec("odata")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse("URL=http://bob:TOPSECRET@[::1:8765/api/data/v9.2/accounts")
    assert str(info.value) == ("URL is not a URL (Invalid IPv6 URL): "
                               "'http://bob:***@[::1:8765/api/data/v9.2/accounts'")


@pytest.mark.parametrize(("provider", "text"), [
    ("sqlserver", "Server=db;Password=abc;hunter2TAIL;"),
    ("sqlserver", "Server=db;Password=abc;hunter2TAIL=x"),
    ("sqlserver", "Server=db;Pwd=abc;hunter2TAIL=x;hunter2TAIL=y"),
    ("sqlserver", "Server=db;Password=abc;Port=hunter2TAIL"),
    ("sqlserver", "Server=db;Password=abc;Encrypt=hunter2TAIL"),
    ("sqlserver", "Server=db;Password=abc;hunter2TAIL='x'y"),
    ("odata", "URL=https://crm.example/api/data/v9.2/accounts;Client Secret=abc;hunter2TAIL"),
    ("odata", "Token=abc;URL=hunter2TAIL"),
    ("odata", "https://crm.example/api/data/v9.2/accounts;Password=abc;hunter2TAIL"),
])
def test_no_text_after_a_secret_key_is_quoted_in_an_error(provider: str, text: str) -> None:
    spec = find_spec(provider)
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse(text)
    assert "hunter2" not in str(info.value) and "TAIL" not in str(info.value)


def test_an_error_after_a_secret_key_names_the_key_and_says_to_quote_the_value() -> None:
    spec = find_spec("sqlserver")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse("Server=db;User ID=sa;Password=abc;hunter2TAIL;")
    assert str(info.value) == ("a part after 'Password' has no '=' "
                               "(quote a value holding ';' as \"…\")")
    assert info.value.secret == "Password"


def test_empty_value_is_refused() -> None:
    spec = find_spec("sqlserver")
    assert spec is not None
    with pytest.raises(ConnectionStringError, match="'Initial Catalog' has an empty value"):
        spec.validate_connection_string(parse_connection_string("Data Source=x;Initial Catalog=;"))


def test_two_synonyms_of_one_key_are_refused() -> None:
    spec = find_spec("sqlserver")
    assert spec is not None
    with pytest.raises(ConnectionStringError, match="name the same setting"):
        spec.validate_connection_string(parse_connection_string("Server=a;Data Source=b"))


def test_a_key_sqlite_does_not_read_is_refused_with_the_keys_it_reads() -> None:
    # a SQL Server string under the SQLite provider: the file would be named after the server
    spec = find_spec("sqlite")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse("Server=db01;Initial Catalog=crm;Trusted_Connection=True;")
    assert str(info.value) == ("'Initial Catalog' is not used by sqlite; it reads Data Source, "
                               "Connect Timeout, BatchSize")


def test_an_unknown_sqlite_key_is_answered_with_the_keys_sqlite_reads_alone() -> None:
    # it listed every SQL Server key and suggested 'SslMode', which sqlite then refused
    spec = find_spec("sqlite")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.parse("Data Source=crm.db;Mode=ro;")
    assert str(info.value) == ("unknown key 'Mode' for sqlite; valid keys: Data Source, "
                               "Connect Timeout, BatchSize")


def test_sqlite_accepts_the_ado_net_keys_other_tools_write_and_no_provider_reads() -> None:
    spec = find_spec("sqlite")
    assert spec is not None
    spec.parse("Data Source=crm.db;Pooling=True;Max Pool Size=10;Connect Timeout=5;")


@pytest.mark.parametrize(("provider", "key"), [
    ("postgresql", "Encrypt"), ("postgresql", "TrustServerCertificate"),
    ("postgresql", "TDS_Version"), ("postgresql", "ApplicationIntent"), ("postgresql", "Driver"),
    ("mysql", "Encrypt"), ("mysql", "MultiSubnetFailover"), ("mysql", "Application Name"),
])
def test_a_sql_server_key_postgresql_or_mysql_does_not_read_is_refused(provider: str,
                                                                        key: str) -> None:
    # Encrypt=true under PostgreSQL or MySQL was ignored: the user thought the link encrypted
    spec = find_spec(provider)
    assert spec is not None
    with pytest.raises(ConnectionStringError,
                       match=f"^'{key}' is not used by {provider}; it reads Data Source, "):
        spec.parse(f"Server=db01;Database=crm;User ID=app;{key}=yes;")


@pytest.mark.parametrize("provider", ["postgresql", "mysql"])
def test_postgresql_and_mysql_take_the_keys_they_read(provider: str) -> None:
    spec = find_spec(provider)
    assert spec is not None
    spec.parse("Server=db01;Port=5000;Database=crm;User ID=app;SSL Mode=Require;Schema=s;"
               "Connect Timeout=5;BatchSize=100;Trusted_Connection=no;Pooling=true;")


def test_an_unknown_key_that_begins_a_known_one_suggests_that_one() -> None:
    spec = find_spec("sqlserver")
    assert spec is not None
    with pytest.raises(ConnectionStringError) as info:
        spec.validate_connection_string(
            parse_connection_string("Server=localhost;Database=crm;Trusted=True;"))
    assert "unknown key 'Trusted' for sqlserver (did you mean 'Trusted_Connection'?)" in str(info.value)
