"""$batch: multipart/mixed requests with change sets (atomic) and Content-ID references."""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import dataclass, field
from http import HTTPStatus
from typing import TYPE_CHECKING, Any
from urllib.parse import unquote, urlsplit

from .errors import INVALID_ARGUMENT, ODataError, bad_request
from .http_types import Headers, Request, Response, error_response
from .options import parse_prefer

if TYPE_CHECKING:
    from .webapi import WebApi

MAX_REQUESTS = 1000
_BOUNDARY_RE = re.compile(r'boundary="?([^";]+)"?', re.IGNORECASE)
_REF_RE = re.compile(r"^\$(\d+)(.*)$")


@dataclass
class Part:
    """One request inside a batch (or change set)."""

    method: str
    target: str
    headers: Headers
    body: bytes
    content_id: str | None = None


@dataclass
class ChangeSet:
    """A group of requests executed atomically."""

    parts: list[Part] = field(default_factory=list)


class _Rollback(Exception):
    def __init__(self, response: Response, content_id: str | None) -> None:
        super().__init__("change set failed")
        self.response = response
        self.content_id = content_id


def boundary_of(content_type: str | None) -> str:
    """The boundary parameter of a multipart Content-Type (400 if missing)."""
    m = _BOUNDARY_RE.search(content_type or "")
    if not m or "multipart/mixed" not in (content_type or "").lower():
        raise bad_request("The batch request must have Content-Type multipart/mixed with a "
                          "boundary.", INVALID_ARGUMENT)
    return m.group(1).strip()


def _split(text: str, boundary: str) -> list[str]:
    chunks = ("\n" + text).split("\n--" + boundary)
    parts = []
    for chunk in chunks[1:]:
        if chunk.startswith("--"):
            break
        parts.append(chunk.split("\n", 1)[1] if "\n" in chunk else "")
    return parts


def _headers_and_body(text: str) -> tuple[Headers, str]:
    head, _, body = text.partition("\n\n")
    pairs = []
    for line in head.split("\n"):
        if ":" in line:
            name, _, value = line.partition(":")
            pairs.append((name.strip(), value.strip()))
    return Headers(pairs), body


def parse_batch(body: bytes, boundary: str) -> list[Part | ChangeSet]:
    """Parse a batch body into requests and change sets."""
    text = body.decode("utf-8").replace("\r\n", "\n")
    items: list[Part | ChangeSet] = []
    for raw in _split(text, boundary):
        headers, payload = _headers_and_body(raw)
        content_type = headers.get("Content-Type", "") or ""
        if content_type.lower().startswith("multipart/mixed"):
            changeset = ChangeSet()
            for inner in _split(payload, boundary_of(content_type)):
                inner_headers, inner_payload = _headers_and_body(inner)
                part = _parse_http(inner_payload, inner_headers.get("Content-ID"))
                changeset.parts.append(part)
            items.append(changeset)
        else:
            items.append(_parse_http(payload, headers.get("Content-ID")))
    return items


def _parse_http(payload: str, content_id: str | None) -> Part:
    lines = payload.lstrip("\n").split("\n")
    words = lines[0].split()
    if len(words) < 2:
        raise bad_request(f"Invalid request line in batch: '{lines[0]}'.", INVALID_ARGUMENT)
    pairs = []
    i = 1
    while i < len(lines) and lines[i].strip():
        name, _, value = lines[i].partition(":")
        pairs.append((name.strip(), value.strip()))
        i += 1
    body = "\n".join(lines[i + 1:]).strip()
    return Part(words[0].upper(), words[1], Headers(pairs), body.encode(), content_id)


def _resolve_target(target: str, base_path: str, ids: dict[str, str]) -> tuple[str, str]:
    m = _REF_RE.match(target)
    if m:
        if m.group(1) not in ids:
            raise bad_request(f"Content-ID Reference: '${m.group(1)}' does not exist in the "
                              "batch context.", INVALID_ARGUMENT)
        target = ids[m.group(1)] + m.group(2)
    if target.startswith(("http://", "https://")):
        split = urlsplit(target)
        path, query = split.path, split.query
    else:
        path, _, query = target.partition("?")
        if not path.startswith("/"):
            path = base_path + path
    return unquote(path), query


def _substitute(body: bytes, ids: dict[str, str]) -> bytes:
    if not ids or b"$" not in body:
        return body
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if not isinstance(data, dict):
        return body

    def swap(value: Any) -> Any:
        if isinstance(value, str):
            m = _REF_RE.match(value)
            if m and m.group(1) in ids and not m.group(2):
                return ids[m.group(1)]
        return value

    return json.dumps({k: swap(v) for k, v in data.items()}).encode()


