"""$batch multipart encoding and decoding."""

from __future__ import annotations

import pytest

from l2tui.providers.odata.batch import (
    BatchFormatError,
    BatchRequest,
    decode_batch,
    encode_batch,
)

RESPONSE = (
    "--batchresponse_1\r\n"
    'Content-Type: multipart/mixed; boundary="changesetresponse_2"\r\n'
    "\r\n"
    "--changesetresponse_2\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-ID: 1\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "OData-EntityId: https://x/api/data/v9.2/accounts(1)\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_2\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "Content-ID: 2\r\n"
    "\r\n"
    "HTTP/1.1 204 No Content\r\n"
    "\r\n"
    "\r\n"
    "--changesetresponse_2--\r\n"
    "--batchresponse_1--\r\n"
)

FAILED = (
    "--batchresponse_9\r\n"
    "Content-Type: application/http\r\n"
    "Content-Transfer-Encoding: binary\r\n"
    "\r\n"
    "HTTP/1.1 400 Bad Request\r\n"
    "Content-Type: application/json; odata.metadata=minimal\r\n"
    "\r\n"
    '{"error":{"code":"0x80044331","message":"A validation error occurred."}}\r\n'
    "--batchresponse_9--\r\n"
)


def test_encoded_batch_holds_one_change_set_with_numbered_parts():
    content_type, body = encode_batch(
        [[BatchRequest("PATCH", "https://x/api/data/v9.2/accounts(1)", {"If-Match": "*"}, "{}"),
          BatchRequest("DELETE", "https://x/api/data/v9.2/accounts(2)")]],
        boundary="batch_b",
    )
    text = body.decode()
    assert content_type == 'multipart/mixed; boundary="batch_b"'
    assert text.startswith("--batch_b\r\nContent-Type: multipart/mixed; boundary=\"changeset_")
    assert "PATCH https://x/api/data/v9.2/accounts(1) HTTP/1.1\r\n" in text
    assert "Content-Type: application/json; type=entry\r\nIf-Match: *" not in text
    assert "If-Match: *\r\nContent-Type: application/json; type=entry" in text
    assert "Content-ID: 1" in text and "Content-ID: 2" in text
    assert text.endswith("--batch_b--\r\n")


def test_change_set_responses_are_flattened_in_order():
    parts = decode_batch('multipart/mixed; boundary=batchresponse_1', RESPONSE.encode())
    assert [p.status for p in parts] == [204, 204]
    assert parts[0].headers["odata-entityid"].endswith("accounts(1)")
    assert [p.content_id for p in parts] == ["1", "2"]
    assert all(p.ok for p in parts)


def test_a_rolled_back_change_set_answers_with_its_one_failing_part():
    [part] = decode_batch('multipart/mixed; boundary="batchresponse_9"', FAILED)
    assert part.status == 400 and not part.ok
    assert "validation error" in part.body


def test_bare_lf_line_endings_are_read_too():
    parts = decode_batch("multipart/mixed; boundary=batchresponse_1", RESPONSE.replace("\r\n", "\n"))
    assert [p.status for p in parts] == [204, 204]


def test_a_non_multipart_response_is_a_format_error():
    with pytest.raises(BatchFormatError):
        decode_batch("application/json", b"{}")
