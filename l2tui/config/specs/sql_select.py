"""Parse a SQL entity's select statement: a table name, one SELECT, or a stored procedure call.

The statement is tokenized (quoted identifiers ``"x"``, ``[x]``, ```x```, string literals and
comments understood), never pattern-matched, so that nothing but one read-only statement can
run. A plain single-table SELECT is writable; joins, aggregates, unions, subqueries, DISTINCT,
GROUP BY, common table expressions and procedure calls are read-only (``SelectInfo.reason``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from l2tui.config.specs import SelectError

TokenKind = Literal["word", "ident", "string", "number", "op", "param"]

# Keywords that never belong in a read-only statement (outside literals and quoted names).
FORBIDDEN = frozenset({
    "insert", "update", "delete", "merge", "upsert", "drop", "alter", "create", "truncate",
    "grant", "revoke", "exec", "execute", "call", "into", "attach", "detach", "pragma",
    "declare", "shutdown", "openrowset", "opendatasource", "xp_cmdshell", "sp_executesql",
    "outfile", "dumpfile",
})
AGGREGATES = frozenset({
    "count", "sum", "avg", "min", "max", "string_agg", "group_concat", "array_agg", "stdev",
    "stddev", "variance", "var", "listagg", "json_agg", "bool_and", "bool_or", "every",
})
# Words that end a FROM table reference or start a clause that keeps a select writable.
CLAUSES = frozenset({"where", "order", "limit", "offset", "fetch", "for", "option", "with"})
SET_OPERATORS = frozenset({"union", "intersect", "except", "minus"})
JOINS = frozenset({"join", "inner", "left", "right", "full", "cross", "outer", "natural", "apply"})


@dataclass(frozen=True)
class Token:
    """One lexical token; ``text`` is the identifier's name without its quotes."""

    kind: TokenKind
    text: str
    pos: int
    quoted: bool = False

    @property
    def lower(self) -> str:
        """The token text in lower case, for keyword checks (empty for quoted names)."""
        return "" if self.quoted or self.kind != "word" else self.text.lower()


@dataclass(frozen=True)
class Name:
    """One part of a dotted name; ``quoted`` parts keep their case."""

    text: str
    quoted: bool = False


@dataclass(frozen=True)
class SelectInfo:
    """What a select statement is: its table, the columns it keeps, and whether it is writable."""

    text: str
    kind: Literal["table", "select", "query", "procedure"]
    table: tuple[Name, ...] = ()  # [catalog.][schema.]name, empty for queries
    columns: tuple[Name, ...] | None = None  # None: every column (``*`` or a bare table name)
    where: bool = False
    reason: str = ""  # why it is read-only; empty when writable
    limited: bool = False  # stops at a row count (TOP, LIMIT, FETCH, OFFSET): not every row

    @property
    def writable(self) -> bool:
        """A table name or a plain single-table SELECT."""
        return self.kind in ("table", "select") and not self.reason

    @property
    def table_name(self) -> str:
        """The table's own name (last dotted part)."""
        return self.table[-1].text if self.table else ""

    @property
    def schema(self) -> str | None:
        """The schema part of a dotted table name, if any."""
        return self.table[-2].text if len(self.table) >= 2 else None


_CLOSE = {'"': '"', "[": "]", "`": "`"}


def tokenize(text: str) -> list[Token]:
    """Split a statement into tokens; raise SelectError for comments and unclosed quotes."""
    tokens: list[Token] = []
    i, n = 0, len(text)
    while i < n:
        c = text[i]
        if c.isspace():
            i += 1
        elif text.startswith("--", i) or c == "#" or text.startswith("/*", i):
            raise SelectError(
                f"comments are not allowed in the select statement (at column {i + 1})"
            )
        elif c in "'":
            start = i
            value, i = _quoted(text, i, "'", "string literal")
            tokens.append(Token("string", value, start))
        elif c in _CLOSE:
            start = i
            value, i = _quoted(text, i, _CLOSE[c], "quoted name")
            tokens.append(Token("ident", value, start, quoted=True))
        elif c.isalpha() or c == "_" or ord(c) > 127:
            start = i
            while i < n and (text[i].isalnum() or text[i] in "_$#@" or ord(text[i]) > 127):
                i += 1
            word = text[start:i]
            if i < n and text[i] == "'" and word.lower() in ("n", "e", "x", "b", "u&"):
                value, i = _quoted(text, i, "'", "string literal")
                tokens.append(Token("string", value, start))
            else:
                tokens.append(Token("word", word, start))
        elif c.isdigit() or (c == "." and i + 1 < n and text[i + 1].isdigit()):
            start = i
            while i < n and (text[i].isalnum() or text[i] in "."):
                i += 1
            tokens.append(Token("number", text[start:i], start))
        elif c in "@:$?":
            start = i
            i += 1
            while i < n and (text[i].isalnum() or text[i] in "_@"):
                i += 1
            tokens.append(Token("param", text[start:i], start))
        else:
            two = text[i:i + 2]
            if two in ("<>", "<=", ">=", "!=", "||", "::"):
                tokens.append(Token("op", two, i))
                i += 2
            else:
                tokens.append(Token("op", c, i))
                i += 1
    return tokens


