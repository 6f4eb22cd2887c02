"""Pre-serialized JSON of rows, reused while a row's version is unchanged."""

from __future__ import annotations

import json
import threading
from collections import OrderedDict
from collections.abc import Callable, Hashable
from json.encoder import encode_basestring
from typing import Any

Row = dict[str, Any]
RowEncoder = Callable[[Row], bytes]
_encode = json.JSONEncoder(ensure_ascii=False, separators=(",", ":")).encode


def _value(value: Any) -> str:
    if value is None:
        return "null"
    kind = type(value)
    if kind is str:
        return encode_basestring(value)
    if kind is bool:
        return "true" if value else "false"
    if kind is float:
        return float.__repr__(value)
    if kind is int:
        return int.__repr__(value)
    return _encode(value)


def plain_row_encoder(props: list[str]) -> RowEncoder:
    """Encode `{"@odata.etag": ..., prop: value, ...}` without building a dict first."""
    pairs = [("," + _encode(p) + ":", p) for p in props]

    def encode(row: Row) -> bytes:
        parts = ['{"@odata.etag":"W/\\"', str(row["versionnumber"]), '\\""']
        for key, prop in pairs:
            parts.append(key)
            parts.append(_value(row[prop]))
        parts.append("}")
        return "".join(parts).encode()

    return encode


def render_encoder(render: Callable[[Row], dict[str, Any]]) -> RowEncoder:
    """Encode whatever a renderer makes of a row."""
    return lambda row: _encode(render(row)).encode()


class FragmentCache:
    """Per response shape (table, columns, mode), the JSON bytes of each row by id+version."""

    def __init__(self, max_shapes: int = 4) -> None:
        self._lock = threading.Lock()
        self._shapes: OrderedDict[Hashable, dict[str, tuple[int, bytes]]] = OrderedDict()
        self.max_shapes = max_shapes

    def _shape(self, key: Hashable) -> dict[str, tuple[int, bytes]]:
        with self._lock:
            cache = self._shapes.get(key)
            if cache is None:
                cache = self._shapes[key] = {}
                while len(self._shapes) > self.max_shapes:
                    self._shapes.popitem(last=False)
            else:
                self._shapes.move_to_end(key)
            return cache

    def encode(
        self, key: Hashable | None, rows: list[Row], pid: str, encode: RowEncoder, live: int,
    ) -> list[bytes]:
        """The JSON of each row; cached when key is not None (live = rows in the table)."""
        if key is None:
            return [encode(row) for row in rows]
        cache = self._shape(key)
        if len(cache) > 2 * live + 1000:
            cache.clear()  # forget rows deleted long ago
        out = []
        for row in rows:
            guid, version = row[pid], row["versionnumber"]
            hit = cache.get(guid)
            if hit is not None and hit[0] == version:
                out.append(hit[1])
            else:
                fragment = encode(row)
                cache[guid] = (version, fragment)
                out.append(fragment)
        return out


def page_body(head: dict[str, Any], values: list[bytes], tail: dict[str, Any]) -> bytes:
    """`{...head, "value": [values], ...tail}` assembled from pre-serialized parts."""
    parts = [_encode(head)[:-1].encode(), b',"value":[' if head else b'"value":[',
             b",".join(values), b"]"]
    for name, value in tail.items():
        parts.append(b"," + _encode(name).encode() + b":" + _encode(value).encode())
    parts.append(b"}")
    return b"".join(parts)
