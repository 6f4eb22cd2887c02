"""Edm types ↔ ColumnType, JSON values → Python values, and Python values → JSON for writes."""

from __future__ import annotations

import base64
import json
import re
import uuid
from datetime import UTC, date, datetime
from decimal import Decimal
from typing import Any

from l2tui.providers.base import CONVERSION_ERRORS, ColumnType, Converter

EDM_TYPES: dict[str, ColumnType] = {
    "Edm.Guid": ColumnType.GUID,
    "Edm.String": ColumnType.STRING,
    "Edm.Int16": ColumnType.INTEGER,
    "Edm.Int32": ColumnType.INTEGER,
    "Edm.Int64": ColumnType.INTEGER,
    "Edm.Byte": ColumnType.INTEGER,
    "Edm.SByte": ColumnType.INTEGER,
    "Edm.Decimal": ColumnType.DECIMAL,
    "Edm.Double": ColumnType.FLOAT,
    "Edm.Single": ColumnType.FLOAT,
    "Edm.Boolean": ColumnType.BOOLEAN,
    "Edm.DateTimeOffset": ColumnType.DATETIME,
    "Edm.Date": ColumnType.DATE,
    "Edm.Binary": ColumnType.BINARY,
}

# Dataverse AttributeType → (ColumnType, Edm type)
ATTRIBUTE_TYPES: dict[str, tuple[ColumnType, str]] = {
    "Uniqueidentifier": (ColumnType.GUID, "Edm.Guid"),
    "Lookup": (ColumnType.GUID, "Edm.Guid"),
    "Customer": (ColumnType.GUID, "Edm.Guid"),
    "Owner": (ColumnType.GUID, "Edm.Guid"),
    "String": (ColumnType.STRING, "Edm.String"),
    "Memo": (ColumnType.STRING, "Edm.String"),
    "EntityName": (ColumnType.STRING, "Edm.String"),
    "Integer": (ColumnType.INTEGER, "Edm.Int32"),
    "BigInt": (ColumnType.INTEGER, "Edm.Int64"),
    "Picklist": (ColumnType.INTEGER, "Edm.Int32"),
    "State": (ColumnType.INTEGER, "Edm.Int32"),
    "Status": (ColumnType.INTEGER, "Edm.Int32"),
    "Money": (ColumnType.DECIMAL, "Edm.Decimal"),
    "Decimal": (ColumnType.DECIMAL, "Edm.Decimal"),
    "Double": (ColumnType.FLOAT, "Edm.Double"),
    "Boolean": (ColumnType.BOOLEAN, "Edm.Boolean"),
    "DateTime": (ColumnType.DATETIME, "Edm.DateTimeOffset"),
}


# Dataverse numbers' digits in all and after the point, as their widest attribute holds them:
# money ±922,337,203,685,477 to 4 places; decimal ±100,000,000,000 to 10 places
ATTRIBUTE_DIGITS: dict[str, tuple[int, int]] = {"Money": (19, 4), "Decimal": (23, 10)}


def column_type(edm: str) -> ColumnType:
    """The logical column type of an Edm type name (``Edm.Int32`` → INTEGER)."""
    return EDM_TYPES.get(edm, ColumnType.OTHER)


def from_json(value: Any, kind: ColumnType) -> Any:
    """Convert one JSON value of the given column type to its Python value."""
    if value is None:
        return None
    try:
        return _CONVERTERS.get(kind, _same)(value)
    except CONVERSION_ERRORS:
        return value


def converter(kind: ColumnType) -> Converter | None:
    """``from_json`` for one column type, resolved once (None: values are kept as they are).

    The function takes a non-null value and may raise one of ``CONVERSION_ERRORS``; callers then
    keep the value unchanged, as ``from_json`` does (the ``Converter`` contract).
    """
    return _CONVERTERS.get(kind)


_GUID_TEXT = re.compile(r"[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}")
_guid_text = _GUID_TEXT.fullmatch


