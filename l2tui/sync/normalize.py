"""Value normalisation: equal values compare (and hash) equal across providers.

Rules, one per logical type of a mapped column pair:

- empty string and null are the same value (both become ``None``); a null is written into a
  NOT NULL text column as ``''`` (``null_as_empty``), which it takes;
- GUIDs: lower case, no braces;
- datetimes: UTC (naive means UTC), rendered ``YYYY-MM-DDTHH:MM:SSZ``, with as many digits of
  a second as both columns of the pair hold (``fraction_rule``): none where a side holds whole
  seconds (Dataverse, a ``DATETIME(0)``), which is cut off; else up to microseconds
  (``YYYY-MM-DDTHH:MM:SS.123456Z``, trailing zeros dropped, a whole second without a fraction);
  dates ``YYYY-MM-DD`` (a datetime paired with a date is compared as its UTC date);
- a text paired with a GUID, a datetime, a date, a number or a boolean is compared as that type:
  ``'1.000'`` and ``1`` are equal, as are ``'yes'`` and ``True``, so a run rewrites neither; a
  text that is none stays its text (and fails its row where it is written into such a column). A text is read as a number only when it
  spells one in ASCII digits, with at most a sign, a point and an exponent of up to three digits
  (``_NUMBER_TEXT``): ``'1_000'`` and ``'١٢'``, which ``Decimal`` reads, are none;
- numbers (integer, decimal, float): one plain decimal text without trailing zeros, so
  ``12.50``, ``12.5`` and ``Decimal('12.5000')`` agree, and ``-0`` is ``0``; what a run writes
  to the other side, too (but for a fraction, which an integer column is given as it is, to
  fail its row, not cut off); a number whose exponent would add more than ``ZEROS`` zeros
  (``1E+200000000``) stays its text instead. How many digits count depends on what the pair's
  columns hold (``Numbers``, from ``numbers_rule``):

  - exact (both sides hold decimals exactly: Dataverse decimal and money, PostgreSQL NUMERIC):
    every digit of a decimal counts, so 123456789012.3456 is neither written nor compared as
    123456789012.346; a Python float (which only a side of doubles gives) is read to 15
    significant digits, a double's precision, so its noise is no change;
  - double (a side keeps decimals as doubles: a SQLite NUMERIC column stores a fraction as
    REAL): a number is compared, and written, with the digits a double holds of it (its
    shortest text), so 123456789012.3456 stays whole while 922337203685477.0001, which SQLite
    reads back as 922337203685477, is that on both sides;
  - float (a side is a FLOAT column): 15 significant digits, as floats add noise beyond them;
  - single (a side is a single-precision FLOAT column: MySQL ``FLOAT``, ``REAL``): 6
    significant digits, all it holds (40184161.6 is kept, and read back, as 40184200);

  a pair (but a single's) whose columns say their digits after the point (a ``NUMERIC(12, 2)``,
  Dataverse money's 4, which round what they are given) keeps those both hold, rounded half away
  from zero (``scale_rule``): a SQLite double's 1234.56789 is money's 1234.5679;
- booleans: ``True``/``False`` (numbers: non-zero is true; texts as ``providers.booleans``
  reads them: ``"true"``/``"false"``, ``"yes"``/``"no"``, ``"1"``/``"0"``, …);
- binary: base64 text;
- JSON documents and arrays (a dict or a list: PostgreSQL json, jsonb, arrays): JSON text, keys
  sorted, which a JSON or array column takes back as the document or array (``providers.sql.types.pre_converter``);
  a text paired with such a column that spells an object or array is that document's text
  (``json_text``), however it is spaced or its keys ordered.
"""

from __future__ import annotations

import base64
import hashlib
import json
import math
import re
import uuid
from collections.abc import Callable
from datetime import UTC, date, datetime
from decimal import MAX_PREC, ROUND_HALF_UP, Context, Decimal, InvalidOperation
from enum import StrEnum
from typing import Any

