"""Map SQL types to the providers' logical ColumnType, and back to DDL types per database.

Values read come back as the driver gives them, except: GUIDs become lowercase ``str``,
``memoryview`` becomes ``bytes``, a SQLite decimal (stored as a double) becomes the
``Decimal`` of its shortest text, and SQLite dates, datetimes and booleans are read by our own
rules (``sqlite_reader``), which name a value they cannot read instead of stopping the read. Datetimes stay as the database returns them: naive for
``timestamp``/``datetime``/``datetime2`` columns, aware for ``timestamptz``/``datetimeoffset``
(SQLite and MySQL have no time zone: naive; a MySQL session is UTC: ``provider.utc_session``,
as is a PostgreSQL one: ``provider.utc_postgresql_session``).
"""

from __future__ import annotations

import datetime as dt
import decimal
import json
import math
import sys
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from l2tui.providers.base import MICROSECONDS, Column, ColumnType, shown_value
from l2tui.providers.booleans import text_boolean

_BY_PYTHON: dict[type, ColumnType] = {
    bool: ColumnType.BOOLEAN, int: ColumnType.INTEGER, float: ColumnType.FLOAT,
    decimal.Decimal: ColumnType.DECIMAL, str: ColumnType.STRING, bytes: ColumnType.BINARY,
    dt.datetime: ColumnType.DATETIME, dt.date: ColumnType.DATE, uuid.UUID: ColumnType.GUID,
}


def column_type(sql_type: TypeEngine[Any]) -> ColumnType:
    """The logical type of a reflected SQLAlchemy type."""
    checks: tuple[tuple[type, ColumnType], ...] = (
        (sa.Boolean, ColumnType.BOOLEAN), (sa.Uuid, ColumnType.GUID),
        (sa.Integer, ColumnType.INTEGER), (sa.Float, ColumnType.FLOAT),
        (sa.Numeric, ColumnType.DECIMAL), (sa.DateTime, ColumnType.DATETIME),
        (sa.Date, ColumnType.DATE), (sa.String, ColumnType.STRING),
        (sa.LargeBinary, ColumnType.BINARY), (sa.types._Binary, ColumnType.BINARY),
    )
    for cls, logical in checks:
        if isinstance(sql_type, cls):
            return logical
    if is_rowversion(sql_type):
        return ColumnType.BINARY
    if is_money(sql_type):
        return ColumnType.DECIMAL
    try:
        return _BY_PYTHON.get(sql_type.python_type, ColumnType.OTHER)
    except NotImplementedError:
        return ColumnType.OTHER


def fraction_digits(sql_type: TypeEngine[Any], sqlite: bool = False) -> int:
    """The digits of a second a datetime column holds, at most a Python datetime's six: all a
    SQLite text is given; else the type's precision (PostgreSQL ``TIMESTAMP(p)``, SQL Server
    ``DATETIME2(p)`` and ``DATETIMEOFFSET(p)``: 6 or more unsaid; MySQL ``DATETIME(fsp)``: 0
    unsaid). Other types hold whole seconds as far as a run goes (SQL Server ``DATETIME``
    rounds to 1/300 s)."""
    if not isinstance(sql_type, sa.DateTime):
        return 0
    if sqlite:
        return MICROSECONDS
    if hasattr(sql_type, "fsp"):
        return min(getattr(sql_type, "fsp", None) or 0, MICROSECONDS)
    if hasattr(sql_type, "precision"):
        precision = getattr(sql_type, "precision", None)
        return MICROSECONDS if precision is None else min(precision, MICROSECONDS)
    return 0


UNSIGNED_BIGINT_DIGITS = 20  # 18446744073709551615


def digits(sql_type: TypeEngine[Any], kind: ColumnType) -> tuple[int | None, int | None]:
    """A reflected column's precision and scale, for ``Column``: a decimal's (when the type
    says them), or 20 digits for MySQL's ``BIGINT UNSIGNED``; None for other columns."""
    if kind == ColumnType.DECIMAL and isinstance(sql_type, sa.Numeric) \
            and sql_type.precision is not None:
        return sql_type.precision, sql_type.scale
    if kind == ColumnType.INTEGER and isinstance(sql_type, sa.BigInteger) \
            and getattr(sql_type, "unsigned", False):
        return UNSIGNED_BIGINT_DIGITS, 0
    return None, None