def _http_text(resp: Response) -> str:
    reason = HTTPStatus(resp.status).phrase if resp.status in HTTPStatus._value2member_map_ \
        else ""
    lines = [f"HTTP/1.1 {resp.status} {reason}"]
    lines += [f"{k}: {v}" for k, v in resp.headers]
    entity_id = resp.header("OData-EntityId")
    if entity_id and not resp.header("Location"):
        lines.append(f"Location: {entity_id}")
    return "\r\n".join(lines) + "\r\n\r\n" + resp.body.decode("utf-8")


def _part_text(resp: Response, content_id: str | None) -> str:
    head = "Content-Type: application/http\r\nContent-Transfer-Encoding: binary\r\n"
    if content_id:
        head += f"Content-ID: {content_id}\r\n"
    return head + "\r\n" + _http_text(resp) + "\r\n"


class _Runner:
    def __init__(self, api: WebApi, base: str) -> None:
        self.api = api
        self.base_path = urlsplit(base).path

    def run(self, part: Part, ids: dict[str, str], in_changeset: bool) -> Response:
        try:
            if part.method == "GET" and in_changeset:
                raise bad_request("GET requests are not allowed in a change set.",
                                  INVALID_ARGUMENT)
            path, query = _resolve_target(part.target, self.base_path, ids)
            if path.rstrip("/").endswith("$batch"):
                raise bad_request("Nested batch requests are not supported.", INVALID_ARGUMENT)
            req = Request(part.method, path, query, part.headers, _substitute(part.body, ids))
            resp = self.api.dispatch(req)
        except ODataError as err:
            return error_response(err)
        entity_id = resp.header("OData-EntityId")
        if part.content_id and entity_id:
            ids[part.content_id] = entity_id
        elif part.content_id and resp.status in (200, 201):
            try:
                body = json.loads(resp.body)
                context = body.get("@odata.context", "")
                set_name = context.split("#", 1)[1].split("(")[0].split("/")[0]
                table = self.api.store.tables[set_name]
                ids[part.content_id] = f"{self.api.root_url}{self.base_path}{set_name}(" \
                    f"{body[table.primary_id]})"
            except (ValueError, KeyError, IndexError, AttributeError):
                pass
        return resp


def handle_batch(api: WebApi, req: Request, base: str) -> Response:
    """Execute a $batch request and build its multipart response."""
    items = parse_batch(req.body, boundary_of(req.headers.get("Content-Type")))
    total = sum(len(i.parts) if isinstance(i, ChangeSet) else 1 for i in items)
    if total > MAX_REQUESTS:
        raise bad_request(f"The number of requests in a batch ({total}) exceeds the limit of "
                          f"{MAX_REQUESTS}.", INVALID_ARGUMENT)
    continue_on_error = "odata.continue-on-error" in parse_prefer(req.headers.get("Prefer"))
    runner = _Runner(api, base)
    boundary = f"batchresponse_{uuid.uuid4()}"
    chunks: list[str] = []
    status = 200
    for item in items:
        if isinstance(item, Part):
            resp = runner.run(item, {}, in_changeset=False)
            failed_text = _part_text(resp, item.content_id)
            if resp.status >= 400 and not continue_on_error:
                chunks, status = [failed_text], resp.status
                break
            chunks.append(failed_text)
            continue
        ids: dict[str, str] = {}
        responses: list[tuple[Response, str | None]] = []
        try:
            with api.store.transaction():
                for part in item.parts:
                    resp = runner.run(part, ids, in_changeset=True)
                    if resp.status >= 400:
                        raise _Rollback(resp, part.content_id)
                    responses.append((resp, part.content_id))
        except _Rollback as failure:
            text = _part_text(failure.response, failure.content_id)
            if not continue_on_error:
                chunks, status = [text], failure.response.status
                break
            chunks.append(text)
            continue
        cs_boundary = f"changesetresponse_{uuid.uuid4()}"
        inner = "".join(f"--{cs_boundary}\r\n{_part_text(r, cid)}" for r, cid in responses)
        chunks.append(f"Content-Type: multipart/mixed; boundary={cs_boundary}\r\n\r\n"
                      f"{inner}--{cs_boundary}--\r\n")
    body = "".join(f"--{boundary}\r\n{chunk}" for chunk in chunks) + f"--{boundary}--\r\n"
    return Response(
        status,
        [("Content-Type", f"multipart/mixed; boundary={boundary}"), ("OData-Version", "4.0")]
        + ([("Preference-Applied", "odata.continue-on-error")] if continue_on_error else []),
        body.encode("utf-8"),
    )
