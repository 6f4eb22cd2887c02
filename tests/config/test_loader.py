"""A connection file is checked whole before anything connects; each mistake gets one line."""

from __future__ import annotations

from pathlib import Path

import pytest

from l2tui.config.loader import parse_connection
from l2tui.config.model import ConflictResolution, Direction
from l2tui.errors import ConfigError

GOOD = '''\
title = "CRM accounts to SQL"
direction = "left_to_right"
conflict_resolution = "left_wins"

[entity1]
title = "Dynamics accounts"
provider = "odata"
connection_string = "URL=https://contoso.crm4.dynamics.com/api/data/v9.2/accounts;Authentication=microsoft_modern_crm;User=alice@contoso.com;"
select = "$select=accountid,name,accountnumber,revenue&$top=5"
primary_key = ["accountid"]

[entity2]
title = "SQL accounts"
provider = "sqlserver"
connection_string = "Data Source=sqlhost;Initial Catalog=crm;Trusted_Connection=True;"
select = "SELECT * FROM dbo.accounts"
primary_key = ["accountid"]

[mapping]
auto = true
[[mapping.columns]]
left = "name"
right = "AccountName"
'''


def test_the_design_example_loads() -> None:
    conn = parse_connection(GOOD, "crm.toml")
    assert conn.title == "CRM accounts to SQL"
    assert conn.direction is Direction.LEFT_TO_RIGHT
    assert conn.conflict_resolution is ConflictResolution.LEFT_WINS
    assert conn.entity1.primary_key == ["accountid"]
    assert conn.mapping.columns[0].right == "AccountName"


# (name, text change, expected words in the one-line message)
MALFORMED = [
    ("broken TOML", lambda t: t.replace('title = "CRM', 'title = CRM'), "crm.toml:1: not valid TOML"),
    ("unknown top key", lambda t: t.replace("direction =", "directon ="),
     "crm.toml:2: directon: unknown key; did you mean 'direction'?"),
    ("unknown entity key", lambda t: t.replace("primary_key = [\"accountid\"]\n\n[entity2]", "primary_kee = [\"accountid\"]\n\n[entity2]"),
     "entity1.primary_kee: unknown key; did you mean 'primary_key'?"),
    ("bad direction", lambda t: t.replace('"left_to_right"', '"sideways"'),
     "direction: expected one of left_to_right | right_to_left | bidirectional, got 'sideways'"),
    ("bad conflict policy", lambda t: t.replace('"left_wins"', '"left_win"'),
     "conflict_resolution: expected one of left_wins | right_wins | latest_wins | skip, got 'left_win' (did you mean 'left_wins'?)"),
    ("missing entity2", lambda t: t.split("[entity2]")[0] + "[mapping]\nauto = true\n",
     "entity2: missing [entity2] table"),
    ("unknown provider", lambda t: t.replace('provider = "sqlserver"', 'provider = "sqlsrv"'),
     "entity2.provider: unknown provider 'sqlsrv'"),
    ("unbalanced quote", lambda t: t.replace("User=alice@contoso.com;", "User='alice@contoso.com;"),
     "entity1.connection_string: the value of 'User' has an unbalanced quote"),
    ("duplicate key", lambda t: t.replace("Initial Catalog=crm;", "Initial Catalog=crm;initial catalog=x;"),
     "entity2.connection_string: key 'initial catalog' is given twice"),
    ("unknown connection key", lambda t: t.replace("Trusted_Connection=True;", "Trusted=True;"),
     "entity2.connection_string: unknown key 'Trusted' for sqlserver"),
    ("empty value", lambda t: t.replace("Initial Catalog=crm;", "Initial Catalog=;"),
     "entity2.connection_string: 'Initial Catalog' has an empty value"),
    ("password in file", lambda t: t.replace("User=alice@contoso.com;", "User=alice@contoso.com;Password=hunter2;"),
     "entity1.connection_string: 'Password' must not be stored in the file"),
    ("password in a url", lambda t: t.replace('provider = "sqlserver"\nconnection_string = "Data Source=sqlhost;Initial Catalog=crm;Trusted_Connection=True;"',
                                              'provider = "postgresql"\nconnection_string = "postgresql://alice:hunter2@dbhost/crm"'),
     "entity2.connection_string: the URL's password must not be stored in the file"),
    ("odata url port out of range", lambda t: t.replace("crm4.dynamics.com/", "crm4.dynamics.com:99999/"),
     "crm.toml:8: entity1.connection_string: URL port 99999 is out of range (1-65535)"),
    ("refused odata option", lambda t: t.replace("&$top=5", "&$skip=5"),
     "entity1.select: Dataverse does not support $skip"),
    ("second sql statement", lambda t: t.replace("SELECT * FROM dbo.accounts", "SELECT * FROM dbo.accounts; DROP TABLE x"),
     "entity2.select:"),
    ("ratio out of range", lambda t: t.replace('conflict_resolution = "left_wins"', 'conflict_resolution = "left_wins"\nmax_delete_ratio = 3'),
     "max_delete_ratio: expected a number from 0 to 1, got 3"),
    ("ratio a boolean, said as TOML spells it", lambda t: t.replace('conflict_resolution = "left_wins"', 'conflict_resolution = "left_wins"\nmax_delete_ratio = true'),
     "max_delete_ratio: expected a number from 0 to 1, got true"),
    ("mapping pair without right", lambda t: t.replace('right = "AccountName"\n', ""),
     "mapping.columns[0].right: missing"),
    ("exclude not a list", lambda t: t.replace("auto = true", "auto = true\nexclude = 3"),
     'mapping.exclude: expected a list of column names, like ["description"], got 3'),
    ("exclude holding a number", lambda t: t.replace("auto = true", 'auto = true\nexclude = ["description", 3]'),
     "mapping.exclude: expected column names, got 3"),
    ("exclude naming a column twice", lambda t: t.replace("auto = true", 'auto = true\nexclude = ["description", "Description"]'),
     "mapping.exclude: 'description' is given twice"),
    ("primary key wrong type", lambda t: t.replace('primary_key = ["accountid"]\n\n[entity2]', "primary_key = 3\n\n[entity2]"),
     "entity1.primary_key: expected a column name or a list of column names"),
]


