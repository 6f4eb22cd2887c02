"""Map SQL types to the providers' logical ColumnType, and back to DDL types per database.

Values read come back as the driver gives them, except: GUIDs become lowercase ``str``,
``memoryview`` becomes ``bytes``. Datetimes stay as the database returns them: naive for
``timestamp``/``datetime``/``datetime2`` columns, aware for ``timestamptz``/``datetimeoffset``
(SQLite and MySQL have no time zone: naive).
"""

from __future__ import annotations

import datetime as dt
import decimal
import uuid
from collections.abc import Callable
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects import mssql, mysql
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
        (sa.LargeBinary, ColumnType.BINARY), (mssql.TIMESTAMP, ColumnType.BINARY),
        (sa.types._Binary, ColumnType.BINARY),
    )
    for cls, logical in checks:
        if isinstance(sql_type, cls):
            return logical
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
    """SQL Server ``rowversion``/``timestamp``: set by the server, never written."""
    return isinstance(sql_type, mssql.TIMESTAMP)


def to_python(value: Any) -> Any:
    """A value as providers return it (GUIDs as lowercase str, bytes not memoryview)."""
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, memoryview):
        return value.tobytes()
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
    bind = sql_type._cached_bind_processor(dialect)
    if bind is None:
        return pre
    if pre is None:
        return bind

    def both(value: Any) -> Any:
        return bind(pre(value))

    return both


MSSQL_MAX_KEY_CHARS = 450  # 900-byte index key limit / 2 bytes per NVARCHAR char
MYSQL_MAX_KEY_CHARS = 255


def ddl_type(column: Column, dialect: str) -> TypeEngine[Any]:
    """The column type to create for a logical column on a database (mssql/postgresql/…)."""
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
