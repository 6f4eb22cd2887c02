"""The user-info of a URL (``scheme://user:secret@host``): found, shown without, refused in files.

A password may hold ``/``, ``#`` or ``?``: urllib then ends the host there and sees no password,
while SQLAlchemy (and a person reading it) takes everything up to the ``@`` as the password. Both
readings are looked at, so that a password is found whichever way it was written.
"""

from __future__ import annotations

import re
from urllib.parse import urlsplit

_HEAD = re.compile(r"\s*[A-Za-z][A-Za-z0-9+.-]*://")
_HOST_PORT = re.compile(r"(\[[^\]]*\]|[^:@\[\]]*)(:\d*)?")  # host, [v6 host], with a port or not
_LIBERAL = re.compile(r"[^:/]*:[^@]*(?=@)")  # SQLAlchemy's user:password, up to the first '@'
_PASSWORD_KEY = re.compile(r"pwd|.*passw(or)?d.*", re.IGNORECASE)
_ODBC_PAIR = re.compile(r"(?:^|;)\s*([^=;]+?)\s*=\s*([^;\s])")


def userinfo_span(url: str) -> tuple[int, int] | None:
    """Where a URL's user-info lies (``user:secret``, without its ``@``), or None.

    As urllib reads it (up to the authority's last ``@``), else, where the authority is not a
    plain ``host[:port]``, as SQLAlchemy reads it (a password holding ``/``, ``#`` or ``?``)."""
    head = _HEAD.match(url)
    if head is None:
        return None
    rest = url[head.end():]
    authority = re.split(r"[/?#]", rest, maxsplit=1)[0]
    if "@" in authority:
        return head.end(), head.end() + authority.rindex("@")
    liberal = _LIBERAL.match(rest)
    if liberal is None or _HOST_PORT.fullmatch(authority):
        return None
    return head.end(), head.end() + liberal.end()


def url_password(url: str) -> bool:
    """Whether a URL carries a password in its user-info (``scheme://user:secret@host``)."""
    span = userinfo_span(url)
    return span is not None and url[span[0]:span[1]].partition(":")[2] != ""


def without_userinfo(url: str) -> str:
    """The URL without its user-info (``scheme://host/…``), for messages and requests."""
    span = userinfo_span(url)
    return url if span is None else url[:span[0]] + url[span[1] + 1:]


def url_host(url: str) -> str:
    """``host[:port]`` of a URL, without its user-info, as shown to a person."""
    return urlsplit(without_userinfo(url)).netloc


def hidden_after_colon(text: str) -> str:
    """``text`` with what follows its first ``:`` shown as ``***``, up to its last ``@`` (kept,
    with what follows): ``user:secret@host`` or ``Password:secret`` written where a URL with its
    scheme, or a key=value pair, was expected."""
    head, colon, rest = text.partition(":")
    if not colon:
        return text
    at = rest.rfind("@")
    return f"{head}:***{rest[at:] if at >= 0 else ''}"


def without_password(url: str) -> str:
    """The URL with the password of its user-info shown as ``***`` (the user kept); without a
    scheme, what a ``user:secret@`` before its host would hold."""
    if _HEAD.match(url) is None and "@" in url:
        return hidden_after_colon(url)
    span = userinfo_span(url)
    if span is None or not url_password(url):
        return url
    user = url[span[0]:span[1]].split(":", 1)[0]
    return f"{url[:span[0]]}{user}:***{url[span[1]:]}"


def sql_url_secret(url: str) -> str | None:
    """Where a SQLAlchemy URL holds a password, read as SQLAlchemy reads it, or None: its
    user-info, a query option (``?password=``, read by the driver) or odbc_connect's PWD."""
    from sqlalchemy.engine import make_url
    from sqlalchemy.exc import ArgumentError

    try:
        parsed = make_url(url.strip())
    except (ArgumentError, ValueError):
        return "password" if url_password(url) else None
    if parsed.password:
        return "password"
    for key, values in parsed.query.items():
        for value in (values,) if isinstance(values, str) else values:
            if _PASSWORD_KEY.fullmatch(key) and value:
                return f"password (its '{key}' option)"
            if key.casefold() == "odbc_connect" and (name := odbc_password_key(value)):
                return f"password ('{name}' in odbc_connect)"
    return None


def odbc_password_key(odbc: str) -> str | None:
    """The key of an ODBC connection string that gives a password (PWD=…), as spelt, or None."""
    return next((m.group(1) for m in _ODBC_PAIR.finditer(odbc)
                 if _PASSWORD_KEY.fullmatch(m.group(1))), None)
