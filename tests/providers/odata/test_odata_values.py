"""Edm values → Python values, and Python values → request JSON."""

from __future__ import annotations

import json
from datetime import UTC, date, datetime, timedelta, timezone
from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from l2tui.providers.base import ColumnType
from l2tui.providers.odata.values import column_type, converter, dumps, from_json, loads


def test_guid_becomes_lowercase_text():
    assert from_json("0A1B2C3D-0000-4000-8000-00000000ABCD", ColumnType.GUID) == (
        "0a1b2c3d-0000-4000-8000-00000000abcd")


def test_datetimeoffset_becomes_aware_utc():
    value = from_json("2023-04-07T21:59:01Z", ColumnType.DATETIME)
    assert value == datetime(2023, 4, 7, 21, 59, 1, tzinfo=UTC)
    assert value.utcoffset() == timedelta(0)


def test_datetimeoffset_with_offset_is_moved_to_utc():
    value = from_json("2023-04-07T23:59:01+02:00", ColumnType.DATETIME)
    assert value == datetime(2023, 4, 7, 21, 59, 1, tzinfo=UTC)
    assert value.tzinfo == UTC


def test_date_becomes_date():
    assert from_json("2023-10-15", ColumnType.DATE) == date(2023, 10, 15)


def test_decimal_as_number_or_as_string_becomes_decimal():
    assert from_json(Decimal("20000.0000"), ColumnType.DECIMAL) == Decimal("20000.0000")
    assert from_json("12.50", ColumnType.DECIMAL) == Decimal("12.50")
    assert from_json(0.1, ColumnType.DECIMAL) == Decimal("0.1")


def test_response_json_keeps_decimals_exact():
    body = loads('{"revenue": 12345678901234.1234}')
    assert body["revenue"] == Decimal("12345678901234.1234")


def test_integers_booleans_and_choices():
    assert from_json(5, ColumnType.INTEGER) == 5
    assert from_json("7", ColumnType.INTEGER) == 7
    assert from_json(True, ColumnType.BOOLEAN) is True
    assert from_json(Decimal("1.5"), ColumnType.FLOAT) == 1.5


def test_null_stays_none():
    for kind in ColumnType:
        assert from_json(None, kind) is None


def test_unreadable_value_is_passed_through_unchanged():
    assert from_json("not-a-guid", ColumnType.GUID) == "not-a-guid"


def test_edm_type_names_map_to_column_types():
    assert column_type("Edm.Int64") == ColumnType.INTEGER
    assert column_type("Edm.Geography") == ColumnType.OTHER


def test_dumps_writes_decimals_as_exact_numbers_and_dates_as_iso():
    text = dumps({"revenue": Decimal("12345678901234567.8901"), "when":
                  datetime(2024, 1, 2, 3, 4, 5, tzinfo=timezone(timedelta(hours=1))),
                  "day": date(2024, 1, 2)})
    assert text == ('{"revenue":12345678901234567.8901,"when":"2024-01-02T02:04:05Z",'
                    '"day":"2024-01-02"}')


@given(st.decimals(allow_nan=False, allow_infinity=False, places=4))
def test_decimals_survive_a_json_round_trip(value):
    assert loads(dumps({"v": value}))["v"] == value


@given(st.text())
def test_strings_survive_dumps(text):
    assert json.loads(dumps({"s": text, "d": Decimal("1.5")})) == {"s": text, "d": 1.5}


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_a_canonical_utc_text_converts_to_the_moment_it_spells(moment):
    """The Converter contract that lets a run skip converting such a text (EntryTransform)."""
    whole = moment.replace(microsecond=0, tzinfo=UTC)
    text = f"{whole.year:04d}-{whole:%m-%dT%H:%M:%S}Z"
    assert converter(ColumnType.DATETIME)(text) == whole


def test_a_value_of_its_column_type_converts_to_itself():
    """The other half of the Converter contract: such a value is returned as it is."""
    for kind, value in ((ColumnType.INTEGER, 7), (ColumnType.DECIMAL, Decimal("1.50")),
                        (ColumnType.FLOAT, 1.5), (ColumnType.BOOLEAN, False),
                        (ColumnType.STRING, "x")):
        convert = converter(kind)
        assert convert is None or convert(value) is value