def is_single_float(sql_type: TypeEngine[Any]) -> bool:
    """A reflected float column of single precision (4 bytes: 6 significant digits hold):
    MySQL's ``FLOAT`` or ``FLOAT(p)`` up to 24, PostgreSQL's and SQL Server's ``REAL``. (Not
    for SQLite, whose ``REAL`` is a double.)"""
    if not isinstance(sql_type, sa.Float) or isinstance(sql_type, sa.Double):
        return False
    precision = sql_type.precision
    if precision is not None:
        return precision <= SINGLE_FLOAT_BITS
    return type(sql_type).__name__ in ("FLOAT", "REAL") and not _mysql_double(sql_type)


def _mysql_double(sql_type: TypeEngine[Any]) -> bool:
    """MySQL's ``REAL``, a ``DOUBLE`` by another name (unless the server's sql_mode has
    ``REAL_AS_FLOAT``, when it is reflected as ``FLOAT``)."""
    mysql = sys.modules.get("sqlalchemy.dialects.mysql")
    return mysql is not None and isinstance(sql_type, mysql.REAL)


SINGLE_FLOAT_BITS = 24  # FLOAT(p): a single-precision float up to 24 bits of mantissa


def is_money(sql_type: TypeEngine[Any]) -> bool:
    """PostgreSQL's or SQL Server's ``money`` (or ``smallmoney``): a decimal."""
    return type(sql_type).__name__ in ("MONEY", "SMALLMONEY")


def python_type_of(value_type: Any) -> ColumnType:
    """The logical type of a driver's cursor-description type (a Python type for pyodbc)."""
    if isinstance(value_type, type):
        return _BY_PYTHON.get(value_type, ColumnType.OTHER)
    return ColumnType.OTHER


def is_rowversion(sql_type: TypeEngine[Any]) -> bool:
    """SQL Server ``rowversion``/``timestamp``: set by the server, never written. (A type
    reflected from SQL Server comes with its dialect loaded; no other run loads it for this.)"""
    mssql = sys.modules.get("sqlalchemy.dialects.mssql")
    return mssql is not None and isinstance(sql_type, mssql.TIMESTAMP)