def _guid(value: Any) -> str:
    if type(value) is str and len(value) == 36 and _guid_text(value):
        return value.lower()  # already the canonical form, but for case
    return str(uuid.UUID(str(value)))


def _decimal(value: Any) -> Decimal:
    kind = type(value)
    if kind is Decimal:
        return value  # type: ignore[no-any-return]
    if kind is int:
        return Decimal(value)
    if isinstance(value, float):
        return Decimal(repr(value))
    return Decimal(str(value))


def _integer(value: Any) -> int:
    if type(value) is int:
        return value  # type: ignore[no-any-return]
    if isinstance(value, bool):
        raise TypeError("a boolean is not an integer")
    return int(value)


def _float(value: Any) -> float:
    if type(value) is float:
        return value  # type: ignore[no-any-return]
    return float(value)  # also "INF", "NaN" as OData writes them


def _boolean(value: Any) -> bool:
    if type(value) is bool:
        return value
    if isinstance(value, str):
        return value.strip().lower() == "true"
    return bool(value)


def _datetime(value: Any) -> datetime:
    if type(value) is str and len(value) == 20 and value[19] == "Z":
        return datetime.fromisoformat(value)  # "…Z" parses as aware UTC (Python 3.11)
    parsed = datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


def _date(value: Any) -> date:
    return date.fromisoformat(str(value)[:10])


def _binary(value: Any) -> bytes:
    text = str(value).replace("+", "-").replace("/", "_")
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _same(value: Any) -> Any:
    return value


_CONVERTERS: dict[ColumnType, Converter] = {
    ColumnType.GUID: _guid,
    ColumnType.DECIMAL: _decimal,
    ColumnType.INTEGER: _integer,
    ColumnType.FLOAT: _float,
    ColumnType.BOOLEAN: _boolean,
    ColumnType.DATETIME: _datetime,
    ColumnType.DATE: _date,
    ColumnType.BINARY: _binary,
}


def to_json(value: Any) -> Any:
    """A Python value as JSON-ready data (Decimal stays Decimal: ``dumps`` writes it as a number)."""
    if isinstance(value, datetime):
        if value.tzinfo is None:
            value = value.replace(tzinfo=UTC)
        return value.astimezone(UTC).isoformat().replace("+00:00", "Z")
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, uuid.UUID):
        return str(value)
    if isinstance(value, bytes | bytearray):
        return base64.b64encode(bytes(value)).decode("ascii")
    return value


# a Decimal travels through json.dumps as a marked string, then loses its quotes; the marker is
# random per process (no value can guess it) and its pattern compiled once (a pattern per call
# was compiled per call: re's cache keeps 512)
_DECIMAL_MARKER = f"~dec{uuid.uuid4().hex}~"
_MARKED_DECIMAL = re.compile(f'"{_DECIMAL_MARKER}([-0-9.]+)"')


def dumps(data: Any) -> str:
    """JSON text of request data; Decimals written as exact numbers, other values via to_json."""
    text = json.dumps(_prepare(data, _DECIMAL_MARKER), separators=(",", ":"))
    if _DECIMAL_MARKER not in text:
        return text
    return _MARKED_DECIMAL.sub(lambda m: m.group(1), text)


def _prepare(data: Any, marker: str) -> Any:
    if isinstance(data, dict):
        return {k: _prepare(v, marker) for k, v in data.items()}
    if isinstance(data, list | tuple):
        return [_prepare(v, marker) for v in data]
    if isinstance(data, Decimal):
        if not data.is_finite():
            raise ValueError(f"{data} cannot be written as a JSON number")
        return f"{marker}{format(data, 'f')}"
    return to_json(data)


def loads(text: str | bytes) -> Any:
    """Parse a JSON response keeping decimal numbers exact (as Decimal)."""
    return json.loads(text, parse_float=Decimal)
