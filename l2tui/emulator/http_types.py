"""Transport-neutral request and response objects shared by the server and $batch."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from .errors import ODataError

JSON_TYPE = "application/json; odata.metadata=minimal"


class Headers:
    """Case-insensitive request headers (repeated headers are joined with commas)."""

    def __init__(self, items: list[tuple[str, str]] | dict[str, str] | None = None) -> None:
        self._items: dict[str, tuple[str, str]] = {}
        pairs = items.items() if isinstance(items, dict) else (items or [])
        for name, value in pairs:
            old = self._items.get(name.lower())
            self._items[name.lower()] = (name, f"{old[1]}, {value}" if old else value)

    def get(self, name: str, default: str | None = None) -> str | None:
        """The header value or default."""
        item = self._items.get(name.lower())
        return item[1] if item else default

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and name.lower() in self._items

    def items(self) -> list[tuple[str, str]]:
        """All (name, value) pairs."""
        return list(self._items.values())


@dataclass
class Request:
    """One HTTP request as the Web API sees it."""

    method: str
    path: str  # decoded path without the query string
    query: str  # raw query string (still percent-encoded)
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    def json(self) -> Any:
        """The body parsed as JSON (400 if malformed)."""
        try:
            return json.loads(self.body or b"null")
        except ValueError:
            raise ODataError(400, "0x80048d19", "The request body is not valid JSON.") from None


@dataclass
class Response:
    """One HTTP response."""

    status: int
    headers: list[tuple[str, str]] = field(default_factory=list)
    body: bytes = b""

    def header(self, name: str) -> str | None:
        """The first value of a header, or None."""
        return next((v for k, v in self.headers if k.lower() == name.lower()), None)


def json_response(status: int, payload: Any, headers: list[tuple[str, str]] | None = None) -> Response:
    """A JSON response with OData headers."""
    body = json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()
    return Response(
        status,
        [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *(headers or [])],
        body,
    )


def error_response(err: ODataError) -> Response:
    """The Dataverse-shaped error response of an ODataError."""
    return Response(
        err.status,
        [("Content-Type", JSON_TYPE), ("OData-Version", "4.0"), *err.headers.items()],
        err.body(),
    )


def empty_response(status: int, headers: list[tuple[str, str]] | None = None) -> Response:
    """A response without a body (204, 304)."""
    return Response(status, [("OData-Version", "4.0"), *(headers or [])], b"")
