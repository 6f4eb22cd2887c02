"""Equal values compare equal across providers once normalised."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal

from l2tui.providers.base import ColumnType as T
from l2tui.sync.normalize import denormalize, digest, normalize, pair_type


def test_guid_case_and_braces_do_not_matter() -> None:
    a = normalize("3F2504E0-4F89-11D3-9A0C-0305E82C3301", T.GUID)
    assert a == normalize("{3f2504e0-4f89-11d3-9a0c-0305e82c3301}", T.GUID)


def test_datetimes_compare_in_utc_whole_seconds() -> None:
    aware = datetime(2024, 5, 1, 14, 0, 1, 999_000, tzinfo=timezone(timedelta(hours=2)))
    assert normalize(aware, T.DATETIME) == normalize("2024-05-01T12:00:01Z", T.DATETIME)
    assert normalize(datetime(2024, 5, 1, 12, 0, 1), T.DATETIME) == "2024-05-01T12:00:01Z"


def test_decimal_scale_and_float_noise_do_not_matter() -> None:
    assert normalize(Decimal("12.5000"), T.DECIMAL) == normalize(12.5, T.DECIMAL) == "12.5"
    assert normalize(Decimal("49251193.0200000033"), T.DECIMAL) == normalize(49251193.02, T.DECIMAL)


def test_bool_and_int_compare_as_booleans() -> None:
    assert pair_type(T.BOOLEAN, T.INTEGER) == T.BOOLEAN
    assert normalize(1, T.BOOLEAN) is True and normalize(False, T.BOOLEAN) is False


def test_empty_string_equals_null() -> None:
    assert normalize("", T.STRING) is None and normalize(None, T.STRING) is None


def test_types_that_cannot_convert_have_no_pair_type() -> None:
    assert pair_type(T.GUID, T.BOOLEAN) is None
    assert pair_type(T.DATETIME, T.INTEGER) is None


def test_denormalize_gives_the_target_column_python_type() -> None:
    assert denormalize("12.5", T.DECIMAL) == Decimal("12.5")
    assert denormalize("2024-05-01T12:00:01Z", T.DATETIME) == datetime(2024, 5, 1, 12, 0, 1,
                                                                       tzinfo=UTC)
    assert denormalize("7", T.INTEGER) == 7


def test_the_hash_depends_only_on_the_normalised_values() -> None:
    assert digest([normalize("A", T.STRING), normalize(1.50, T.DECIMAL)]) == \
        digest(["A", normalize(Decimal("1.5"), T.DECIMAL)])


def test_decimals_padded_by_a_column_scale_normalise_as_the_general_rule() -> None:
    import random

    from l2tui.sync.normalize import _number, normalizer

    rng = random.Random(3)
    number = normalizer(T.DECIMAL)
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
    for value in samples:
        assert number(value) == _number(value), value
