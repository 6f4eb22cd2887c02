"""The select statement: OData query options, checked before anything connects."""

from __future__ import annotations

import pytest

from l2tui.config.specs import SelectError
from l2tui.providers.odata.read import build_query
from l2tui.providers.odata.spec import declaration

odata = declaration()  # the l2tui.config.specs.odata module
check_select, parse_options = odata.check_select, odata.parse_options
selected_columns = odata.selected_columns


def test_options_parse_with_or_without_a_leading_question_mark():
    assert parse_options("?$select=a,b&$top=5") == [("$select", "a,b"), ("$top", "5")]
    assert parse_options("$select=a,b&$top=5") == [("$select", "a,b"), ("$top", "5")]


def test_an_ampersand_inside_a_filter_value_stays_in_the_value():
    assert parse_options("$filter=name eq 'A&B'&$top=2") == [
        ("$filter", "name eq 'A&B'"), ("$top", "2")]


def test_an_already_encoded_value_is_decoded_once():
    assert parse_options("$filter=name%20eq%20'x'") == [("$filter", "name eq 'x'")]


def test_spaces_are_sent_as_percent_20_never_plus():
    query = build_query(parse_options("$filter=name eq 'a+b c'"))
    assert query == "$filter=name%20eq%20'a%2Bb%20c'"


def test_empty_select_statement_is_fine():
    check_select("")
    check_select("  ?  ")


@pytest.mark.parametrize("option", ["$skip=10", "$search=x", "$format=json", "$expand=x", "$apply=x"])
def test_options_the_service_does_not_support_are_refused(option):
    with pytest.raises(SelectError):
        check_select(option)


def test_skip_message_explains_paging():
    with pytest.raises(SelectError, match="nextLink"):
        check_select("$select=a&$skip=5")


def test_options_are_case_sensitive():
    with pytest.raises(SelectError, match=r"case-sensitive: write \$select"):
        check_select("$SELECT=a")


def test_unknown_option_lists_the_supported_ones():
    with pytest.raises(SelectError, match="supported: "):
        check_select("$foo=1")


def test_top_must_be_a_whole_number():
    with pytest.raises(SelectError, match="whole number"):
        check_select("$top=five")


def test_an_option_given_twice_is_refused():
    with pytest.raises(SelectError, match="twice"):
        check_select("$top=1&$top=2")


def test_select_lists_column_names():
    with pytest.raises(SelectError, match="column names"):
        check_select("$select=name,revenue desc")


def test_text_without_equals_is_not_an_option():
    with pytest.raises(SelectError, match="not a query option"):
        check_select("accounts")


def test_selected_columns():
    assert selected_columns("$select=accountid, name&$top=1") == ["accountid", "name"]
    assert selected_columns("$top=1") is None
