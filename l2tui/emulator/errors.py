"""Errors in Dataverse's JSON shape: {"error": {"code": "0x...", "message": "..."}}."""

from __future__ import annotations

import json

# Dataverse error codes used by the emulator (hex strings as the Web API returns them).
INVALID_PROPERTY = "0x80060888"
VALIDATION = "0x80044331"
INVALID_ARGUMENT = "0x80048d19"
DUPLICATE_RECORD = "0x80040237"
DUPLICATE_RECORD_ENTITY_KEY = "0x80060892"
CONCURRENCY_MISMATCH = "0x80060882"
NOT_FOUND = "0x80040217"
EXPIRED_VERSION_STAMP = "0x80044352"
REQUEST_LIMIT = "0x80072322"
CONCURRENCY_LIMIT = "0x80072326"
NOT_AUTHENTICATED = "0x80072560"
UNEXPECTED = "0x80040216"
NOT_SUPPORTED = "0x8006088a"

EXPIRED_VERSION_STAMP_MESSAGE = (
    "Version stamp associated with the client has expired. Please perform a full sync."
)


class ODataError(Exception):
    """An error answered to the client as an HTTP status plus a Dataverse error body."""

    def __init__(
        self, status: int, code: str, message: str, headers: dict[str, str] | None = None
    ) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.headers = dict(headers or {})

    def body(self) -> bytes:
        """The JSON error body."""
        return error_body(self.code, self.message)


def error_body(code: str, message: str) -> bytes:
    """Serialize an error the way Dataverse does."""
    return json.dumps({"error": {"code": code, "message": message}}).encode()


def bad_request(message: str, code: str = INVALID_PROPERTY) -> ODataError:
    """A 400 with the given message."""
    return ODataError(400, code, message)


def not_found(message: str, code: str = NOT_FOUND) -> ODataError:
    """A 404 with the given message."""
    return ODataError(404, code, message)
