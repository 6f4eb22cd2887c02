"""OData ``$batch``: write a multipart/mixed request of change sets, read the multipart response."""

from __future__ import annotations

import re
import uuid
from collections.abc import Sequence
from dataclasses import dataclass, field

CRLF = "\r\n"


@dataclass(frozen=True)
class BatchRequest:
    """One request inside a change set."""

    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: str | None = None


@dataclass(frozen=True)
class BatchResponse:
    """One response read from a batch response."""

    status: int
    reason: str = ""
    headers: dict[str, str] = field(default_factory=dict)
    body: str = ""
    content_id: str | None = None

    @property
    def ok(self) -> bool:
        """A 2xx status."""
        return 200 <= self.status < 300


def encode_batch(
    changesets: Sequence[Sequence[BatchRequest]], boundary: str | None = None
) -> tuple[str, bytes]:
    """(Content-Type header, body) of a ``$batch`` request holding the given change sets."""
    boundary = boundary or f"batch_{uuid.uuid4()}"
    lines: list[str] = []
    content_id = 0
    for changeset in changesets:
        inner = f"changeset_{uuid.uuid4()}"
        lines += [f"--{boundary}", f'Content-Type: multipart/mixed; boundary="{inner}"', ""]
        for request in changeset:
            content_id += 1
            lines += [
                f"--{inner}",
                "Content-Type: application/http",
                "Content-Transfer-Encoding: binary",
                f"Content-ID: {content_id}",
                "",
                f"{request.method} {request.url} HTTP/1.1",
            ]
            headers = dict(request.headers)
            if request.body is not None:
                headers.setdefault("Content-Type", "application/json; type=entry")
            lines += [f"{k}: {v}" for k, v in headers.items()]
            lines += ["", request.body or ""]
        lines += [f"--{inner}--", ""]
    lines += [f"--{boundary}--", ""]
    return f'multipart/mixed; boundary="{boundary}"', CRLF.join(lines).encode("utf-8")


class BatchFormatError(ValueError):
    """A batch response that is not the multipart shape OData describes."""


def decode_batch(content_type: str, body: bytes | str) -> list[BatchResponse]:
    """Every response of a ``$batch`` response, change sets flattened, in request order."""
    text = body.decode("utf-8", "replace") if isinstance(body, bytes) else body
    return _decode_multipart(content_type, text)


def boundary_of(content_type: str) -> str:
    """The boundary parameter of a multipart Content-Type."""
    match = re.search(r'boundary=(?:"([^"]+)"|([^;\s]+))', content_type, re.IGNORECASE)
    if not match or not content_type.lower().lstrip().startswith("multipart/"):
        raise BatchFormatError(f"expected a multipart response, got '{content_type}'")
    return match.group(1) or match.group(2)


def _decode_multipart(content_type: str, text: str) -> list[BatchResponse]:
    boundary = boundary_of(content_type)
    delimiter = re.compile(rf"(?:^|\r?\n)--{re.escape(boundary)}(--)?[ \t]*(?:\r?\n|$)")
    pieces = delimiter.split(text)
    # split gives: preamble, close-flag, part, close-flag, part, ... ; stop at the close delimiter
    out: list[BatchResponse] = []
    for i in range(1, len(pieces) - 1, 2):
        if pieces[i] == "--":
            break
        out += _decode_part(pieces[i + 1])
    return out


def _decode_part(part: str) -> list[BatchResponse]:
    headers, body = _split_head(part)
    kind = headers.get("content-type", "")
    if kind.lower().startswith("multipart/"):
        return _decode_multipart(kind, body)
    if kind.lower().startswith("application/http"):
        return [_decode_http(body, headers.get("content-id"))]
    raise BatchFormatError(f"unexpected part of type '{kind}' in a batch response")


def _decode_http(text: str, content_id: str | None) -> BatchResponse:
    head, body = _split_head(text, status_line=True)
    status_line = head.pop("", "")
    match = re.match(r"HTTP/\d(?:\.\d)?\s+(\d{3})\s*(.*)", status_line)
    if not match:
        raise BatchFormatError(f"bad status line in a batch response: '{status_line[:60]}'")
    return BatchResponse(
        status=int(match.group(1)),
        reason=match.group(2).strip(),
        headers=head,
        body=body.rstrip("\r\n"),
        content_id=content_id,
    )


def _split_head(text: str, status_line: bool = False) -> tuple[dict[str, str], str]:
    """(headers lower-cased, body) of a MIME part or HTTP message; status line under key ''."""
    text = text.lstrip("\r\n") if status_line else text
    match = re.search(r"\r?\n\r?\n", text)
    head, body = (text[: match.start()], text[match.end():]) if match else (text, "")
    headers: dict[str, str] = {}
    for n, line in enumerate(head.splitlines()):
        if n == 0 and status_line:
            headers[""] = line.strip()
        elif ":" in line:
            name, value = line.split(":", 1)
            headers[name.strip().lower()] = value.strip()
    return headers, body
