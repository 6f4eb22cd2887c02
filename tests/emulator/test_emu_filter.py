"""The $filter parser on plain dictionaries (no HTTP)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from l2tui.emulator.errors import ODataError
from l2tui.emulator.odata_query import key_values, parse_filter

ROWS = [
    {"name": "Contoso Ltd", "city": "Paris", "n": 10, "rev": 1.5, "d": "2023-04-07T21:59:01Z",
     "id": "0b3d4c5e-0000-4000-8000-000000000001", "flag": True},
    {"name": "O'Brien & Co", "city": None, "n": 3, "rev": None, "d": "2022-01-01T00:00:00Z",
     "id": "0b3d4c5e-0000-4000-8000-000000000002", "flag": False},
    {"name": "fabrikam_inc", "city": "paris", "n": 7, "rev": 20000.0, "d": None,
     "id": "0b3d4c5e-0000-4000-8000-000000000003", "flag": False},
]


def field(name: str):
    if name not in ROWS[0]:
        raise ODataError(400, "0x80060888", f"unknown {name}")
    return lambda row: row[name]


def names(text: str, aliases: dict[str, str] | None = None) -> list[str]:
    pred = parse_filter(text, field, aliases)
    return [r["name"] for r in ROWS if pred(r)]


@pytest.mark.parametrize(("text", "expected"), [
    ("n eq 10", ["Contoso Ltd"]),
    ("n ne 10", ["O'Brien & Co", "fabrikam_inc"]),
    ("n gt 3 and n lt 10", ["fabrikam_inc"]),
    ("n ge 7", ["Contoso Ltd", "fabrikam_inc"]),
    ("n le 3", ["O'Brien & Co"]),
    ("city eq 'PARIS'", ["Contoso Ltd", "fabrikam_inc"]),
    ("city eq null", ["O'Brien & Co"]),
    ("city ne null and not (n eq 7)", ["Contoso Ltd"]),
    ("name eq 'O''Brien & Co'", ["O'Brien & Co"]),
    ("rev gt 1000", ["fabrikam_inc"]),
    ("rev gt 1.25", ["Contoso Ltd", "fabrikam_inc"]),
    ("d lt 2023-01-01T00:00:00Z", ["O'Brien & Co"]),
    ("d ge 2023-04-07T23:59:01+02:00", ["Contoso Ltd"]),
    ("id eq 0B3D4C5E-0000-4000-8000-000000000002", ["O'Brien & Co"]),
    ("flag eq true", ["Contoso Ltd"]),
    ("n eq 3 or n eq 7 and city eq 'x'", ["O'Brien & Co"]),
    ("(n eq 3 or n eq 7) and city eq 'paris'", ["fabrikam_inc"]),
    ("not not (n eq 3)", ["O'Brien & Co"]),
    ("name eq city", []),
])
def test_comparisons_and_logic(text: str, expected: list[str]):
    assert names(text) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("contains(name,'LTD')", ["Contoso Ltd"]),
    ("startswith(name,'o''b')", ["O'Brien & Co"]),
    ("endswith(name,'inc')", ["fabrikam_inc"]),
    ("contains(name,'n_&')", ["O'Brien & Co"]),  # _ is a one-character wildcard
    ("contains(name,'m[_]i')", ["fabrikam_inc"]),
    ("startswith(name,'[a-d]')", ["Contoso Ltd"]),
    ("startswith(name,'[^a-d]')", ["O'Brien & Co", "fabrikam_inc"]),
    ("contains(name,'o%o')", ["Contoso Ltd", "O'Brien & Co"]),
    ("contains(city,'x')", []),
])
def test_string_functions_honour_sql_wildcards(text: str, expected: list[str]):
    assert names(text) == expected


def test_dataverse_in_and_between_functions():
    assert names("Microsoft.Dynamics.CRM.In(PropertyName='n',PropertyValues=['3','10'])") == [
        "Contoso Ltd", "O'Brien & Co"]
    assert names("Microsoft.Dynamics.CRM.Between(PropertyName='n',PropertyValues=[4,10])") == [
        "Contoso Ltd", "fabrikam_inc"]


IN_IDS = "Microsoft.Dynamics.CRM.In(PropertyName='id',PropertyValues=['0B3D4C5E-0000-4000-8000-000000000002','x'])"


@pytest.mark.parametrize("text", [IN_IDS, f"n gt 0 and {IN_IDS}", f"({IN_IDS}) and n gt 0"])
def test_a_filter_that_holds_only_for_listed_values_names_them(text: str):
    assert key_values(parse_filter(text, field)) == (
        "id", frozenset({"0b3d4c5e-0000-4000-8000-000000000002", "x"}))


@pytest.mark.parametrize("text", [
    "n eq 3", f"n eq 3 or {IN_IDS}", f"not ({IN_IDS})",
    IN_IDS.replace(".In(", ".NotIn("),
    "Microsoft.Dynamics.CRM.In(PropertyName='n',PropertyValues=[3,10])",
])
def test_a_filter_that_may_hold_for_other_values_names_none(text: str):
    assert key_values(parse_filter(text, field)) is None


def test_parameter_aliases():
    assert names("n eq @p1", {"@p1": "7"}) == ["fabrikam_inc"]


@pytest.mark.parametrize("text", [
    "n eq", "n equals 3", "(n eq 3", "n eq 3)", "contains(name)", "nosuch eq 1",
    "tolower(name) eq 'x'", "n eq @missing", "n eq 'unterminated",
])
def test_malformed_filters_are_400(text: str):
    with pytest.raises(ODataError) as info:
        parse_filter(text, field)
    assert info.value.status == 400


NUMBERS = [{"n": v} for v in (None, -3, 0, 2, 7, 7, 11)]
OPS = {"eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "gt": lambda a, b: a > b,
       "ge": lambda a, b: a >= b, "lt": lambda a, b: a < b, "le": lambda a, b: a <= b}


def _expected(op: str, value: int, row: dict) -> bool:
    if row["n"] is None:
        return op == "ne"
    return OPS[op](row["n"], value)


@given(
    clauses=st.lists(st.tuples(st.sampled_from(sorted(OPS)), st.integers(-5, 12)), min_size=1,
                     max_size=4),
    joiner=st.sampled_from(["and", "or"]),
    negate=st.booleans(),
)
def test_random_filters_agree_with_python(clauses, joiner, negate):
    text = f" {joiner} ".join(f"n {op} {value}" for op, value in clauses)
    if negate:
        text = f"not ({text})"
    pred = parse_filter(text, lambda name: lambda row: row[name])
    combine = all if joiner == "and" else any
    for row in NUMBERS:
        want = combine(_expected(op, value, row) for op, value in clauses)
        assert pred(row) == (not want if negate else want), (text, row)


@pytest.mark.parametrize("literal", ["1", "7", "7.0", "0"])
def test_eq_with_a_number_holds_as_the_general_comparison_does(literal: str):
    from l2tui.emulator.odata_query import _compare

    pred = parse_filter(f"n eq {literal}", field)
    for value in (None, 7, 7.0, "7", " 7", "seven", True, False, 0, 1, 1.0, "1e0", "0"):
        assert pred({"n": value}) == _compare("eq", value, float(literal) if "." in literal
                                              else int(literal)), value
