"""The one parser for ``key=value;`` connection strings, as in the Layer2 guide.

Keys are case-insensitive and trimmed; values may be quoted with ``'`` or ``"`` to hold ``;`` and
``=``, a doubled quote inside a quoted value stands for one quote (ODBC's ``{…}`` braces work the
same way, ``}}`` standing for ``}``); the trailing ``;`` is optional; a duplicate key is an error.
"""

from __future__ import annotations

from collections.abc import Collection, Iterator, Mapping
from dataclasses import dataclass, field

from l2tui.config.urls import hidden_after_colon

QUOTE_HINT = "(quote a value holding ';' as \"…\")"


class ConnectionStringError(ValueError):
    """A connection string that does not follow the ``key=value;`` syntax; ``secret`` is the
    secret key (Password, …) it holds, when one was read, so a caller can refuse that first."""

    def __init__(self, message: str, secret: str | None = None) -> None:
        super().__init__(message)
        self.secret = secret


@dataclass(frozen=True)
class ConnectionString(Mapping[str, str]):
    """Parsed pairs, looked up case-insensitively; keeps the spelling and order the user wrote."""

    pairs: tuple[tuple[str, str], ...] = ()
    _index: dict[str, int] = field(default_factory=dict, repr=False, compare=False)

    def __post_init__(self) -> None:
        for i, (key, _) in enumerate(self.pairs):
            self._index[key.casefold()] = i

    def __getitem__(self, key: str) -> str:
        return self.pairs[self._index[key.casefold()]][1]

    def __contains__(self, key: object) -> bool:
        return isinstance(key, str) and key.casefold() in self._index

    def __iter__(self) -> Iterator[str]:
        return (key for key, _ in self.pairs)

    def __len__(self) -> int:
        return len(self.pairs)

    def first(self, *names: str, default: str | None = None) -> str | None:
        """The value of the first of several synonyms present (e.g. Server, Data Source)."""
        for name in names:
            if name in self:
                return self[name]
        return default

    def without(self, *names: str) -> ConnectionString:
        """A copy without the given keys (e.g. Password, before a string is saved)."""
        drop = {n.casefold() for n in names}
        return ConnectionString(tuple(p for p in self.pairs if p[0].casefold() not in drop))

    def render(self) -> str:
        """Back to text, quoting values that need it; ``parse(render(x)) == x``."""
        return "".join(f"{key}={quote_value(value)};" for key, value in self.pairs)


def quote_value(value: str) -> str:
    """Quote a value when it holds ``;``, ``=``, quotes or edge spaces."""
    if value == "" or not any(c in value for c in ";='\"") and value.strip() == value:
        return value
    return '"' + value.replace('"', '""') + '"'


def parse_connection_string(text: str, secrets: Collection[str] = ()) -> ConnectionString:
    """Parse ``key=value;…``; raise ConnectionStringError with a one-line reason. Once one of the
    ``secrets`` keys is read, no text after it is quoted: an unquoted ';' in its value would make
    the rest of the secret look like more pairs."""
    secret_names = {name.casefold() for name in secrets}
    secret: str | None = None  # the first secret key read
    pairs: list[tuple[str, str]] = []
    seen: dict[str, str] = {}
    i, n = 0, len(text)
    while i < n:
        while i < n and (text[i].isspace() or text[i] == ";"):
            i += 1
        if i >= n:
            break
        start = i
        while i < n and text[i] not in "=;":
            i += 1
        key = text[start:i].strip()
        if i >= n or text[i] == ";":
            # (``Password:secret``, ``user:secret@host``: what follows a ':' is not repeated)
            raise _fault(f"'{hidden_after_colon(key)}' has no '=' (expected key=value; pairs)",
                         "has no '='", secret)
        if not key:
            raise _fault(f"a value at column {start + 1} has no key before '='",
                         "has no key before '='", secret)
        if secret is None and key.casefold() in secret_names:
            secret = key
        named = f"'{key}'" if secret in (None, key) else f"a key after '{secret}'"
        i += 1  # past '='
        while i < n and text[i] in " \t":
            i += 1
        if i < n and text[i] in "'\"{":
            value, i = _read_quoted(text, i, named, secret)
            while i < n and text[i] in " \t":
                i += 1
            if i < n and text[i] != ";":
                raise ConnectionStringError(
                    f"unexpected text after the quoted value of {named} (expected ';')", secret
                )
        else:
            start = i
            while i < n and text[i] != ";":
                i += 1
            value = text[start:i].strip()
            if value[:1] in ("'", '"'):
                raise ConnectionStringError(f"the value of {named} has an unbalanced quote", secret)
        folded = key.casefold()
        if folded in seen:
            raise ConnectionStringError(
                f"key '{key}' is given twice" if secret in (None, key)
                else f"a key after '{secret}' is given twice {QUOTE_HINT}", secret)
        seen[folded] = key
        pairs.append((key, value))
    return ConnectionString(tuple(pairs))


def _fault(plain: str, hidden: str, secret: str | None) -> ConnectionStringError:
    """The error ``plain`` tells, or after a secret key only what ``hidden`` tells."""
    if secret is None:
        return ConnectionStringError(plain)
    return ConnectionStringError(f"a part after '{secret}' {hidden} {QUOTE_HINT}", secret)


def _read_quoted(text: str, i: int, named: str, secret: str | None) -> tuple[str, int]:
    """Read a quoted value starting at text[i]; return it and the index past the close quote."""
    quote = "}" if text[i] == "{" else text[i]
    i += 1
    out: list[str] = []
    n = len(text)
    while i < n:
        c = text[i]
        if c == quote:
            if i + 1 < n and text[i + 1] == quote:
                out.append(quote)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise ConnectionStringError(
        f"the value of {named} has an unbalanced quote ({quote} never closed)", secret)