from l2tui.providers.base import MICROSECONDS, Column, ColumnType
from l2tui.providers.booleans import text_boolean

SIGNIFICANT = 15  # a double's precision: digits of a float beyond it are noise
SINGLE_SIGNIFICANT = 6  # a single-precision float's: a MySQL FLOAT gives back no more
ZEROS = 1000  # the most zeros a number's exponent may add where it is spelt out (1E+200000000)
NUMERIC = {ColumnType.INTEGER, ColumnType.DECIMAL, ColumnType.FLOAT}


def pair_type(left: ColumnType, right: ColumnType) -> ColumnType | None:
    """The type two mapped columns are compared in, or None if they cannot convert."""
    if left == right:
        return left
    both = {left, right}
    if both <= NUMERIC:
        return ColumnType.DECIMAL
    if both == {ColumnType.BOOLEAN, ColumnType.INTEGER}:
        return ColumnType.BOOLEAN
    if both == {ColumnType.DATETIME, ColumnType.DATE}:
        return ColumnType.DATE  # the date side cannot hold a time: compare what both can hold
    if ColumnType.OTHER in both:
        return (both - {ColumnType.OTHER}).pop()
    if ColumnType.STRING in both:
        other = (both - {ColumnType.STRING}).pop()
        return other if other in _READ_FROM_TEXT else ColumnType.STRING
    return None


# the types a text paired with them is compared as (a text that is none stays its text): a
# boolean too, so the 'yes' (or '1', 'T') a text column holds is the true it was copied as
_READ_FROM_TEXT = frozenset({ColumnType.GUID, ColumnType.DATETIME, ColumnType.DATE,
                             ColumnType.BOOLEAN, *NUMERIC})


class Numbers(StrEnum):
    """How many digits of a number count, by what a numeric pair's columns hold."""

    EXACT = "exact"    # decimals held exactly on both sides: every digit
    DOUBLE = "double"  # a side keeps decimals as doubles (SQLite): the digits a double holds
    FLOAT = "float"    # a side is a FLOAT column: 15 significant digits
    SINGLE = "single"  # a side is a single-precision FLOAT column: 6 significant digits


def numbers_rule(left: Column, right: Column) -> Numbers:
    """The ``Numbers`` rule of a pair of columns (for a pair compared as a number)."""
    if ColumnType.FLOAT in (left.type, right.type):
        single = (left.type == ColumnType.FLOAT and left.single_float) \
            or (right.type == ColumnType.FLOAT and right.single_float)
        return Numbers.SINGLE if single else Numbers.FLOAT
    if left.stored_as_double or right.stored_as_double:
        return Numbers.DOUBLE
    return Numbers.EXACT


def scale_rule(left: Column, right: Column) -> int | None:
    """The digits after the point a pair compared as a number keeps: those both columns
    hold where a column says (a ``NUMERIC(12, 2)`` rounds what it is given to 2), None where
    neither does (an integer column fails a fraction rather than round it; SQLite keeps any)."""
    held = [c.scale for c in (left, right) if c.type == ColumnType.DECIMAL and
            c.scale is not None and not c.stored_as_double]
    return min(held) if held else None


def fraction_rule(left: Column, right: Column) -> int:
    """The digits of a second a pair compared as a datetime keeps: those both columns hold."""
    return min(_fraction_digits(left), _fraction_digits(right))


def _fraction_digits(column: Column) -> int:
    """The digits of a second a column holds (a text column: all it is given)."""
    if column.type == ColumnType.STRING:
        return MICROSECONDS
    return min(column.fraction_digits, MICROSECONDS)


def normalize(value: Any, kind: ColumnType, numbers: Numbers = Numbers.EXACT,
              digits: int = 0) -> Any:
    """The canonical, JSON-able form of a value for a pair compared as ``kind`` (a datetime
    with ``digits`` digits of a second)."""
    if value is None or (isinstance(value, str) and value == ""):
        return None
    try:
        return _slow(kind, numbers, digits)(value)
    except (ValueError, TypeError, InvalidOperation, ArithmeticError):
        return str(value)


