"""Validation and normalization of written values, keys and datetimes."""

from __future__ import annotations

import math
import re
import time
import uuid
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

from .errors import (
    INVALID_ARGUMENT,
    INVALID_PROPERTY,
    VALIDATION,
    ODataError,
    bad_request,
    not_found,
)
from .schema import MONEY_LIMIT, STATE_STATUS, Column, Table

GUID_RE = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")
_ENTITY_REF_RE = re.compile(r"(?:^|/)([A-Za-z_][A-Za-z0-9_]*)\((.*)\)$")
_KEY_PART_RE = re.compile(r"\s*([A-Za-z_][A-Za-z0-9_]*)\s*=\s*('(?:[^']|'')*'|[^,]+)\s*(?:,|$)")

Key = str | dict[str, Any]
Resolver = Callable[[str, Key], str | None]  # (entity set, key) -> guid of an existing row


def fmt_datetime(ts: float) -> str:
    """Render a POSIX timestamp as Dataverse does: UTC, Z, no fractional seconds."""
    t = time.gmtime(int(ts))
    return (
        f"{t.tm_year:04d}-{t.tm_mon:02d}-{t.tm_mday:02d}T"
        f"{t.tm_hour:02d}:{t.tm_min:02d}:{t.tm_sec:02d}Z"
    )


def parse_datetime(text: str) -> datetime:
    """Parse an ISO-8601 date or datetime (naive means UTC); ValueError if malformed."""
    value = text.strip()
    if value.endswith(("Z", "z")):
        value = value[:-1] + "+00:00"
    dt = datetime.fromisoformat(value)
    if dt.tzinfo is None:
        dt = dt.replace(tzinfo=UTC)
    return dt.astimezone(UTC)


def is_guid(text: str) -> bool:
    """Whether text is a GUID without braces."""
    return bool(GUID_RE.match(text))


def parse_key(text: str) -> Key:
    """Parse the inside of `set(...)`: a GUID or `name='value',other=2` (alternate key)."""
    text = text.strip()
    if is_guid(text):
        return text.lower()
    if text.startswith("{") and text.endswith("}") and is_guid(text[1:-1]):
        return text[1:-1].lower()
    parts: dict[str, Any] = {}
    pos = 0
    while pos < len(text):
        m = _KEY_PART_RE.match(text, pos)
        if not m:
            raise bad_request(f"Bad Request - Error in query syntax: invalid key '{text}'.")
        raw = m.group(2).strip()
        if raw.startswith("'"):
            parts[m.group(1)] = raw[1:-1].replace("''", "'")
        else:
            try:
                parts[m.group(1)] = int(raw)
            except ValueError:
                parts[m.group(1)] = raw
        pos = m.end()
    if not parts:
        raise bad_request(f"Bad Request - Error in query syntax: invalid key '{text}'.")
    return parts


def parse_entity_ref(ref: str) -> tuple[str, Key]:
    """Split `/contacts(<guid>)` (or absolute / relative forms) into (entity set, key)."""
    path = ref.split("?", 1)[0]
    m = _ENTITY_REF_RE.search(path)
    if not m:
        raise bad_request(f"The entity reference '{ref}' is not valid.", INVALID_ARGUMENT)
    return m.group(1), parse_key(m.group(2))


def _type_error(table: Table, col: Column, value: Any) -> ODataError:
    return ODataError(
        400,
        INVALID_ARGUMENT,
        f"Error identified in Payload provided by the user for Entity :'{table.logical}', "
        f"----> InnerException : Microsoft.OData.ODataException: Cannot convert the literal "
        f"'{value}' to the expected type '{col.edm}'.",
    )


def _out_of_range(table: Table, col: Column, value: Any, accepted: str = "") -> ODataError:
    return ODataError(
        400,
        VALIDATION,
        f"A validation error occurred. The value {value} of '{col.logical}' on record of type "
        f"'{table.logical}' is outside the valid range.{accepted}",
    )


