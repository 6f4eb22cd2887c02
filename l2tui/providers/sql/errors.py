"""Driver exceptions turned into one-line messages that never carry a secret."""

from __future__ import annotations

import re
from typing import Any

# (an ODBC native error code ends a message after a blank: "… truncated. (8152)"; a number
# right after a word is the message's own, as PostgreSQL's "character varying(50)")
_ODBC_NOISE = re.compile(r"\(SQLDriverConnect\w*\)|\(SQLExecDirectW\)|(?<!\S)\(\d+\)\s*$")


def one_line(exc: BaseException, secret: str | None = None) -> str:
    """The driver's own reason, first line only, without SQLAlchemy's background links."""
    orig: Any = getattr(exc, "orig", None) or exc
    text = str(orig)
    if isinstance(getattr(orig, "args", None), tuple) and len(orig.args) >= 2 and all(
        isinstance(a, str) for a in orig.args[:2]
    ):
        text = orig.args[1]  # pyodbc: (sqlstate, message); pymysql: (code, message)
    elif isinstance(getattr(orig, "args", None), tuple) and len(orig.args) >= 2 and isinstance(
        orig.args[1], str
    ):
        text = orig.args[1]
    lines = [ln.strip() for ln in text.splitlines() if ln.strip()]
    line = lines[0] if lines else type(orig).__name__
    line = re.sub(r"\[[^\]]*\]", "", line)  # pyodbc's [unixODBC][FreeTDS][SQL Server] tags
    line = _ODBC_NOISE.sub("", line).strip(" .;")
    line = re.sub(r"\s+", " ", line)
    if secret:
        line = line.replace(secret, "***")
    return line[:300] or type(orig).__name__


# SQLite's extended result codes SQLITE_CONSTRAINT_UNIQUE and SQLITE_CONSTRAINT_PRIMARYKEY
_SQLITE_UNIQUE = frozenset({2067, 1555})


def unique_violation(exc: BaseException) -> bool:
    """True when a write failed because another row holds its value of a unique index
    (PostgreSQL 23505, SQLite's UNIQUE/PRIMARY KEY constraint, MySQL/MariaDB 1062)."""
    orig: Any = getattr(exc, "orig", None) or exc
    if getattr(orig, "sqlstate", None) == "23505":
        return True
    if getattr(orig, "sqlite_errorcode", None) in _SQLITE_UNIQUE:
        return True
    args = getattr(orig, "args", None)
    return type(orig).__module__.split(".")[0] in ("pymysql", "MySQLdb") \
        and isinstance(args, tuple) and bool(args) and args[0] == 1062
