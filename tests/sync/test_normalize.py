"""Equal values compare equal across providers once normalised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from l2tui.providers.base import Column
from l2tui.providers.base import ColumnType as T
from l2tui.sync.normalize import (
    Numbers,
    denormalize,
    digest,
    normalize,
    normalizer,
    numbers_rule,
    pair_type,
)


def test_guid_case_and_braces_do_not_matter() -> None:
    a = normalize("3F2504E0-4F89-11D3-9A0C-0305E82C3301", T.GUID)
    assert a == normalize("{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", T.GUID)


def test_datetimes_compare_in_utc_whole_seconds() -> None:
    aware = datetime(2024, 5, 1, 14, 0, 1, 999_000, tzinfo=timezone(timedelta(hours=2)))
    assert normalize(aware, T.DATETIME) == normalize("2024-05-01T12:00:01Z", T.DATETIME)
    assert normalize(datetime(2024, 5, 1, 12, 0, 1), T.DATETIME) == "2024-05-01T12:00:01Z"


def test_decimal_scale_and_float_noise_do_not_matter() -> None:
    assert normalize(Decimal("12.5000"), T.DECIMAL) == normalize(12.5, T.DECIMAL) == "12.5"
    assert normalize(0.1 + 0.2, T.DECIMAL) == normalize(Decimal("0.3"), T.DECIMAL) == "0.3"
    noisy = 123456789012.3456 + 1e-5  # a float: its digits past the 15th are noise
    assert normalize(noisy, T.DECIMAL) == normalize(123456789012.3456, T.DECIMAL)


def test_exact_decimals_keep_every_digit_so_they_differ_beyond_the_fifteenth() -> None:
    number = normalizer(T.DECIMAL)
    for text in ("123456789012.3456", "922337203685477.1", "-922337203685477.0001",
                 "100000000000.0000000001", "1234567890123456789012345678.9012345678"):
        assert normalize(Decimal(text), T.DECIMAL) == number(Decimal(text)) == text
        assert number(Decimal(text + "000")) == text  # (a column's scale pads zeros)
    assert number(Decimal("123456789012.3456")) != number(Decimal("123456789012.3449"))
    assert normalize("123456789012.3456", T.DECIMAL) == "123456789012.3456"  # (text, too)


def test_a_decimal_kept_as_a_double_compares_with_the_digits_a_double_holds() -> None:
    from l2tui.providers.sql.types import sqlite_decimal

    double = normalizer(T.DECIMAL, Numbers.DOUBLE)
    for text in ("123456789012.3456", "922337203685477.0001", "0.1", "1.2345678901234567891"):
        written = Decimal(text)
        read_back = sqlite_decimal(float(written))  # what SQLite returns of it (a REAL)
        assert double(written) == double(read_back) == normalize(written, T.DECIMAL,
                                                                 Numbers.DOUBLE)
    assert double(Decimal("123456789012.3456")) == "123456789012.3456"
    assert double(Decimal("123456789012.3456")) != double(Decimal("123456789012.3449"))
    assert double(Decimal("922337203685477.0001")) == "922337203685477"
    assert double(Decimal("49251193.0200000033")) == "49251193.02"  # (rendered at a scale)


def test_a_pair_with_a_float_column_compares_numbers_to_fifteen_digits() -> None:
    decimal, double = Column("d", T.DECIMAL), Column("d", T.DECIMAL, stored_as_double=True)
    floating = Column("f", T.FLOAT)
    assert numbers_rule(decimal, decimal) == Numbers.EXACT
    assert numbers_rule(decimal, double) == numbers_rule(double, decimal) == Numbers.DOUBLE
    assert numbers_rule(double, floating) == numbers_rule(floating, decimal) == Numbers.FLOAT
    rounded = normalizer(T.DECIMAL, Numbers.FLOAT)
    assert rounded(Decimal("123456789012.3456")) == rounded(123456789012.3456) == \
        normalize(123456789012.3456 + 1e-5, T.DECIMAL, Numbers.FLOAT) == "123456789012.346"


def test_negative_zero_is_zero() -> None:
    for numbers in Numbers:
        number = normalizer(T.DECIMAL, numbers)
        for zero in (-0.0, Decimal("-0"), Decimal("-0.0000000000"), Decimal("-0E+3"), "-0.0"):
            assert number(zero) == normalize(zero, T.DECIMAL, numbers) == number(0) == "0"
    assert normalize(-0.0, T.STRING) == "0"


def test_a_datetime_pair_keeps_the_digits_of_a_second_both_columns_hold() -> None:
    from l2tui.sync.normalize import fraction_rule

    seconds, micro = Column("s", T.DATETIME), Column("m", T.DATETIME, fraction_digits=6)
    milli, text = Column("ms", T.DATETIME, fraction_digits=3), Column("t", T.STRING)
    assert fraction_rule(seconds, micro) == fraction_rule(micro, seconds) == 0
    assert fraction_rule(micro, milli) == 3 and fraction_rule(micro, text) == 6
    assert fraction_rule(seconds, text) == 0
    moment = datetime(2038, 1, 19, 3, 14, 8, 123456)
    for digits, text_of in ((0, "08Z"), (3, "08.123Z"), (6, "08.123456Z")):
        assert normalize(moment, T.DATETIME, digits=digits) == \
            normalizer(T.DATETIME, digits=digits)(moment) == f"2038-01-19T03:14:{text_of}"
    kept = normalizer(T.DATETIME, digits=6)
    aware = moment.replace(tzinfo=timezone(timedelta(hours=2)))
    assert kept(aware) == normalize(aware, T.DATETIME, digits=6) == "2038-01-19T01:14:08.123456Z"
    assert kept("2038-01-19 03:14:08.5") == kept(moment.replace(microsecond=500000)) == \
        "2038-01-19T03:14:08.5Z"
    assert kept(moment.replace(microsecond=0)) == kept("2038-01-19T03:14:08Z") == \
        normalize(moment, T.DATETIME) == "2038-01-19T03:14:08Z"


def test_a_date_compares_as_the_datetime_of_its_midnight_whatever_its_year() -> None:
    from datetime import date

    assert normalize(date(5, 1, 2), T.DATETIME) == normalize(datetime(5, 1, 2), T.DATETIME) == \
        "0005-01-02T00:00:00Z"


def test_bool_and_int_compare_as_booleans() -> None:
    assert pair_type(T.BOOLEAN, T.INTEGER) == T.BOOLEAN
    assert normalize(1, T.BOOLEAN) is True and normalize(False, T.BOOLEAN) is False


def test_empty_string_equals_null() -> None:
    assert normalize("", T.STRING) is None and normalize(None, T.STRING) is None


def test_a_text_paired_with_a_number_compares_as_a_number_and_one_that_is_none_as_its_text(
        ) -> None:
    for number in (T.INTEGER, T.DECIMAL, T.FLOAT):
        assert pair_type(T.STRING, number) == pair_type(number, T.STRING) == number
    assert normalize("1.000", T.DECIMAL) == normalize(Decimal(1), T.DECIMAL) == "1"
    assert normalize("2.50", T.DECIMAL, Numbers.DOUBLE) == normalize(2.5, T.DECIMAL) == "2.5"
    assert normalize("n/a", T.DECIMAL) == normalizer(T.DECIMAL)("n/a") == "n/a"


def test_types_that_cannot_convert_have_no_pair_type() -> None:
    assert pair_type(T.GUID, T.BOOLEAN) is None
    assert pair_type(T.DATETIME, T.INTEGER) is None


def test_denormalize_gives_the_target_column_python_type() -> None:
    assert denormalize("12.5", T.DECIMAL) == Decimal("12.5")
    assert denormalize("2024-05-01T12:00:01Z", T.DATETIME) == datetime(2024, 5, 1, 12, 0, 1,
                                                                       tzinfo=UTC)
    assert denormalize("7", T.INTEGER) == denormalize("7.000", T.INTEGER) == 7


def test_a_null_goes_into_a_not_null_text_column_as_empty_text() -> None:
    from l2tui.sync.normalize import denormalizer

    assert denormalize(None, T.STRING, nullable=False) == \
        denormalizer(T.STRING, nullable=False)(None) == ""
    assert denormalizer(T.STRING, nullable=False)("x") == "x"
    assert denormalize(None, T.STRING) is denormalizer(T.STRING)(None) is None
    assert denormalize(None, T.INTEGER, nullable=False) is None  # (no text: the row fails)


def test_a_json_document_or_array_normalises_as_json_text_with_its_keys_sorted() -> None:
    document = {"b": [1, "x", None], "a": {"k": True}}
    assert normalize(document, T.OTHER) == normalize(document, T.STRING) == \
        '{"a": {"k": true}, "b": [1, "x", null]}'
    assert normalizer(T.OTHER)(["a", "b's"]) == '["a", "b\'s"]'


def test_a_json_number_or_boolean_keeps_its_type_into_a_column_of_unknown_type() -> None:
    for value in (5, 1.5, True):
        assert denormalize(normalize(value, T.OTHER), T.OTHER) == value
        assert type(denormalize(normalize(value, T.OTHER), T.OTHER)) is type(value)


def test_the_hash_depends_only_on_the_normalised_values() -> None:
    assert digest([normalize("A", T.STRING), normalize(1.50, T.DECIMAL)]) == \
        digest(["A", normalize(Decimal("1.5"), T.DECIMAL)])


def test_decimals_padded_by_a_column_scale_normalise_as_the_general_rule() -> None:
    import random

    from l2tui.sync.normalize import _NUMBERS

    rng = random.Random(3)
    samples = [Decimal("12345.6700000000"), Decimal("100.000"), Decimal("0.0000000000"),
               Decimal("-0.0"), Decimal("0.50"), Decimal("-12.500"), Decimal("1E+3"),
               Decimal("123456789012345.60"), Decimal("1234567890123456.0"),
               Decimal("0.000001230"), Decimal("99999999999999999.99")]
    for _ in range(5000):
        digits = "".join(rng.choice("0123456789") for _ in range(rng.randrange(1, 20)))
        point = rng.randrange(len(digits) + 1)
        text = (rng.choice(["", "-"]) + (digits[:point] or "0") + "." + digits[point:]
                + "0" * rng.randrange(12))
        samples.append(Decimal(text))
    for numbers in Numbers:
        number, slow = normalizer(T.DECIMAL, numbers), _NUMBERS[numbers]
        for value in samples:
            assert number(value) == slow(value), (numbers, value)


def test_a_text_with_a_long_exponent_stays_its_text_instead_of_being_spelt_out() -> None:
    for numbers in Numbers:
        assert normalizer(T.DECIMAL, numbers)("1e200000000") == "1e200000000"


def test_a_decimal_beyond_a_thousand_zeros_stays_its_text_instead_of_being_spelt_out() -> None:
    for numbers in Numbers:
        for text in ("1E+200000000", "1E-200000000"):
            assert normalizer(T.DECIMAL, numbers)(Decimal(text)) == text


def test_a_text_with_an_underscore_between_its_digits_is_no_number() -> None:
    assert normalizer(T.DECIMAL)("1_000") == "1_000"


def test_a_text_of_digits_other_than_ascii_is_no_number() -> None:
    assert normalizer(T.DECIMAL)("١٢") == "١٢"  # (Arabic-Indic digits: Decimal reads 12)


def test_a_text_that_is_no_number_is_written_into_a_number_column_unchanged() -> None:
    from l2tui.sync.normalize import denormalizer

    for target in (T.INTEGER, T.DECIMAL, T.FLOAT):
        assert denormalize("1_000", target) == denormalizer(target)("1_000") == "1_000"


def test_a_number_with_a_fraction_is_written_into_an_integer_column_unchanged() -> None:
    from l2tui.sync.normalize import denormalizer

    assert denormalize("1.5", T.INTEGER) == denormalizer(T.INTEGER)("1.5") == "1.5"


def test_a_text_of_more_digits_than_int_reads_is_written_into_an_integer_column_as_a_number(
        ) -> None:
    from l2tui.sync.normalize import denormalizer

    digits = "1" * 5000  # (int() refuses a text of more than 4,300 digits)
    assert denormalizer(T.INTEGER)(digits) == denormalize(digits, T.INTEGER) == int(Decimal(digits))