def to_python(value: Any) -> Any:
    """A value as providers return it (GUIDs as lowercase str, bytes not memoryview)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return value.tobytes()
    return value


def sqlite_decimal(value: Any) -> Any:
    """A value of a SQLite decimal column (NUMERIC affinity) read raw, as a ``Decimal``.

    SQLite keeps such a value as a double (REAL) or an integer. SQLAlchemy would render the
    double with the column's scale (31918145.57 as 31918145.5700000003); its shortest text,
    ``repr``, is the number that was written. Text that is no number is left as it is.
    """
    kind = type(value)
    if kind is float:
        return decimal.Decimal(repr(value)) if math.isfinite(value) else value
    if kind is int:
        return decimal.Decimal(value)
    if kind is str:
        try:
            return decimal.Decimal(value)
        except decimal.InvalidOperation:
            return value
    return value


# -- SQLite values read raw: SQLite keeps any value in any column, text in a DATE column too ---


def sqlite_datetime(value: Any) -> Any:
    """A SQLite date-and-time column's value read raw, as a ``datetime``: ISO texts as SQLite
    users write them (a date alone, ``T`` or a space before the time, a fraction, a zone offset
    or ``Z``; naive without one); a blank text as null, as the sync takes it. ValueError for
    another value (``27/11/2026 10:00``, or a number: a Julian day or a Unix time would be a
    guess)."""
    if type(value) is str:
        # (``_iso_moment`` inline: the usual value takes one call)
        if len(value) < 11 or value[10] == " " or value[10] == "T" or value[4] != "-":
            try:
                return _datetime_from_iso(value)
            except ValueError:
                pass
        return _loose_moment(value)
    if value is None or isinstance(value, dt.datetime):
        return value
    if isinstance(value, dt.date):
        return dt.datetime(value.year, value.month, value.day)
    raise ValueError(value)


def sqlite_date(value: Any) -> Any:
    """A SQLite date column's value read raw, as a ``date``: an ISO date, or the date written
    in an ISO date and time (as ``sqlite_datetime`` reads it; its zone does not move the day);
    a blank text as null. ValueError for another value."""
    if type(value) is str:
        try:
            return _iso_date(value) if len(value) == 10 else _iso_moment(value).date()
        except ValueError:
            moment = _loose_moment(value)
            return None if moment is None else moment.date()
    if value is None:
        return None
    if isinstance(value, dt.datetime):
        return value.date()
    if isinstance(value, dt.date):
        return value
    raise ValueError(value)


def sqlite_boolean(value: Any) -> Any:
    """A SQLite boolean column's value read raw, as a ``bool``: a number is true unless 0, a
    text as ``text_boolean`` reads it ('false', 'no', 'off', …), a blank one as null.
    ValueError for another text."""
    if type(value) is int:
        return value != 0
    if value is None or type(value) is bool:
        return value
    if type(value) is str:
        return text_boolean(value) if value and not value.isspace() else None
    if type(value) is float:
        return value != 0
    raise ValueError(value)


_iso_date = dt.date.fromisoformat
_datetime_from_iso = dt.datetime.fromisoformat


def _iso_moment(text: str) -> dt.datetime:
    """``datetime.fromisoformat``, but only with ``T`` or a space between date and time (it
    takes any character there: the '+' of a date with a zone, ``2021-05-06+05:00``, too)."""
    if len(text) > 10 and text[10] != " " and text[10] != "T" and text[4] == "-":
        raise ValueError(text)
    return _datetime_from_iso(text)


def _loose_moment(text: str) -> dt.datetime | None:
    """An ISO date and time with blanks around it, a lower-case ``t`` or ``z``, or a date alone
    with a zone (midnight there); None for a blank text; ValueError for another text."""
    spelled = text.strip().upper()
    if not spelled:
        return None
    if len(spelled) > 10 and spelled[4] == "-" and spelled[10] in "+-Z":
        spelled = f"{spelled[:10]}T00:00{spelled[10:]}"
    return _iso_moment(spelled)


_READERS: dict[ColumnType, Callable[[Any], Any]] = {
    ColumnType.DATE: sqlite_date, ColumnType.DATETIME: sqlite_datetime,
    ColumnType.BOOLEAN: sqlite_boolean,
}
_READ_AS = {ColumnType.DATE: "a date", ColumnType.DATETIME: "a date and time",
            ColumnType.BOOLEAN: "true or false"}


class NotUtf8(str):
    """A SQLite text that is not UTF-8 (SQLite keeps whatever bytes it is given), as a read that
    met one takes it from then on (``tolerant_text``): the bytes decoded with each one that is
    not UTF-8 as ``\\xNN``; ``raw`` holds them as they are."""

    raw: bytes


def tolerant_text(data: bytes) -> str:
    """A SQLite connection's ``text_factory`` that reads on past a text that is not UTF-8: a
    ``NotUtf8`` for it, the text itself for the others."""
    try:
        return str(data, "utf-8")
    except UnicodeDecodeError:
        text = NotUtf8(str(data, "utf-8", "backslashreplace"))
        text.raw = bytes(data)
        return text


def not_utf8_text(name: str, value: NotUtf8) -> str:
    """The line that says a column's text could not be read as UTF-8."""
    return f"{name}: {shown_value(value.raw)} cannot be read as UTF-8 text"