def _slow(kind: ColumnType, numbers: Numbers, digits: int = 0) -> Callable[[Any], Any]:
    """The general normaliser of a pair type (and its ``Numbers`` rule, or its digits of a
    second)."""
    if kind in NUMERIC:
        return _NUMBERS[numbers]
    if kind == ColumnType.DATETIME:
        return _MOMENTS[digits]
    return _NORMALIZERS.get(kind, _other)


def _guid(value: Any) -> str:
    if isinstance(value, str) and len(value) == 36 and value[8] == "-" and value[23] == "-":
        return value.lower()
    text = str(value).strip().strip("{}")
    try:
        return str(uuid.UUID(text))
    except ValueError:
        return text.lower()


_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))


def utc_text(value: datetime) -> str:
    """A datetime's fields as ``YYYY-MM-DDTHH:MM:SSZ`` (its zone, if any, is not looked at).

    The same text as ``value.isoformat()[:19] + "Z"``, in a third of the time: two-digit fields
    come from a table, and a four-digit year is its own ``str``; other years take ``isoformat``,
    which zero-pads them.
    """
    year = value.year
    if year < 1000:
        return value.isoformat()[:19] + "Z"
    two = _TWO_DIGITS
    return (f"{year}-{two[value.month]}-{two[value.day]}T{two[value.hour]}:"
            f"{two[value.minute]}:{two[value.second]}Z")


def _moment(digits: int) -> Callable[[Any], str]:
    """The datetime rule keeping ``digits`` digits of a second, the rest cut off: a datetime, a
    date or an ISO text as UTC text (``_fraction_text``), a canonical text as it is."""
    text = _fraction_text(digits)

    def moment(value: Any) -> str:
        if isinstance(value, str) and len(value) == 20 and value[10] == "T" and value[19] == "Z":
            return value
        return text(_utc(value))

    return moment


def _utc(value: Any) -> datetime:
    """A datetime, a date or an ISO text as a datetime in UTC (naive: UTC)."""
    if isinstance(value, str):
        text = value.strip()
        if text.endswith(("Z", "z")):
            text = text[:-1] + "+00:00"
        value = datetime.fromisoformat(text)
    if isinstance(value, datetime):
        return value.astimezone(UTC) if value.tzinfo is not None else value
    if isinstance(value, date):
        return datetime(value.year, value.month, value.day)
    raise TypeError(type(value).__name__)


def _fraction_text(digits: int) -> Callable[[datetime], str]:
    """``utc_text`` with the microseconds cut to ``digits`` digits after the seconds, if any are
    left: ``.5`` for 500000 (no trailing zeros)."""
    if not digits:
        return utc_text
    step = 10 ** (MICROSECONDS - digits)

    def text(value: datetime) -> str:
        micro = value.microsecond // step * step
        if not micro:
            return utc_text(value)
        return f"{utc_text(value)[:-1]}.{micro:06d}".rstrip("0") + "Z"

    return text


_MOMENTS = [_moment(digits) for digits in range(MICROSECONDS + 1)]
_datetime = _MOMENTS[0]


def _date(value: Any) -> str:
    if isinstance(value, datetime):
        if value.tzinfo is not None:
            value = value.astimezone(UTC)
        return value.date().isoformat()
    if isinstance(value, date):
        return value.isoformat()
    return date.fromisoformat(str(value).strip()[:10]).isoformat()