def test_mapping_exclude_loads_the_names_auto_mapping_leaves_out() -> None:
    conn = parse_connection(GOOD.replace("auto = true", 'auto = true\nexclude = ["description", " fax "]'),
                            "crm.toml")
    assert conn.mapping.exclude == ["description", "fax"]


def test_a_file_without_mapping_exclude_excludes_nothing() -> None:
    assert parse_connection(GOOD, "crm.toml").mapping.exclude == []


@pytest.mark.parametrize(("name", "change", "expected"), MALFORMED, ids=[m[0] for m in MALFORMED])
def test_malformed_file_gets_one_line_naming_file_key_and_expectation(name: str, change, expected: str) -> None:
    text = change(GOOD)
    assert text != GOOD, "the table entry must change the file"
    with pytest.raises(ConfigError) as info:
        parse_connection(text, "crm.toml")
    message = str(info.value)
    assert "\n" not in message
    assert message.startswith("crm.toml")
    assert expected in message
    assert "hunter2" not in message


def test_secret_in_a_rejected_string_is_not_repeated(tmp_path: Path) -> None:
    text = GOOD.replace("Trusted_Connection=True;", "Password='s3cr3t;value';")
    with pytest.raises(ConfigError) as info:
        parse_connection(text, "crm.toml")
    assert "s3cr3t" not in str(info.value)


def test_a_password_given_as_password_env_is_refused_without_repeating_it() -> None:
    text = GOOD.replace('primary_key = ["accountid"]\n\n[entity2]',
                        'primary_key = ["accountid"]\npassword_env = "hunter2!"\n\n[entity2]')
    with pytest.raises(ConfigError) as info:
        parse_connection(text, "crm.toml")
    message = str(info.value)
    assert message.startswith("crm.toml:")
    assert "entity1.password_env: expected the name of an environment variable" in message
    assert "hunter2" not in message


# A secret holding an unquoted ';' runs on into what looks like more pairs: "hunter2TAIL".
SECRET_RUNS_ON = [
    ("sqlserver", "Data Source=sqlhost;User ID=sa;Password=abc;hunter2TAIL;", "Password"),
    ("sqlserver", "Data Source=sqlhost;User ID=sa;Password=abc;hunter2=TAIL", "Password"),
    ("sqlserver", "Data Source=sqlhost;PWD=abc;Port=hunter2TAIL;Initial Catalog=crm", "PWD"),
    ("sqlserver", "Data Source=sqlhost;Password=abc;=hunter2TAIL", "Password"),
    ("sqlserver", "Data Source=sqlhost;Password=abc;hunter2TAIL='x", "Password"),
    ("sqlserver", "Data Source=sqlhost;Password=abc;hunter2TAIL='x'y", "Password"),
    ("sqlserver", "Data Source=sqlhost;Password='abc;hunter2TAIL", "Password"),
    ("odata", "URL=https://crm.example/api/data/v9.2/accounts;ClientSecret=abc;hunter2TAIL",
     "ClientSecret"),
    ("odata", "URL=https://crm.example/api/data/v9.2/accounts;Token=abc;Timeout=hunter2TAIL;"
     "timeout=1", "Token"),
    ("odata", "Secret=abc;URL=hunter2TAIL", "Secret"),
]


@pytest.mark.parametrize(("provider", "string", "secret"), SECRET_RUNS_ON)
def test_a_secret_running_on_past_a_semicolon_is_refused_first_and_not_repeated(
        provider: str, string: str, secret: str) -> None:
    old = ('provider = "sqlserver"\nconnection_string = "Data Source=sqlhost;Initial Catalog=crm;'
           'Trusted_Connection=True;"')
    text = GOOD.replace(old, f'provider = "{provider}"\nconnection_string = """{string}"""')
    assert text != GOOD
    with pytest.raises(ConfigError) as info:
        parse_connection(text, "crm.toml")
    message = str(info.value)
    assert f"entity2.connection_string: '{secret}' must not be stored in the file" in message
    assert "hunter2" not in message and "TAIL" not in message