def coerce(table: Table, col: Column, value: Any) -> Any:
    """Check one value loosely against its column type and normalize it."""
    if value is None:
        return None
    kind = col.type
    if kind in ("String", "Memo"):
        if not isinstance(value, str):
            raise _type_error(table, col, value)
        if col.max_length is not None and _utf16_length(value) > col.max_length:
            raise ODataError(
                400,
                VALIDATION,
                f"A validation error occurred.  The length of the '{col.logical}' attribute of "
                f"the '{table.logical}' entity exceeded the maximum allowed length of "
                f"'{col.max_length}'.",
            )
        return value
    if kind == "Money":
        return _money(table, col, value)
    if kind in ("Integer", "BigInt", "Picklist", "State", "Status"):
        return _whole_number(table, col, value)
    if kind == "Boolean":
        if not isinstance(value, bool):
            raise _type_error(table, col, value)
        return value
    if kind == "DateTime":
        if not isinstance(value, str):
            raise _type_error(table, col, value)
        try:
            dt = parse_datetime(value)
        except ValueError:
            raise _type_error(table, col, value) from None
        if dt.year < 1753:
            raise ODataError(400, VALIDATION, "A validation error occurred. The date is out of "
                             "range (the minimum is 1753-01-01).")
        return dt.strftime("%Y-%m-%d") if col.date_only else dt.strftime("%Y-%m-%dT%H:%M:%SZ")
    if kind in ("Uniqueidentifier", "Lookup", "Customer"):
        if not isinstance(value, str) or not is_guid(value.strip("{}")):
            raise _type_error(table, col, value)
        return value.strip("{}").lower()
    raise _type_error(table, col, value)


def _utf16_length(text: str) -> int:
    """A text's length as Dataverse counts it against a MaxLength: in UTF-16 code units (an
    emoji beyond the Basic Multilingual Plane is two), as .NET and an nvarchar column do."""
    return len(text) if text.isascii() else len(text.encode("utf-16-le", "surrogatepass")) // 2


def _money(table: Table, col: Column, value: Any) -> float:
    """A money amount within Dataverse's range, to 4 decimal places."""
    if isinstance(value, bool) or not isinstance(value, (int, float, str)):
        raise _type_error(table, col, value)
    try:
        amount = float(value)
    except ValueError:
        raise _type_error(table, col, value) from None
    if not math.isfinite(amount):
        raise _type_error(table, col, value)
    if abs(amount) > MONEY_LIMIT:
        raise _out_of_range(table, col, value,
                            f" Accepted range: {-MONEY_LIMIT} to {MONEY_LIMIT}")
    return round(amount, 4)


def _whole_number(table: Table, col: Column, value: Any) -> int:
    """An Edm.Int32 (Edm.Int64 for BigInt) that is one of the column's options, if it has any."""
    if isinstance(value, bool):
        raise _type_error(table, col, value)
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    bits = 64 if col.type == "BigInt" else 32
    if not isinstance(value, int) or not -(2 ** (bits - 1)) <= value < 2 ** (bits - 1):
        raise _type_error(table, col, value)  # (the OData reader cannot convert it)
    if col.options is not None and value not in col.options:
        raise _out_of_range(table, col, value)
    return value