def _number(value: Any) -> str:
    """A number's canonical text, every digit of a decimal kept (``Numbers.EXACT``)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    number = _decimal(value)
    return _plain(number) if number.is_finite() else str(number)


def _float_text(value: float) -> str:
    """A float's text to 15 significant digits (a double's precision: beyond is noise)."""
    text = f"{value:.15g}"
    if "e" not in text and "n" not in text:
        return "0" if text == "-0" else text
    number = Decimal(repr(value))
    return _plain(_rounded(number)) if number.is_finite() else str(number)


def _as_double(value: Any) -> str:
    """A number's canonical text with the digits a double holds of it (``Numbers.DOUBLE``)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if kind is float:
        text = repr(value)  # the shortest text that reads back as this double
        if "e" not in text and "n" not in text:
            text = text.rstrip("0").rstrip(".")
            return "0" if text == "-0" else text
    if isinstance(value, bool):
        return "1" if value else "0"
    number = _decimal(value)
    if not number.is_finite():
        return str(number)
    if len(number.as_tuple().digits) > SIGNIFICANT:
        double = float(number)
        if math.isfinite(double):
            number = Decimal(repr(double))  # its shortest text: the number when a double holds it
    return _plain(number)


def _as_float(value: Any) -> str:
    """A number's canonical text to 15 significant digits (``Numbers.FLOAT``)."""
    kind = type(value)
    if kind is int:
        return str(value)
    if isinstance(value, float):
        return _float_text(value)
    if isinstance(value, bool):
        return "1" if value else "0"
    number = _decimal(value)
    return _plain(_rounded(number)) if number.is_finite() else str(number)


def _as_single(value: Any) -> str:
    """A number's canonical text to 6 significant digits (``Numbers.SINGLE``): a FLOAT column
    keeps 40184161.6 as 40184200, which is no change of it."""
    if isinstance(value, bool):
        return "1" if value else "0"
    number = _decimal(value)
    if not number.is_finite():
        return str(number)
    if len(number.as_tuple().digits) > SINGLE_SIGNIFICANT:
        number = round(number, SINGLE_SIGNIFICANT - number.adjusted() - 1)
    return _plain(number)


def _decimal(value: Any) -> Decimal:
    """A number as a Decimal: a float by its shortest text, anything else by ``_text_number``;
    a Decimal whose exponent would add more than ``ZEROS`` zeros spelt out is ValueError (it
    stays its text: a text's exponent has three digits at most)."""
    if type(value) is Decimal:
        if not -ZEROS <= value.adjusted() <= ZEROS and _too_long(value):
            raise ValueError("too long spelt out")
        return value  # type: ignore[no-any-return]
    return Decimal(repr(value)) if isinstance(value, float) else _text_number(str(value))


# a text read as a number: ASCII digits, a sign, a point, an exponent of at most three digits
# (``Decimal`` also reads '1_000', other scripts' digits and any exponent: '1e999999999'
# spelt out is a gigabyte); possessive (``*+``, ``?+``): no backtracking, in half the time
_NUMBER_TEXT = re.compile(r"\s*+[+-]?+(?:\d++(?:\.\d*+)?+|\.\d++)(?:[eE][+-]?+\d{1,3}+)?+\s*+",
                          re.ASCII).fullmatch


def _text_number(text: str) -> Decimal:
    """A text as a Decimal if ``_NUMBER_TEXT`` reads it as a number, else ValueError."""
    if _NUMBER_TEXT(text) is None:
        raise ValueError(f"not a number: {text[:40]!r}")
    return Decimal(text)


def _rounded(number: Decimal) -> Decimal:
    """A finite number rounded to ``SIGNIFICANT`` digits."""
    if len(number.as_tuple().digits) > SIGNIFICANT:
        return round(number, SIGNIFICANT - number.adjusted() - 1)
    return number


