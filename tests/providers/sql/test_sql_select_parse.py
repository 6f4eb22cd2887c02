"""The select statement is parsed and refused before anything connects."""

from __future__ import annotations

import pytest

from l2tui.config.loader import parse_connection
from l2tui.config.specs import SelectError, find_spec
from l2tui.config.specs.sql_select import parse_select, tokenize
from l2tui.errors import ConfigError

REFUSED = [
    ("SELECT * FROM t; DROP TABLE t", "only one statement"),
    ("SELECT 1 /* */; DROP TABLE t", "comments are not allowed"),
    ("SELECT * FROM t -- WHERE secret = 1", "comments are not allowed"),
    ("SELECT * FROM t /* hidden */", "comments are not allowed"),
    ("SELECT * FROM t # mysql comment", "comments are not allowed"),
    ("SELECT * FROM t;; SELECT 2", "only one statement"),
    ("DELETE FROM t", "not 'DELETE …'"),
    ("UPDATE t SET a = 1", "not 'UPDATE …'"),
    ("INSERT INTO t VALUES (1)", "not 'INSERT …'"),
    ("DROP TABLE t", "not 'DROP …'"),
    ("TRUNCATE TABLE t", "not 'TRUNCATE …'"),
    ("CREATE TABLE x (a int)", "not 'CREATE …'"),
    ("SELECT * INTO copy FROM t", "found 'INTO'"),
    ("WITH d AS (DELETE FROM t RETURNING *) SELECT * FROM d", "found 'DELETE'"),
    ("SELECT * FROM t FOR UPDATE", "found 'UPDATE'"),
    ("SELECT 'a\\'' ; DROP TABLE t; ' FROM t", "backslashes are not allowed"),
    ("SELECT 'unclosed FROM t", "unclosed string literal"),
    ('SELECT "unclosed FROM t', "unclosed quoted name"),
    ("SELECT (a FROM t", "unbalanced"),
    ("EXEC dbo.p @x = 1; DROP TABLE t", "only one statement"),
    ("EXEC dbo.p (SELECT 1)", "procedure arguments must be literal values"),
    ("", "empty"),
    ("  ;  ", "empty"),
]


@pytest.mark.parametrize(("text", "message"), REFUSED)
def test_anything_but_one_read_statement_is_refused(text: str, message: str) -> None:
    with pytest.raises(SelectError, match=message) as info:
        parse_select(text)
    assert "\n" not in str(info.value)


WRITABLE = [
    ("accounts", "accounts", None),
    ("dbo.accounts", "accounts", None),
    ("[My Accounts]", "My Accounts", None),
    ('"Quoted ""Name"""', 'Quoted "Name"', None),
    ("`back tick`", "back tick", None),
    ("SELECT * FROM accounts", "accounts", None),
    ("select a, b from sales.accounts where city = 'Köln; -- not a comment'", "accounts",
     ("a", "b")),
    ("SELECT t.a, [b c] FROM dbo.t AS t WITH (NOLOCK) ORDER BY a", "t", ("a", "b c")),
    ("SELECT TOP 100 * FROM t;", "t", None),
    ("SELECT * FROM t WHERE created > :since", "t", None),
]


@pytest.mark.parametrize(("text", "table", "columns"), WRITABLE)
def test_a_table_name_or_plain_single_table_select_is_writable(
        text: str, table: str, columns: tuple[str, ...] | None) -> None:
    info = parse_select(text)
    assert info.writable, info.reason
    assert info.table_name == table
    assert (None if info.columns is None else tuple(c.text for c in info.columns)) == columns


READ_ONLY = [
    ("SELECT a.x FROM a JOIN b ON a.id = b.id", "joins"),
    ("SELECT * FROM a LEFT OUTER JOIN b ON a.id = b.id", "joins"),
    ("SELECT * FROM a, b", "joins"),
    ("SELECT COUNT(*) FROM t", "aggregate"),
    ("SELECT city, SUM(revenue) FROM t GROUP BY city", "aggregate"),
    ("SELECT city FROM t GROUP BY city", "GROUP BY"),
    ("SELECT a FROM t UNION SELECT a FROM u", "UNION"),
    ("SELECT * FROM t WHERE id IN (SELECT id FROM u)", "subquery"),
    ("SELECT DISTINCT city FROM t", "DISTINCT"),
    ("WITH x AS (SELECT 1 AS a) SELECT * FROM x", "common table expression"),
    ("SELECT a AS b FROM t", "expression or alias"),
    ("SELECT a + 1 FROM t", "expression or alias"),
    ("SELECT 1", "no FROM"),
    ("EXEC dbo.report 2024, N'EU'", "stored procedure"),
    ("CALL report(1)", "stored procedure"),
]


@pytest.mark.parametrize(("text", "reason"), READ_ONLY)
def test_joins_aggregates_unions_subqueries_and_procedures_are_read_only(
        text: str, reason: str) -> None:
    info = parse_select(text)
    assert not info.writable
    assert reason in info.reason


def test_tokenizer_keeps_semicolons_and_dashes_inside_literals_and_quoted_names() -> None:
    tokens = tokenize("SELECT [a;b], 'x -- y; z' FROM \"t;t\"")
    assert [t.text for t in tokens if t.kind in ("ident", "string")] == ["a;b", "x -- y; z", "t;t"]


def test_the_spec_check_refuses_a_second_statement() -> None:
    spec = find_spec("sqlserver")
    assert spec is not None
    with pytest.raises(SelectError, match="only one statement"):
        spec.validate_select("SELECT * FROM t; DROP TABLE t")


def test_loading_a_connection_file_refuses_a_bad_select_with_its_line() -> None:
    text = """title = "x"
[entity1]
provider = "sqlite"
connection_string = "Data Source=a.db"
select = "SELECT * FROM t; DROP TABLE t"
[entity2]
provider = "sqlite"
connection_string = "Data Source=b.db"
select = "t"
"""
    with pytest.raises(ConfigError, match=r"entity1\.select: only one statement") as info:
        parse_connection(text, "c.toml")
    assert info.value.line == 5