def _quoted(text: str, i: int, close: str, what: str) -> tuple[str, int]:
    """Read a quoted run starting at text[i] (a doubled close quote escapes it)."""
    start = i
    i += 1
    out: list[str] = []
    while i < len(text):
        if close == "'" and text[i] == "\\":
            raise SelectError(
                f"backslashes are not allowed in string literals (column {i + 1}): "
                "databases read them differently"
            )
        if text[i] == close:
            if text.startswith(close * 2, i):
                out.append(close)
                i += 2
                continue
            return "".join(out), i + 1
        out.append(text[i])
        i += 1
    raise SelectError(f"unclosed {what} starting at column {start + 1}")


def parse_select(text: str) -> SelectInfo:
    """Classify a select statement; raise SelectError (one line) for anything but one query."""
    tokens = tokenize(text)
    while tokens and tokens[-1].kind == "op" and tokens[-1].text == ";":
        tokens.pop()
    if not tokens:
        raise SelectError("the select statement is empty (give a table name or a SELECT)")
    semi = next((t for t in tokens if t.kind == "op" and t.text == ";"), None)
    if semi is not None:
        raise SelectError(
            f"only one statement is allowed (found ';' at column {semi.pos + 1})"
        )
    stripped = text.strip().rstrip(";").strip()
    first = tokens[0].lower
    if first in ("exec", "execute", "call"):
        return _procedure(stripped, tokens)
    table = _dotted(tokens, 0)
    keyword = first in FORBIDDEN or first in ("select", "with")
    if table is not None and table[1] == len(tokens) and not keyword:
        return SelectInfo(stripped, "table", table=table[0])
    if first not in ("select", "with"):
        shown = tokens[0].text.upper() if tokens[0].kind == "word" else tokens[0].text
        raise SelectError(
            f"expected a table name or a SELECT statement, not '{shown} …'"
        )
    bad = next((t for t in tokens if t.lower in FORBIDDEN), None)
    if bad is not None:
        raise SelectError(
            f"only a SELECT is allowed; found '{bad.text.upper()}' at column {bad.pos + 1}"
        )
    _check_parentheses(tokens)
    if first == "with":
        return SelectInfo(stripped, "query", reason="it uses a common table expression (WITH)")
    return _select(stripped, tokens)


def _procedure(text: str, tokens: list[Token]) -> SelectInfo:
    """``EXEC name [args]`` / ``CALL name(args)``: read-only; arguments must be plain values."""
    name = _dotted(tokens, 1)
    if name is None:
        raise SelectError("a procedure call must name the procedure (EXEC name …)")
    for token in tokens[name[1]:]:
        if token.kind == "word" and token.lower not in ("null", "true", "false", "output"):
            raise SelectError(
                f"procedure arguments must be literal values; found '{token.text}'"
            )
    _check_parentheses(tokens)
    return SelectInfo(text, "procedure", table=name[0], reason="it calls a stored procedure")


def _check_parentheses(tokens: list[Token]) -> None:
    depth = 0
    for token in tokens:
        if token.kind == "op" and token.text == "(":
            depth += 1
        elif token.kind == "op" and token.text == ")":
            depth -= 1
            if depth < 0:
                raise SelectError(f"unbalanced ')' at column {token.pos + 1}")
    if depth:
        raise SelectError("unbalanced '(' in the select statement")


def _dotted(tokens: list[Token], i: int) -> tuple[tuple[Name, ...], int] | None:
    """A name of one to three dotted parts starting at tokens[i], and the index after it."""
    parts: list[Name] = []
    while i < len(tokens):
        token = tokens[i]
        if token.kind in ("ident", "word"):
            parts.append(Name(token.text, token.quoted))
        else:
            return None
        i += 1
        if i < len(tokens) and tokens[i].kind == "op" and tokens[i].text == ".":
            i += 1
            continue
        break
    if not parts or len(parts) > 3:
        return None
    return tuple(parts), i


def _top_level(tokens: list[Token]) -> list[tuple[Token, int]]:
    """Each token with its parenthesis depth."""
    out: list[tuple[Token, int]] = []
    depth = 0
    for token in tokens:
        if token.kind == "op" and token.text == ")":
            depth -= 1
        out.append((token, depth))
        if token.kind == "op" and token.text == "(":
            depth += 1
    return out