def sqlite_reader(sql_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """How a SQLite column's raw value is read (None: as it is): ours for dates, datetimes and
    booleans (SQLAlchemy's takes any text as true, and stops the read at a text that is no
    date), else SQLAlchemy's result processor. Each may raise one of ``CONVERSION_ERRORS``."""
    reader = _READERS.get(column_type(sql_type))
    if reader is not None:
        return reader
    processor: Callable[[Any], Any] | None = \
        sql_type.dialect_impl(dialect).result_processor(dialect, None)
    return processor


def type_text(sql_type: TypeEngine[Any], dialect: Dialect) -> str:
    """A column type as this database spells it (its SQLAlchemy name if it cannot)."""
    try:
        return str(sql_type.compile(dialect=dialect))
    except sa.exc.SQLAlchemyError:
        return type(sql_type).__name__


def unreadable_text(name: str, value: Any, sql_type: TypeEngine[Any]) -> str:
    """The line that says a column's value could not be read as its type."""
    shown = shown_value(value)
    what = _READ_AS.get(column_type(sql_type))
    if what is None:
        try:
            what = str(sql_type)
        except sa.exc.SQLAlchemyError:
            what = type(sql_type).__name__
    return f"{name}: {shown} cannot be read as {what}"


def guid_text(value: Any) -> Any:
    """A GUID column's value as lowercase text (drivers without a uuid type give strings)."""
    if isinstance(value, str):
        return value.lower()
    return to_python(value)


def _to_uuid(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return uuid.UUID(value)
        except ValueError:
            return value
    return value


def _to_datetime(value: Any) -> Any:
    if isinstance(value, str):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


def _to_document(value: Any) -> Any:
    """JSON text of an object or array as the document it spells, for a JSON column (whose
    driver would store the text as a JSON string); other text is stored as a JSON string."""
    if isinstance(value, str) and value.lstrip()[:1] in ("{", "["):
        try:
            return json.loads(value)
        except ValueError:
            return value
    return value


def _to_list(value: Any) -> Any:
    """JSON text of an array as a list, for an array column (a JSON array is how the sync
    writes one: see ``sync.normalize``); ValueError for other text (the driver would take its
    characters for the elements)."""
    if not isinstance(value, str):
        return value
    document = _to_document(value)
    if not isinstance(document, list):
        raise ValueError(value)
    return document


def pre_converter(sql_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """What makes a value ready to bind to a column of this type (None when nothing would
    change it): text GUIDs become UUID for native uuid columns, ISO text a datetime, JSON text
    a document for a JSON column and a list for an array."""
    if isinstance(sql_type, sa.Uuid) and sql_type.as_uuid:
        return _to_uuid
    if isinstance(sql_type, sa.DateTime):
        return _to_datetime
    if isinstance(sql_type, sa.JSON):
        return _to_document
    if isinstance(sql_type, sa.ARRAY):
        return _to_list
    return None


def bind_converter(sql_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """``pre_converter`` and then the dialect's bind processor, for a raw DBAPI statement."""
    pre = pre_converter(sql_type)
    processor = sql_type._cached_bind_processor(dialect)
    bind: Callable[[Any], Any] | None = processor
    if processor is not None and dialect.name == "sqlite":
        bind = _sqlite_bind(sql_type, processor)
    if bind is None:
        return pre
    if pre is None:
        return bind

    def both(value: Any) -> Any:
        return bind(pre(value))

    return both


# SQLAlchemy's default SQLite DATETIME text, which ``datetime.isoformat(" ", "microseconds")``
# spells the same way (zero-padded four-digit year, six-digit fraction) up to the UTC offset
_SQLITE_DATETIME_FORMAT = sqlite.DATETIME._storage_format


def _sqlite_bind(sql_type: TypeEngine[Any],
                 bind: Callable[[Any], Any]) -> Callable[[Any], Any]:
    """SQLAlchemy's SQLite bind processor, with a faster way for the common values.

    DATETIME (default storage format): a ``datetime`` becomes its fields as text, whatever its
    time zone, as that format writes them (a four-digit year is its own ``str``, two-digit fields
    come from a table); the ``%``-format with a dict of seven fields costs several times as much. BOOLEAN: True / False
    become 1 / 0, as SQLAlchemy's processor makes them (SQLite has no native boolean). A number
    column (REAL, NUMERIC): a NaN as the text ``'NaN'``, which SQLite keeps and reads back as
    NaN (its double NaN is stored as NULL, a value lost). Other values go to SQLAlchemy's
    processor.
    """
    if isinstance(sql_type, sqlite.DATETIME | sa.DateTime) and \
            getattr(sql_type, "_storage_format", _SQLITE_DATETIME_FORMAT) == _SQLITE_DATETIME_FORMAT:
        datetime_type = dt.datetime
        two = _TWO_DIGITS

        def moment(value: Any) -> Any:
            if type(value) is datetime_type and value.year >= 1000:
                micro = value.microsecond
                return (f"{value.year}-{two[value.month]}-{two[value.day]} {two[value.hour]}:"
                        f"{two[value.minute]}:{two[value.second]}."
                        + (f"{micro:06d}" if micro else "000000"))
            return bind(value)

        probes = (_PROBE, _PROBE.replace(microsecond=0, tzinfo=None))
        if all(moment(p) == bind(p) for p in probes):  # the format is still the default one
            return moment
    if isinstance(sql_type, sa.Boolean):
        def boolean(value: Any) -> Any:
            if value is True:
                return 1
            if value is False:
                return 0
            return bind(value)

        if boolean(True) == bind(True) and boolean(False) == bind(False):
            return boolean
    if isinstance(sql_type, sa.Numeric | sa.Float):
        def number(value: Any) -> Any:
            bound = bind(value)
            if type(bound) is float and bound != bound:
                return "NaN"  # SQLite stores a NaN double as NULL; it keeps the text
            return bound
        return number
    return bind


def _nan_as_text(bind: Callable[[Any], Any] | None) -> Callable[[Any], Any]:
    """A SQLite number column's bind: a NaN as the text ``'NaN'`` (see ``_sqlite_bind``)."""

    def number(value: Any) -> Any:
        bound = value if bind is None else bind(value)
        if type(bound) is float and bound != bound:
            return "NaN"
        return bound

    return number


class _SqliteNumeric(sa.Numeric):  # type: ignore[type-arg]
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        return _nan_as_text(super().bind_processor(dialect))


class _SqliteFloat(sa.Float):  # type: ignore[type-arg]
    def bind_processor(self, dialect: Dialect) -> Callable[[Any], Any]:
        return _nan_as_text(super().bind_processor(dialect))


def keep_nan(dialect: Dialect) -> None:
    """A SQLite engine's number columns (REAL, NUMERIC, …) bind a NaN as the text ``'NaN'`` on
    every statement SQLAlchemy makes, as ``_sqlite_bind`` does for the fast path: the general
    path (a table without a unique key, an update-only target) stored it as NULL, a value lost."""
    dialect.colspecs = {**dialect.colspecs, sa.Numeric: _SqliteNumeric,  # type: ignore[misc]
                        sa.Float: _SqliteFloat}


_PROBE = dt.datetime(1987, 6, 5, 4, 3, 2, 1, tzinfo=dt.UTC)
_TWO_DIGITS = tuple(f"{i:02d}" for i in range(100))


MSSQL_MAX_KEY_CHARS = 450  # 900-byte index key limit / 2 bytes per NVARCHAR char
MYSQL_MAX_KEY_CHARS = 255


def ddl_type(column: Column, dialect: str) -> TypeEngine[Any]:
    """The column type to create for a logical column on a database (mssql/postgresql/…)."""
    from sqlalchemy.dialects import mssql, mysql  # (loaded when a table is made: not per run)

    kind = column.type
    length = column.max_length
    if kind == ColumnType.GUID:
        if dialect in ("postgresql", "mssql"):
            return sa.Uuid()
        return sa.String(36)
    if kind == ColumnType.INTEGER:
        if column.precision is not None and column.precision > BIGINT_DIGITS:
            return _numeric(column.precision, 0, dialect)
        return sa.BigInteger()
    if kind == ColumnType.DECIMAL:
        if column.precision is None:
            return sa.Numeric() if dialect == "postgresql" else sa.Numeric(38, 10)
        return _numeric(column.precision, column.scale or 0, dialect)
    if kind == ColumnType.FLOAT:
        return sa.Double()
    if kind == ColumnType.BOOLEAN:
        return sa.Boolean()
    if kind == ColumnType.DATETIME:
        if dialect == "mssql":
            return mssql.DATETIMEOFFSET()
        if dialect == "mysql":
            return mysql.DATETIME(fsp=6)
        return sa.DateTime(timezone=dialect == "postgresql")
    if kind == ColumnType.DATE:
        return sa.Date()
    if kind == ColumnType.BINARY:
        if dialect == "mssql":
            return mssql.VARBINARY("max")
        if dialect == "mysql":
            return mysql.LONGBLOB()
        return sa.LargeBinary()
    return _string(length, column.key, dialect)


BIGINT_DIGITS = 18  # every 18-digit number fits a BIGINT (some of 19 digits do not)
# the most digits a NUMERIC holds, and the most after its point, per database
MAX_DIGITS = {"mssql": (38, 38), "mysql": (65, 30), "postgresql": (1000, 1000)}


def _numeric(precision: int, scale: int, dialect: str) -> TypeEngine[Any]:
    """``NUMERIC(precision, scale)``, within what the database allows: a source's digits before
    the point are kept first (a number too large fails its row; one cut short would not)."""
    most, most_scale = MAX_DIGITS.get(dialect, (38, 38))
    whole = max(precision - scale, 0)
    scale = max(min(scale, most_scale, most - min(whole, most)), 0)
    return sa.Numeric(max(min(whole, most) + scale, 1), scale)


def _string(length: int | None, key: bool, dialect: str) -> TypeEngine[Any]:
    from sqlalchemy.dialects import mssql, mysql

    if dialect == "mssql":
        if key:
            return mssql.NVARCHAR(min(length or MSSQL_MAX_KEY_CHARS, MSSQL_MAX_KEY_CHARS))
        return mssql.NVARCHAR(length if length and length <= 4000 else "max")  # type: ignore[arg-type]
    if dialect == "mysql":
        if key:
            return sa.String(min(length or MYSQL_MAX_KEY_CHARS, MYSQL_MAX_KEY_CHARS))
        return sa.String(length) if length and length <= 16000 else mysql.LONGTEXT()
    if dialect == "postgresql":
        return sa.String(length) if length else sa.Text()
    return sa.Text()
