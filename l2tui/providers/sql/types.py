"""Map SQL types to the providers' logical ColumnType, and back to DDL types per database.

Values read come back as the driver gives them, except: GUIDs become lowercase ``str``,
``memoryview`` becomes ``bytes``, and a SQLite decimal (stored as a double) becomes the
``Decimal`` of its shortest text. Datetimes stay as the database returns them: naive for
``timestamp``/``datetime``/``datetime2`` columns, aware for ``timestamptz``/``datetimeoffset``
(SQLite and MySQL have no time zone: naive).
"""

from __future__ import annotations

import datetime as dt
import decimal
import math
import sys
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import sqlite
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeEngine

from l2tui.providers.base import Column, ColumnType

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
    if type(sql_type).__name__ in ("MONEY", "SMALLMONEY"):
        return ColumnType.DECIMAL
    try:
        return _BY_PYTHON.get(sql_type.python_type, ColumnType.OTHER)
    except NotImplementedError:
        return ColumnType.OTHER


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


def guid_text(value: Any) -> Any:
    """A GUID column's value as lowercase text (drivers without a uuid type give strings)."""
    if isinstance(value, str):
        return value.lower()
    return to_python(value)


def to_db(value: Any, sql_type: TypeEngine[Any]) -> Any:
    """A value ready to bind to a column: text GUIDs become UUID for native uuid columns."""
    if value is None:
        return None
    if isinstance(sql_type, sa.Uuid) and isinstance(value, str) and sql_type.as_uuid:
        try:
            return uuid.UUID(value)
        except ValueError:
            return value
    if isinstance(value, str) and isinstance(sql_type, sa.DateTime):
        try:
            return dt.datetime.fromisoformat(value)
        except ValueError:
            return value
    return value


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


def pre_converter(sql_type: TypeEngine[Any]) -> Callable[[Any], Any] | None:
    """``to_db`` for one column as a function (None when it never changes a value)."""
    if isinstance(sql_type, sa.Uuid) and sql_type.as_uuid:
        return _to_uuid
    if isinstance(sql_type, sa.DateTime):
        return _to_datetime
    return None


def bind_converter(sql_type: TypeEngine[Any], dialect: Dialect) -> Callable[[Any], Any] | None:
    """``to_db`` and then the dialect's bind processor, for binding to a raw DBAPI statement."""
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
    become 1 / 0, as SQLAlchemy's processor makes them (SQLite has no native boolean). Other values
    go to SQLAlchemy's processor.
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
    return bind


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
        return sa.BigInteger()
    if kind == ColumnType.DECIMAL:
        return sa.Numeric() if dialect == "postgresql" else sa.Numeric(38, 10)
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
