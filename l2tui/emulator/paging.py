"""Opaque paging cookies ($skiptoken) and delta tokens ($deltatoken)."""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
from typing import Any
from urllib.parse import quote, unquote

from .errors import EXPIRED_VERSION_STAMP, EXPIRED_VERSION_STAMP_MESSAGE, ODataError, bad_request

_COOKIE_RE = re.compile(r'<cookie pagenumber="(\d+)" pagingcookie="([^"]*)" istracking="(True|False)" />')


def encode_skiptoken(page: int, state: dict[str, Any], tracking: bool) -> str:
    """A Dataverse-like paging cookie carrying the emulator's state (opaque to clients)."""
    payload = base64.urlsafe_b64encode(json.dumps(state, separators=(",", ":")).encode()).decode()
    inner = quote(f'<cookie page="{page - 1}" state="{payload}" />', safe="")
    return f'<cookie pagenumber="{page}" pagingcookie="{inner}" istracking="{tracking}" />'


def decode_skiptoken(token: str) -> tuple[int, dict[str, Any]]:
    """The page number and state inside a paging cookie; 400 if it is not ours."""
    m = _COOKIE_RE.fullmatch(token.strip())
    if not m:
        raise bad_request("The $skiptoken value is not valid.")
    inner = unquote(m.group(2))
    state = re.search(r'state="([^"]*)"', inner)
    if not state:
        raise bad_request("The $skiptoken value is not valid.")
    try:
        data = json.loads(base64.urlsafe_b64decode(state.group(1)))
    except ValueError:
        raise bad_request("The $skiptoken value is not valid.") from None
    return int(m.group(1)), data


def expired_token_error() -> ODataError:
    """The error Dataverse gives for an expired or unknown delta token."""
    return ODataError(400, EXPIRED_VERSION_STAMP, EXPIRED_VERSION_STAMP_MESSAGE)


class DeltaTokens:
    """Issued delta tokens (`<version>!<timestamp>`); expiring forgets them all."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._issued: dict[str, int] = {}
        self._serial = 0
        self._ever: set[str] = set()
        # this emulator's own: a tracked read's paging cookie names the versions of this store,
        # and one made by another emulator (before a restart) is refused as an old version stamp
        self.instance = secrets.token_hex(4)

    def issue(self, version: int) -> str:
        """A new token meaning 'changes after version'."""
        with self._lock:
            self._serial += 1
            stamp = time.strftime("%m/%d/%Y %H:%M:%S", time.gmtime())
            token = f"{version}!{stamp}"
            if token in self._ever:
                token = f"{version}!{stamp}!{self._serial}"
            self._ever.add(token)
            self._issued[token] = version
            return token

    def version(self, token: str) -> int:
        """The version a token was issued at; 400 ExpiredVersionStamp if unknown or expired."""
        with self._lock:
            if token not in self._issued:
                raise expired_token_error()
            return self._issued[token]

    def expire_all(self) -> None:
        """Make every issued token invalid."""
        with self._lock:
            self._issued.clear()