# A password inside a URL, wherever the provider would read it from (SQLAlchemy for a SQL URL).
URL_PASSWORDS = [
    ("postgresql", "postgresql://u:Slash/TOPSECRET@127.0.0.1:1/db", "password"),
    ("postgresql", "postgresql://u:Hash#TOPSECRET@127.0.0.1:1/db", "password"),
    ("postgresql", "postgresql://u@127.0.0.1:1/db?password=TOPSECRET", "password (its 'password' option)"),
    ("sqlserver", "mssql+pyodbc:///?odbc_connect=DRIVER%3D%7BFreeTDS%7D%3BSERVER%3Ddb%3BUID%3Du"
                  "%3BPWD%3DTOPSECRET", "password ('PWD' in odbc_connect)"),
    ("odata", "URL=http://bob:TOPSECRET@127.0.0.1:8080/accounts;Authentication=none", "password"),
    ("odata", "URL=https://bob:Sl/TOPSECRET@example.invalid/accounts;", "password"),
]


# A password where no URL with its scheme, or no key=value pair, was expected
WRITTEN_AMISS = [
    ("odata", "URL=bob:hunter2@crm.example/api/data/v9.2/accounts;Authentication=basic",
     "URL must be an http(s) URL, not 'bob:***@crm.example/api/data/v9.2/accounts'"),
    ("postgresql", "bob:hunter2@db/crm", "'bob:***@db/crm' has no '='"),
    ("postgresql", "Host=db;Database=crm;User ID=bob;Password:hunter2", "'Password:***' has no '='"),
]


@pytest.mark.parametrize(("provider", "string", "expected"), WRITTEN_AMISS,
                         ids=["odata URL without scheme", "SQL URL without scheme", "a ':' for '='"])
def test_a_password_written_amiss_in_a_connection_string_is_not_repeated(
        provider: str, string: str, expected: str) -> None:
    old = ('provider = "sqlserver"\nconnection_string = "Data Source=sqlhost;Initial Catalog=crm;'
           'Trusted_Connection=True;"')
    text = GOOD.replace(old, f'provider = "{provider}"\nconnection_string = """{string}"""')
    assert text != GOOD
    with pytest.raises(ConfigError) as info:
        parse_connection(text, "crm.toml")
    message = str(info.value)
    assert f"entity2.connection_string: {expected}" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(("provider", "string", "where"), URL_PASSWORDS)
def test_a_password_anywhere_in_a_url_is_refused_naming_the_key_not_the_password(
        provider: str, string: str, where: str) -> None:
    old = ('provider = "sqlserver"\nconnection_string = "Data Source=sqlhost;Initial Catalog=crm;'
           'Trusted_Connection=True;"')
    text = GOOD.replace(old, f'provider = "{provider}"\nconnection_string = """{string}"""')
    assert text != GOOD
    with pytest.raises(ConfigError) as info:
        parse_connection(text, "crm.toml")
    message = str(info.value)
    assert message.startswith("crm.toml:")
    assert f"entity2.connection_string: the URL's {where} must not be stored in the file" in message
    assert "SECRET" not in message and "Sl/" not in message


@pytest.mark.parametrize("text", ["\x00" * 4096, 'title = "x"\n\x00\x00', 'title = "x\x01"\n',
                                  'title = "x" # \x7f\n'],
                         ids=["zero-filled", "NULs after text", "in a string", "in a comment"])
def test_a_binary_or_damaged_file_is_told_as_one_with_the_line(text: str) -> None:
    # a file zero-filled by a crash read "not valid TOML: Empty key"
    with pytest.raises(ConfigError) as info:
        parse_connection(text, "crm.toml")
    line = text.count("\n", 0, min(text.find(c) for c in "\x00\x01\x7f" if c in text)) + 1
    assert str(info.value).startswith(f"crm.toml:{line}: not valid TOML: it holds a control "
                                      "character (U+00")
    assert str(info.value).endswith("): a binary or damaged file?")


@pytest.mark.parametrize(("text", "reason"), [
    ('title = "abc\ndirection = "left_to_right"\n', "1: not valid TOML: a string is not closed on "
                                                   "its line (a missing quote?)"),
    ('title = "x"\nx = [', "2: not valid TOML: the file ends inside a value or a table name"),
    ('title = "x"\n[entity1\n', "2: not valid TOML: the line ends too early (a missing ], }"),
    ('title = "x"\ndirection = left_to_right"\n', '2: not valid TOML: a value must be "quoted '
                                                  'text", a number, true or false, a date'),
])
def test_usual_toml_slips_are_told_in_words(text: str, reason: str) -> None:
    with pytest.raises(ConfigError) as raised:
        parse_connection(text, "crm.toml")
    assert str(raised.value).startswith("crm.toml:" + reason)