def normalize(
    table: Table,
    body: dict[str, Any],
    *,
    creating: bool,
    resolve: Resolver,
    lenient: bool = False,
) -> dict[str, Any]:
    """Turn a request body into {prop: value}, refusing unknown and read-only columns.

    lenient=True is the out-of-band API: lookups may be written as `_x_value` or `x`.
    """
    if not isinstance(body, dict):
        raise bad_request("The request body must be a JSON object.", INVALID_ARGUMENT)
    out: dict[str, Any] = {}
    for key, value in body.items():
        if key.startswith("@"):
            continue  # instance annotations such as @odata.type or @odata.etag
        if key.endswith("@odata.bind"):
            nav = key[: -len("@odata.bind")]
            col = table.by_nav.get(nav)
            if col is None:
                raise bad_request(
                    f"An undeclared property '{nav}' which only has property annotations in the "
                    "payload but no property value was found in the payload. In OData, only "
                    "declared navigation properties and declared named streams can be "
                    "represented as properties without values."
                )
            out[col.prop] = _bind(table, col, value, resolve)
            continue
        if "@" in key:
            continue  # other property annotations (e.g. a FormattedValue echoed back)
        if key in table.by_nav:
            col = table.by_nav[key]
            if value is not None and not (lenient and isinstance(value, str)):
                raise bad_request("Deep insert is not supported by the emulator.", INVALID_ARGUMENT)
            out[col.prop] = _lookup_value(table, col, value, resolve) if value else None
            continue
        col = table.by_prop.get(key)
        if col is None and lenient:
            col = next((c for c in table.columns if c.logical == key and c.is_lookup), None)
        if col is None:
            raise bad_request(
                f"The property '{key}' does not exist on type '{table.odata_type}'. Make sure "
                "to only use property names that are defined by the type."
            )
        if col.is_lookup:
            if not lenient or not (col.create or col.update):
                raise bad_request(
                    f"Invalid property '{key}' was found in entity '{table.odata_type}'."
                )
            out[col.prop] = _lookup_value(table, col, value, resolve) if value else None
            continue
        if col.primary_id:
            out[col.prop] = coerce(table, col, value)
            continue
        if not (col.create if creating else col.update):
            raise bad_request(
                f"The '{col.logical}' attribute of the '{table.logical}' entity is read-only "
                f"and cannot be {'set on create' if creating else 'updated'}.",
                INVALID_ARGUMENT,
            )
        out[col.prop] = coerce(table, col, value)
    _fill_state_status(table, out)
    return out


def _bind(table: Table, col: Column, value: Any, resolve: Resolver) -> str | None:
    if value is None:
        return None
    if not isinstance(value, str):
        raise bad_request(f"The value of '{col.nav}@odata.bind' must be a string.", INVALID_ARGUMENT)
    entity_set, key = parse_entity_ref(value)
    if entity_set != col.target:
        raise bad_request(
            f"The navigation property '{col.nav}' references '{col.target}', not '{entity_set}'.",
            INVALID_ARGUMENT,
        )
    found = resolve(entity_set, key)
    if found is None:
        raise ODataError(404, "0x80040217", f"{entity_set[:-1]} With Id = {key} Does Not Exist")
    return found


def _lookup_value(table: Table, col: Column, value: Any, resolve: Resolver) -> str:
    guid = coerce(table, col, value)
    if col.target and resolve(col.target, guid) is None:
        raise ODataError(404, "0x80040217", f"{col.target[:-1]} With Id = {guid} Does Not Exist")
    return guid


def _fill_state_status(table: Table, out: dict[str, Any]) -> None:
    if "statecode" not in table.by_prop:
        return
    state, status = out.get("statecode"), out.get("statuscode")
    if state is not None and "statuscode" not in out:
        out["statuscode"] = STATE_STATUS[state]
    elif status is not None and "statecode" not in out:
        out["statecode"] = next(s for s, st in STATE_STATUS.items() if st == status)


def split_segment(path: str) -> tuple[str, str | None, str]:
    """Split `name(key)/rest` into (name, key text or None, rest), respecting quotes."""
    m = re.match(r"[A-Za-z_$][\w.]*", path)
    if not m:
        raise not_found(f"Resource not found for the segment '{path}'.", INVALID_PROPERTY)
    name, pos = m.group(), m.end()
    key = None
    if pos < len(path) and path[pos] == "(":
        depth, quoted, i = 0, False, pos
        while i < len(path):
            ch = path[i]
            if ch == "'":
                quoted = not quoted
            elif not quoted and ch == "(":
                depth += 1
            elif not quoted and ch == ")":
                depth -= 1
                if depth == 0:
                    break
            i += 1
        if i >= len(path):
            raise bad_request(f"Bad Request - Error in query syntax: '{path}'.")
        key, pos = path[pos + 1:i], i + 1
    rest = path[pos:]
    if rest and not rest.startswith("/"):
        raise not_found(f"Resource not found for the segment '{path}'.", INVALID_PROPERTY)
    return name, key, rest[1:]


def new_guid() -> str:
    """A new lowercase GUID."""
    return str(uuid.uuid4())
