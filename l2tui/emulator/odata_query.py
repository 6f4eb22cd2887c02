"""$filter (recursive descent) and $orderby parsing into Python predicates and sort keys."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from functools import cmp_to_key
from typing import Any, TypeVar

from .errors import INVALID_PROPERTY, bad_request
from .values import parse_datetime

Row = Mapping[str, Any]
R = TypeVar("R", bound=Mapping[str, Any])
Getter = Callable[[Row], Any]
Predicate = Callable[[Row], bool]
FieldResolver = Callable[[str], Getter]  # property path -> getter; raises ODataError if unknown

_TOKEN_RE = re.compile(
    r"""
    (?P<ws>\s+)
  | (?P<string>'(?:[^']|'')*')
  | (?P<guid>[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}(?![\w-]))
  | (?P<datetime>\d{4}-\d{2}-\d{2}T\d{2}:\d{2}(?::\d{2}(?:\.\d+)?)?(?:Z|[+-]\d{2}:\d{2})?)
  | (?P<date>\d{4}-\d{2}-\d{2}(?![\w-]))
  | (?P<number>-?\d+(?:\.\d+)?(?:[eE][+-]?\d+)?[mMdDfFlL]?(?![\w]))
  | (?P<enum>[A-Za-z_][\w.]*'(?:[^']|'')*')
  | (?P<alias>@[A-Za-z_]\w*)
  | (?P<name>[A-Za-z_$][\w.]*(?:/[A-Za-z_][\w.]*)*)
  | (?P<open>\()
  | (?P<close>\))
  | (?P<comma>,)
  | (?P<lbracket>\[)
  | (?P<rbracket>\])
  | (?P<eq>=)
    """,
    re.VERBOSE,
)

COMPARISONS = {"eq", "ne", "gt", "ge", "lt", "le"}
STRING_FUNCTIONS = {"contains", "startswith", "endswith"}
CRM_PREFIX = "Microsoft.Dynamics.CRM."
_KEYS = "emulator_key_values"  # a predicate's attribute: (property, values) it can only be true for


def key_values(pred: Predicate) -> tuple[str, frozenset[str]] | None:
    """The property and the values a filter holds only for (an ``In`` on it, alone or inside
    an ``and``), lower-cased: a read of its key column looks those rows up instead of testing
    every row. None when the filter may hold for any value."""
    found: tuple[str, frozenset[str]] | None = getattr(pred, _KEYS, None)
    return found


def _keyed(pred: Predicate, keys: tuple[str, frozenset[str]] | None) -> Predicate:
    if keys is not None:
        setattr(pred, _KEYS, keys)
    return pred


class _Literal:
    """A literal operand value."""

    __slots__ = ("value",)

    def __init__(self, value: Any) -> None:
        self.value = value


def _tokenize(text: str) -> list[tuple[str, str]]:
    tokens: list[tuple[str, str]] = []
    pos = 0
    while pos < len(text):
        m = _TOKEN_RE.match(text, pos)
        if not m:
            raise _syntax(f"syntax error at position {pos} in '{text}'")
        kind = m.lastgroup or ""
        if kind != "ws":
            tokens.append((kind, m.group()))
        pos = m.end()
    return tokens


def _syntax(detail: str) -> Exception:
    return bad_request(f"Syntax error: {detail}.", INVALID_PROPERTY)


def _normalize_pair(a: Any, b: Any) -> tuple[Any, Any]:
    """Make two operands comparable: strings case-insensitive, datetimes as UTC text."""
    if isinstance(a, str) and isinstance(b, str):
        return a.casefold(), b.casefold()
    if isinstance(a, bool) or isinstance(b, bool):
        return a, b
    if isinstance(a, (int, float)) and isinstance(b, str):
        try:
            return a, float(b)
        except ValueError:
            pass
    if isinstance(b, (int, float)) and isinstance(a, str):
        try:
            return float(a), b
        except ValueError:
            pass
    return a, b


def _compare(op: str, a: Any, b: Any) -> bool:
    if op == "eq":
        if a is None or b is None:
            return a is None and b is None
        x, y = _normalize_pair(a, b)
        return bool(x == y)
    if op == "ne":
        if a is None or b is None:
            return not (a is None and b is None)
        x, y = _normalize_pair(a, b)
        return bool(x != y)
    if a is None or b is None:
        return False
    x, y = _normalize_pair(a, b)
    try:
        if op == "gt":
            return bool(x > y)
        if op == "ge":
            return bool(x >= y)
        if op == "lt":
            return bool(x < y)
        return bool(x <= y)
    except TypeError:
        raise bad_request(f"The operator '{op}' cannot compare '{a}' and '{b}'.") from None


def like_regex(pattern: str, prefix: bool, suffix: bool) -> re.Pattern[str]:
    """Translate a string with SQL wildcards (% _ [] [^]) into a case-insensitive regex."""
    out = []
    i = 0
    while i < len(pattern):
        ch = pattern[i]
        if ch == "%":
            out.append(".*")
        elif ch == "_":
            out.append(".")
        elif ch == "[":
            end = pattern.find("]", i + 1)
            if end == -1:
                out.append(re.escape(ch))
            else:
                body = pattern[i + 1:end]
                neg = body.startswith("^")
                body = body[1:] if neg else body
                out.append("[" + ("^" if neg else "") + body.replace("\\", "\\\\") + "]")
                i = end
        else:
            out.append(re.escape(ch))
        i += 1
    regex = ("" if prefix else ".*") + "".join(out) + ("" if suffix else ".*")
    return re.compile(regex, re.IGNORECASE | re.DOTALL)


class FilterParser:
    """Recursive-descent parser for the $filter subset Dataverse supports."""

    def __init__(self, text: str, fields: FieldResolver, aliases: Mapping[str, str] | None = None):
        self.text = text
        self.tokens = _tokenize(text)
        self.pos = 0
        self.fields = fields
        self.aliases = aliases or {}

    # token helpers
    def _peek(self, offset: int = 0) -> tuple[str, str]:
        i = self.pos + offset
        return self.tokens[i] if i < len(self.tokens) else ("end", "")

    def _next(self) -> tuple[str, str]:
        tok = self._peek()
        self.pos += 1
        return tok

    def _expect(self, kind: str) -> str:
        tok = self._next()
        if tok[0] != kind:
            raise _syntax(f"expected {kind} but found '{tok[1] or 'end of input'}' in '{self.text}'")
        return tok[1]

    def _keyword(self, word: str) -> bool:
        kind, value = self._peek()
        if kind == "name" and value == word:
            self.pos += 1
            return True
        return False

    def parse(self) -> Predicate:
        """Parse the whole expression into a predicate."""
        pred = self._or()
        if self.pos != len(self.tokens):
            raise _syntax(f"unexpected '{self._peek()[1]}' in '{self.text}'")
        return pred

    def _or(self) -> Predicate:
        left = self._and()
        while self._keyword("or"):
            right = self._and()
            left = (lambda a, b: lambda r: a(r) or b(r))(left, right)
        return left

    def _and(self) -> Predicate:
        left = self._not()
        while self._keyword("and"):
            right = self._not()
            keys = key_values(left) or key_values(right)  # (either side narrows the rows)
            left = _keyed((lambda a, b: lambda r: a(r) and b(r))(left, right), keys)
        return left

    def _not(self) -> Predicate:
        if self._keyword("not"):
            inner = self._not()
            return lambda r: not inner(r)
        return self._comparison()

    def _comparison(self) -> Predicate:
        kind, value = self._peek()
        if kind == "open":
            self.pos += 1
            inner = self._or()
            self._expect("close")
            return inner
        if kind == "name" and self._peek(1)[0] == "open":
            return self._function()
        left = self._operand()
        op_kind, op = self._next()
        if op_kind != "name" or op not in COMPARISONS:
            raise _syntax(f"expected a comparison operator but found '{op or 'end of input'}'")
        right = self._operand()
        return _comparison(op, left, right)

    def _operand(self) -> Getter | _Literal:
        kind, value = self._next()
        if kind == "string":
            return _Literal(value[1:-1].replace("''", "'"))
        if kind == "guid":
            return _Literal(value.lower())
        if kind in ("datetime", "date"):
            try:
                dt = parse_datetime(value)
            except ValueError:
                raise _syntax(f"invalid date '{value}'") from None
            text = dt.strftime("%Y-%m-%dT%H:%M:%SZ") if kind == "datetime" else value
            return _Literal(text)
        if kind == "number":
            raw = value.rstrip("mMdDfFlL")
            return _Literal(float(raw) if any(c in raw for c in ".eE") else int(raw))
        if kind == "enum":
            return _Literal(value[value.index("'") + 1:-1].replace("''", "'"))
        if kind == "alias":
            if value not in self.aliases:
                raise _syntax(f"the parameter alias '{value}' has no value")
            return FilterParser(self.aliases[value], self.fields)._operand()
        if kind == "name":
            if value == "null":
                return _Literal(None)
            if value in ("true", "false"):
                return _Literal(value == "true")
            return self.fields(value)
        raise _syntax(f"unexpected '{value or 'end of input'}' in '{self.text}'")

    def _function(self) -> Predicate:
        name = self._expect("name")
        self._expect("open")
        if name in STRING_FUNCTIONS:
            target = self._operand()
            self._expect("comma")
            pattern = self._operand()
            self._expect("close")
            if not isinstance(pattern, _Literal) or not isinstance(pattern.value, str):
                raise _syntax(f"{name} needs a string literal as its second argument")
            regex = like_regex(
                pattern.value, prefix=name == "startswith", suffix=name == "endswith"
            )
            get = _getter(target)
            return lambda r: isinstance(v := get(r), str) and regex.fullmatch(v) is not None
        if name.startswith(CRM_PREFIX):
            return self._crm_function(name[len(CRM_PREFIX):])
        raise bad_request(f"The function '{name}' is not supported.")

    def _crm_function(self, name: str) -> Predicate:
        args: dict[str, Any] = {}
        while self._peek()[0] != "close":
            key = self._expect("name")
            self._expect("eq")
            if self._peek()[0] == "lbracket":
                self.pos += 1
                items = []
                while self._peek()[0] != "rbracket":
                    lit = self._operand()
                    items.append(lit.value if isinstance(lit, _Literal) else None)
                    if self._peek()[0] == "comma":
                        self.pos += 1
                self._expect("rbracket")
                args[key] = items
            else:
                lit = self._operand()
                args[key] = lit.value if isinstance(lit, _Literal) else None
            if self._peek()[0] == "comma":
                self.pos += 1
        self._expect("close")
        prop = args.get("PropertyName")
        if not isinstance(prop, str):
            raise _syntax(f"{name} needs PropertyName")
        get = self.fields(prop)
        values = args.get("PropertyValues")
        if name in ("In", "NotIn") and isinstance(values, list):
            negate = name == "NotIn"
            pred: Predicate = lambda r: any(_compare("eq", get(r), v) for v in values) != negate  # noqa: E731
            if negate or not all(isinstance(v, str) for v in values):
                return pred
            return _keyed(pred, (prop.casefold(), frozenset(v.casefold() for v in values)))
        if name in ("Between", "NotBetween") and isinstance(values, list) and len(values) == 2:
            low, high = values
            negate = name == "NotBetween"
            return lambda r: (
                _compare("ge", get(r), low) and _compare("le", get(r), high)
            ) != negate
        raise bad_request(f"The function 'Microsoft.Dynamics.CRM.{name}' is not supported.")


def _getter(operand: Getter | _Literal) -> Getter:
    if isinstance(operand, _Literal):
        value = operand.value
        return lambda r: value
    return operand


def _comparison(op: str, left: Getter | _Literal, right: Getter | _Literal) -> Predicate:
    get_left, get_right = _getter(left), _getter(right)
    if isinstance(right, _Literal) and not isinstance(left, _Literal):
        value = right.value
        if op == "eq" and value is None:
            return lambda r: get_left(r) is None
        if op == "ne" and value is None:
            return lambda r: get_left(r) is not None
        if op == "eq" and isinstance(value, str):
            folded = value.casefold()
            return lambda r: isinstance(v := get_left(r), str) and v.casefold() == folded
        if op == "eq" and isinstance(value, int | float) and not isinstance(value, bool):
            # what _compare does, but for a text value (its number), without its calls: the
            # usual filter of a read (statecode eq 0) is asked of every row
            return lambda r: (v := get_left(r)) is not None and (
                _compare(op, v, value) if isinstance(v, str) else bool(v == value))
    return lambda r: _compare(op, get_left(r), get_right(r))


def parse_filter(
    text: str, fields: FieldResolver, aliases: Mapping[str, str] | None = None
) -> Predicate:
    """Compile a $filter expression into a predicate over rows."""
    return FilterParser(text, fields, aliases).parse()


def parse_orderby(text: str, fields: FieldResolver) -> list[tuple[Getter, bool]]:
    """Parse `a asc, b desc` into (getter, descending) pairs."""
    out = []
    for part in text.split(","):
        words = part.split()
        if not words or len(words) > 2 or (len(words) == 2 and words[1] not in ("asc", "desc")):
            raise _syntax(f"invalid $orderby '{text}'")
        out.append((fields(words[0]), len(words) == 2 and words[1] == "desc"))
    return out


def _sort_cmp(a: Any, b: Any) -> int:
    if a is None or b is None:
        return (a is not None) - (b is not None)  # nulls first
    x, y = _normalize_pair(a, b)
    return (x > y) - (x < y)


def sort_rows(rows: list[R], order: list[tuple[Getter, bool]], tie: Callable[[R], Any]) -> list[R]:
    """Sort rows by the $orderby keys (nulls first ascending), ties broken by tie()."""
    out = sorted(rows, key=tie)
    for get, desc in reversed(order):
        out.sort(key=cmp_to_key(_comparer(get)), reverse=desc)
    return out


def _comparer(get: Getter) -> Callable[[Any, Any], int]:
    return lambda a, b: _sort_cmp(get(a), get(b))