def _select(text: str, tokens: list[Token]) -> SelectInfo:
    """Classify ``SELECT … FROM …``."""
    leveled = _top_level(tokens)

    def query(reason: str) -> SelectInfo:
        return SelectInfo(text, "query", reason=reason)

    for k, (token, _) in enumerate(leveled):
        nxt = leveled[k + 1][0] if k + 1 < len(leveled) else None
        if token.kind == "op" and token.text == "(" and nxt is not None and nxt.lower in (
            "select", "with"
        ):
            return query("it has a subquery")
        if token.lower in SET_OPERATORS:
            return query(f"it combines queries with {token.text.upper()}")
        if token.lower in ("group", "having"):
            return query(f"it has {'GROUP BY' if token.lower == 'group' else 'HAVING'}")
        if token.lower in AGGREGATES and nxt is not None and nxt.text == "(":
            return query(f"it has an aggregate ({token.text.upper()})")
        if token.lower == "over":
            return query("it has a window function (OVER)")
    i = 1
    if i < len(tokens) and tokens[i].lower == "distinct":
        return query("it has DISTINCT")
    if i < len(tokens) and tokens[i].lower == "all":
        i += 1
    top = i < len(tokens) and tokens[i].lower == "top"
    if top:
        i += 1
        if i < len(tokens) and tokens[i].text == "(":
            while i < len(tokens) and tokens[i].text != ")":
                i += 1
        i += 1
        if i < len(tokens) and tokens[i].lower == "percent":
            i += 1
    from_at = next(
        (k for k, (t, d) in enumerate(leveled) if d == 0 and t.lower == "from" and k >= i), None
    )
    if from_at is None:
        return query("it reads no table (no FROM)")
    columns = _select_list(tokens[i:from_at])
    table = _dotted(tokens, from_at + 1)
    if table is None:
        return query("its FROM is not a plain table name")
    names, j = table
    if j < len(tokens) and tokens[j].lower == "as":
        j += 1
    if j < len(tokens) and (tokens[j].kind == "ident" or (
        tokens[j].kind == "word" and tokens[j].lower not in CLAUSES | JOINS | SET_OPERATORS
    )):
        j += 1  # a table alias
    if j < len(tokens) and tokens[j].kind == "op" and tokens[j].text == "(":
        return query("its FROM calls a table function")
    if j < len(tokens) and tokens[j].lower == "with":
        j = _skip_hint(tokens, j)
    rest = tokens[j:]
    if rest and (rest[0].lower in JOINS or rest[0].text == ","):
        return query("it joins tables")
    if any(t.lower in ("join", "apply") for t, d in leveled[j:] if d == 0):
        return query("it joins tables")
    if rest and rest[0].lower not in CLAUSES:
        return query(f"unexpected '{rest[0].text}' after the table name")
    if isinstance(columns, str):
        return SelectInfo(text, "query", table=names, reason=columns)
    where = any(t.lower == "where" for t in rest)
    limited = top or any(t.lower in ("limit", "fetch", "offset") for t, d in leveled[j:] if d == 0)
    return SelectInfo(text, "select", table=names, columns=columns, where=where, limited=limited)


def _skip_hint(tokens: list[Token], j: int) -> int:
    """Skip a SQL Server table hint ``WITH (NOLOCK)``."""
    if j + 1 < len(tokens) and tokens[j + 1].text == "(":
        k = j + 2
        while k < len(tokens) and tokens[k].text != ")":
            k += 1
        return k + 1
    return j


def _select_list(tokens: list[Token]) -> tuple[Name, ...] | None | str:
    """Plain column names (None for ``*``), or the reason the list is not plain."""
    if not tokens:
        raise SelectError("SELECT has no column list")
    items: list[list[Token]] = [[]]
    depth = 0
    for token in tokens:
        if token.text == "(" and token.kind == "op":
            depth += 1
        elif token.text == ")" and token.kind == "op":
            depth -= 1
        if depth == 0 and token.kind == "op" and token.text == ",":
            items.append([])
        else:
            items[-1].append(token)
    columns: list[Name] = []
    star = False
    for item in items:
        texts = [t.text for t in item]
        if not item:
            raise SelectError("SELECT list has an empty column (two commas in a row?)")
        if texts == ["*"] or (len(item) >= 3 and texts[-2:] == [".", "*"]):
            star = True
            continue
        dotted = _dotted(item, 0)
        if dotted is None or dotted[1] != len(item):
            return "its column list has an expression or alias"
        columns.append(dotted[0][-1])
    if star:
        return None if not columns else "its column list mixes * and named columns"
    return tuple(columns)