def _plain(number: Decimal) -> str:
    """A finite number as plain text, no exponent and no trailing zeros; ``-0`` as ``0``.

    ``format(…, "f")`` spells every digit: no context precision rounds it (as ``normalize``
    and ``quantize`` would, past 28 digits)."""
    text = format(number, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _too_long(number: Decimal) -> bool:
    """Whether spelling a finite number out adds more than ``ZEROS`` zeros: before its digits
    (a small number) or after them (a large exponent)."""
    return number.adjusted() < -ZEROS or int(number.as_tuple().exponent) > ZEROS


_NUMBERS: dict[Numbers, Callable[[Any], str]] = {
    Numbers.EXACT: _number, Numbers.DOUBLE: _as_double, Numbers.FLOAT: _as_float,
    Numbers.SINGLE: _as_single,
}


def _boolean(value: Any) -> bool:
    if isinstance(value, bool):
        return value
    if isinstance(value, int | float | Decimal):
        return value != 0
    return text_boolean(str(value))


def _string(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float | Decimal):
        return _number(value)
    if isinstance(value, datetime):
        return _datetime(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, bytes | bytearray | memoryview):
        return _binary(value)
    if isinstance(value, dict | list | tuple):
        return _json(value)
    return str(value)


def _json(value: dict[Any, Any] | list[Any] | tuple[Any, ...]) -> str:
    """A JSON document (a PostgreSQL json or jsonb value) or an array as JSON text, keys sorted
    (json keeps them as written, jsonb in its own order); a value JSON has no type for as its
    canonical text (a decimal or a date in an array)."""
    return json.dumps(value, ensure_ascii=False, sort_keys=True, default=_string)


def without_trailing_blanks(normalize: Normalizer) -> Normalizer:
    """``normalize`` for a text pair with a ``CHAR(n)`` column (``Column.blank_padded``), which
    holds no trailing blanks of its own: ``'Contoso  '`` elsewhere is the ``'Contoso'`` MySQL
    gives back (or the ``'Contoso   …'`` PostgreSQL pads it to), and blanks alone are empty."""

    def trimmed(value: Any) -> Any:
        made = normalize(value)
        if type(made) is str and made[-1:] == " ":
            return made.rstrip(" ") or None
        return made

    return trimmed


def json_text(normalize: Normalizer) -> Normalizer:
    """``normalize`` for a text column paired with one of JSON documents or arrays (PostgreSQL
    json, jsonb, an array), whose values read as JSON text with keys sorted (``_json``): a text
    spelling a JSON object or array is that document's text too, so ``{"c":2}`` in the text
    column equals the document ``{"c": 2}`` and a run does not rewrite it on every comparison;
    other text is as ``normalize`` makes it."""

    def document_text(value: Any) -> Any:
        if type(value) is str and value.lstrip()[:1] in ("{", "["):
            try:
                document = json.loads(value)
            except ValueError:
                return normalize(value)
            if isinstance(document, dict | list):
                return _json(document)
        return normalize(value)

    return document_text


def _binary(value: Any) -> str:
    if isinstance(value, memoryview):
        value = value.tobytes()
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return str(value)


def _other(value: Any) -> Any:
    """A value of a type the sync does not know (a JSON document's scalar: text, a number,
    true or false) as it is; a dict or list as JSON text; anything else as text."""
    if isinstance(value, str | int | float):
        return value
    return _string(value)


_NORMALIZERS = {
    ColumnType.GUID: _guid,
    ColumnType.STRING: _string,
    ColumnType.INTEGER: _number,
    ColumnType.DECIMAL: _number,
    ColumnType.FLOAT: _number,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.DATE: _date,
    ColumnType.BINARY: _binary,
}


_TEXT = (ColumnType.STRING, ColumnType.GUID, ColumnType.OTHER)


def null_as_empty(target: ColumnType, nullable: bool) -> bool:
    """Whether a null is written into a column as ``''``: a NOT NULL text column, which refuses
    a null (the two compare as one value)."""
    return target == ColumnType.STRING and not nullable


def denormalize(value: Any, target: ColumnType, nullable: bool = True) -> Any:
    """A canonical value as the Python value a provider writes into a ``target`` column (a null
    into a NOT NULL text column as ``''``)."""
    if value is None:
        return "" if null_as_empty(target, nullable) else None
    if type(value) is str and target in _TEXT:
        return value
    try:
        if target in _TEXT:
            if target == ColumnType.OTHER and isinstance(value, int | float):
                return value  # (a JSON number, true or false, as ``_other`` keeps it)
            return value if isinstance(value, str) else _string(value)
        if target == ColumnType.INTEGER:
            return int(value) if isinstance(value, bool) else _whole(value)
        if target == ColumnType.DECIMAL:
            return Decimal(int(value)) if isinstance(value, bool) else _decimal(value)
        if target == ColumnType.FLOAT:
            return float(int(value)) if isinstance(value, bool) else float(_decimal(value))
        if target == ColumnType.BOOLEAN:
            return _boolean(value)
        if target == ColumnType.DATETIME:
            text = str(value)
            if len(text) == 10:
                text += "T00:00:00Z"
            return datetime.fromisoformat(text.replace("Z", "+00:00")).astimezone(UTC)
        if target == ColumnType.DATE:
            return date.fromisoformat(str(value)[:10])
        if target == ColumnType.BINARY:
            return base64.b64decode(str(value))
    except (ValueError, TypeError, InvalidOperation, ArithmeticError):
        return value
    return value


def _whole(value: Any) -> int:
    """A number as an int; ValueError where it has a fraction, which the int would cut off."""
    number = _decimal(value)
    if number != number.to_integral_value():
        raise ValueError(f"not a whole number: {value!r}")
    return int(number)


# -- resolved once per column: the same results as normalize / denormalize, faster --------------

Normalizer = Callable[[Any], Any]


def normalizer(kind: ColumnType, numbers: Numbers = Numbers.EXACT, digits: int = 0,
               scale: int | None = None) -> Normalizer:
    """``normalize(value, kind, numbers, digits)`` as a function of the value alone, resolved
    once per column; an exact number rounded (half away from zero, as databases round) to
    ``scale`` digits after the point when given (``scale_rule``).

    Values that are already canonical (text, an int, a UTC datetime, a GUID in its usual form)
    take a short path; anything else goes through ``normalize``, so results never differ.
    """
    slow = _slow(kind, numbers, digits)

    def general(value: Any) -> Any:
        if value is None or (isinstance(value, str) and value == ""):
            return None
        try:
            return slow(value)
        except (ValueError, TypeError, InvalidOperation, ArithmeticError):
            return str(value)

    if kind == ColumnType.STRING:
        def string(value: Any) -> Any:
            if type(value) is str:
                return value or None
            return None if value is None else general(value)
        return string
    if kind == ColumnType.GUID:
        def guid(value: Any) -> Any:
            if type(value) is str and len(value) == 36 and value[8] == "-" and value[23] == "-":
                return value.lower()
            return None if value is None else general(value)
        return guid
    if kind in NUMERIC and numbers == Numbers.SINGLE:
        def single(value: Any) -> Any:
            return None if value is None else general(value)
        return single
    if kind in NUMERIC:
        every_digit = numbers == Numbers.EXACT

        def number(value: Any) -> Any:
            kind = type(value)
            if kind is int:
                return str(value)
            if kind is Decimal:
                # plain and fractional: canonical once trailing zeros are gone (a column's scale
                # pads them: NUMERIC(38, 10)) and a '.' left last dropped, -0 made 0; at any
                # length for an exact pair, else at most 15 digits (more: the rule's own way)
                text = str(value)
                if "." in text and "E" not in text:
                    if text[-1] == "0":
                        text = text.rstrip("0").rstrip(".")
                        if text == "-0":
                            return "0"
                    if every_digit or \
                            len(text) - ("." in text) - (text[0] == "-") <= SIGNIFICANT:
                        return text
            return None if value is None else general(value)
        if scale is not None:  # (a double too: SQLite's 1234.56789 is Dataverse money's 1234.5679)
            return _scaled(number, scale)
        return number
    if kind == ColumnType.BOOLEAN:
        def boolean(value: Any) -> Any:
            if type(value) is bool:
                return value
            return None if value is None else general(value)
        return boolean
    if kind == ColumnType.DATETIME:
        return _moment_normalizer(_fraction_text(digits), general)
    return general


_WIDE = Context(prec=MAX_PREC)  # quantize to any number of digits, none lost to precision


def _scaled(number: Normalizer, scale: int) -> Normalizer:
    """``number`` rounded to ``scale`` digits after the point, as a column of that scale holds
    it (PostgreSQL's ``NUMERIC(12, 2)`` keeps 1.1235 as 1.12, which is then no change)."""
    step = Decimal(1).scaleb(-scale)

    def scaled(value: Any) -> Any:
        text = number(value)
        if type(text) is str and "." in text and len(text) - text.index(".") - 1 > scale:
            try:
                return _plain(Decimal(text).quantize(step, ROUND_HALF_UP, _WIDE))
            except (ValueError, InvalidOperation):
                return text
        return text

    return scaled


def _moment_normalizer(text: Callable[[datetime], str], general: Normalizer) -> Normalizer:
    """``normalizer`` of a datetime pair: a naive or UTC datetime as ``text`` spells it, a
    canonical text in whole seconds as it is (``general``: any other value through
    ``normalize``)."""

    def moment(value: Any) -> Any:
        if type(value) is datetime:
            zone = value.tzinfo
            if zone is None or zone is UTC:
                return text(value)
        elif type(value) is str and len(value) == 20 and value[10] == "T" and value[19] == "Z":
            return value
        return None if value is None else general(value)

    return moment


Denormalizer = Callable[[Any], Any]

# pair types whose canonical values are always ``str`` or None (see the normalisers: every path,
# the fallback ``str(value)`` on an error included, returns text)
_TEXT_VALUED = frozenset({ColumnType.STRING, ColumnType.GUID, ColumnType.DATETIME, ColumnType.DATE,
                          ColumnType.BINARY, *NUMERIC})


def keeps_value(kind: ColumnType, target: ColumnType) -> bool:
    """Whether ``denormalize(normalize(x, kind), target)`` is always ``normalize(x, kind)``.

    True for a text target (string, GUID, other) of a pair whose canonical values are text:
    ``denormalize`` returns a ``str`` (or None) unchanged for those targets. A caller may then
    skip the call (but for a null into a NOT NULL text column: ``null_as_empty``).
    """
    return target in _TEXT and kind in _TEXT_VALUED


def denormalizer(target: ColumnType, nullable: bool = True) -> Denormalizer:
    """``denormalize(value, target, nullable)`` as a function of the value alone, resolved once
    per column."""

    def general(value: Any) -> Any:
        return denormalize(value, target)

    if null_as_empty(target, nullable):
        def text_not_null(value: Any) -> Any:
            if type(value) is str:
                return value
            return "" if value is None else general(value)
        return text_not_null
    if target in _TEXT:
        def text(value: Any) -> Any:
            if type(value) is str or value is None:
                return value
            return general(value)
        return text
    if target == ColumnType.INTEGER:
        def integer(value: Any) -> Any:
            if type(value) is str and value.isdigit() and value.isascii():
                try:
                    return int(value)
                except ValueError:  # more digits than int() reads of a text (4,300)
                    return general(value)
            return None if value is None else general(value)
        return integer
    if target == ColumnType.DECIMAL:
        def decimal(value: Any) -> Any:
            if type(value) is str:
                # ``_text_number``'s rule, checked after Decimal reads the text rather than by
                # its pattern first (a first sync of 100,000 accounts spent ~0.1 s in it)
                if value.isascii() and "_" not in value:
                    try:
                        number = Decimal(value)
                    except InvalidOperation:
                        return value
                    if number.is_finite() and -ZEROS <= number.adjusted() <= ZEROS:
                        return number
                return value
            return None if value is None else general(value)
        return decimal
    if target == ColumnType.DATETIME:
        def moment(value: Any) -> Any:
            if type(value) is str and len(value) == 20 and value[10] == "T" and value[19] == "Z":
                try:
                    return datetime.fromisoformat(value)  # aware UTC (Python 3.11 reads "Z")
                except ValueError:
                    return general(value)
            return None if value is None else general(value)
        return moment
    if target == ColumnType.BOOLEAN:
        def boolean(value: Any) -> Any:
            if type(value) is bool or value is None:
                return value
            return general(value)
        return boolean
    return general


_ENCODER = json.JSONEncoder(separators=(",", ":"), ensure_ascii=False)
_blake2b = hashlib.blake2b


def _make_encode() -> Callable[[list[Any]], str]:
    """``json.dumps(values, separators=(",", ":"), ensure_ascii=False)``, its C encoder made once
    (``dumps`` builds one per call); the plain encoder where the C one is missing."""
    try:
        from json.encoder import (  # type: ignore[attr-defined]
            c_make_encoder,
            encode_basestring,
        )
    except ImportError:  # pragma: no cover - CPython always has it
        return _ENCODER.encode
    if c_make_encoder is None:  # pragma: no cover
        return _ENCODER.encode
    iterencode = c_make_encoder(None, _ENCODER.default, encode_basestring, None, ":", ",",
                                False, False, True)
    join = "".join

    def encode(values: list[Any]) -> str:
        return join(iterencode(values, 0))

    return encode


_encode = _make_encode()


def values_json(values: list[Any]) -> str:
    """Normalised values as compact JSON text (what ``digest`` hashes; ``json.loads`` reads it
    back), without building an encoder per call as ``json.dumps`` does."""
    return _encode(values)


def digest(values: list[Any]) -> str:
    """A short stable hash of canonical values (blake2b of their canonical JSON).

    One plain string (printable ASCII without a quote or backslash, which JSON writes as it is,
    such as a datetime's canonical text) is spelled directly instead of through the encoder.
    """
    if len(values) == 1:
        one = values[0]
        if type(one) is str and one.isascii() and one.isprintable() and '"' not in one and \
                "\\" not in one:
            return _blake2b(f'["{one}"]'.encode("ascii"), digest_size=12).hexdigest()
    return _blake2b(_encode(values).encode("utf-8"), digest_size=12).hexdigest()


_PLAIN_NUMBER = re.compile(r"-?[0-9]+(\.[0-9]+)?")


def number_value(value: Any) -> Any:
    """A number's canonical text as the number it spells (an int, or an exact Decimal); any
    other value as it is (a text that is no number, "NaN")."""
    if type(value) is not str or not _PLAIN_NUMBER.fullmatch(value):
        return value
    try:
        return Decimal(value) if "." in value else int(value)
    except ValueError:  # (an integer of more digits than Python converts)
        return value


# a Decimal goes through json.dumps as a marked string, then loses its quotes; the marker is
# random per process, so no value can hold it
_NUMBER_MARKER = f"~num{uuid.uuid4().hex}~"
_MARKED_NUMBER = re.compile(f'"{_NUMBER_MARKER}(-?[0-9.]+)"')


def exact_json(data: Any, **options: Any) -> str:
    """``json.dumps(data, **options)`` with each finite Decimal as the exact number it spells
    (every digit, as ``number_value`` made it) and anything else JSON has no type for as text."""
    text = json.dumps(data, default=_marked, **options)
    if _NUMBER_MARKER not in text:
        return text
    return _MARKED_NUMBER.sub(lambda m: m.group(1), text)


def _marked(value: Any) -> str:
    if isinstance(value, Decimal) and value.is_finite():
        return f"{_NUMBER_MARKER}{_plain(value)}"
    return str(value)
