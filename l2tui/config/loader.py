"""Read a connection file into the model, checking every key and value before anything connects."""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import tomlkit
from tomlkit.exceptions import (
    InvalidControlChar,
    KeyAlreadyPresent,
    ParseError,
    UnexpectedCharError,
    UnexpectedEofError,
)

from l2tui.config.connstr import ConnectionStringError
from l2tui.config.model import (
    ColumnPair,
    ConflictResolution,
    Connection,
    Deletions,
    Direction,
    Entity,
    Mapping,
)
from l2tui.config.names import nearest
from l2tui.config.specs import (
    ProviderSpec,
    SelectError,
    find_spec,
    looks_like_url,
    provider_names,
)
from l2tui.config.urls import sql_url_secret, url_password
from l2tui.errors import ConfigError

TOP_KEYS = ("title", "direction", "conflict_resolution", "deletions", "max_delete_ratio",
            "entity1", "entity2", "mapping")
ENTITY_KEYS = ("title", "provider", "connection_string", "select", "primary_key", "password_env",
               "modified_column")
MAPPING_KEYS = ("auto", "columns", "match_key", "exclude")
PAIR_KEYS = ("left", "right")


class _Checker:
    """Validates one parsed document, raising ConfigError naming the file, key and line."""

    def __init__(self, text: str, file: str) -> None:
        self.text = text
        self.file = file

    def fail(self, key: str, message: str) -> ConfigError:
        return ConfigError(message, file=self.file, key=key, line=_line_of(self.text, key))

    def keys(self, table: dict[str, Any], valid: Iterable[str], prefix: str) -> None:
        valid = tuple(valid)
        for key in table:
            if key not in valid:
                near = nearest(key, valid, cutoff=0.5)
                hint = f"did you mean '{near}'?" if near else f"valid keys: {', '.join(valid)}"
                raise self.fail(f"{prefix}{key}", f"unknown key; {hint}")

    def string(self, table: dict[str, Any], key: str, prefix: str, *, required: bool = False,
               default: str = "") -> str:
        value = table.get(key)
        if value is None:
            if required:
                raise self.fail(f"{prefix}{key}", "missing (expected a string)")
            return default
        if not isinstance(value, str):
            raise self.fail(f"{prefix}{key}", f"expected a string, got {_kind(value)}")
        return value

    def enum(self, table: dict[str, Any], key: str, enum: Any, default: Any) -> Any:
        value = table.get(key)
        if value is None:
            return default
        choices = [e.value for e in enum]
        if not isinstance(value, str) or value not in choices:
            near = nearest(str(value), choices, cutoff=0.5)
            hint = f" (did you mean '{near}'?)" if near else ""
            raise self.fail(key, f"expected one of {' | '.join(choices)}, got {_shown(value)}{hint}")
        return enum(value)


# what TOML allows nowhere, in a string or a comment alike (tab, LF and CR aside)
_CONTROL = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


def parse_connection(text: str, file: str | Path = "<connection>") -> Connection:
    """Parse and validate a connection file's text; keep the tomlkit document for round trips."""
    name = str(file)
    control = _CONTROL.search(text)
    if control is not None:  # (the parser's word for it is "Empty key" or a \u escape)
        line = text.count("\n", 0, control.start()) + 1
        raise ConfigError(f"not valid TOML: it holds a control character "
                          f"(U+{ord(control[0]):04X}): a binary or damaged file?",
                          file=name, line=line)
    try:
        doc = tomlkit.parse(text)
    except ParseError as exc:
        raise ConfigError(f"not valid TOML: {_toml_reason(exc, text)}", file=name, line=exc.line) \
            from None
    except KeyAlreadyPresent as exc:  # (a key given twice in a table: no line from tomlkit)
        key = str(exc).split('"')[1] if str(exc).count('"') >= 2 else ""
        raise ConfigError(f"not valid TOML: the key {key!r} is given twice in one table",
                          file=name, line=_second_line(text, key)) from None
    data = doc.unwrap()
    conn = connection_from_dict(data, text, name)
    conn.document = doc
    return conn


def _second_line(text: str, key: str) -> int | None:
    """The line (1-based) where ``key`` is given a second time in one table, if found."""
    seen: set[tuple[str, str]] = set()
    table = ""
    for number, line in enumerate(text.splitlines(), 1):
        stripped = line.strip()
        if stripped.startswith("["):
            table = stripped
        elif stripped.split("=", 1)[0].strip().strip('"\'') == key and "=" in stripped:
            if (table, key) in seen:
                return number
            seen.add((table, key))
    return None


def _toml_reason(exc: ParseError, text: str) -> str:
    """The parser's reason, in words for the usual slips (it names a character code instead)."""
    reason = str(exc).split(" at line ")[0]
    lines = text.splitlines()
    before = lines[exc.line - 1][:exc.col] if 0 < exc.line <= len(lines) else ""
    if isinstance(exc, UnexpectedCharError) and before.rstrip().endswith("=") and \
            reason.startswith("Unexpected character"):
        # (a bare word where a value goes: tomlkit says only "Unexpected character: 'l'")
        return ("a value must be \"quoted text\", a number, true or false, a date, [a list] or "
                "{a table} (a missing quote?)")
    if isinstance(exc, InvalidControlChar) and reason.endswith(("u000a instead", "u000d instead")):
        return "a string is not closed on its line (a missing quote?)"
    if isinstance(exc, UnexpectedEofError) or (
            isinstance(exc, UnexpectedCharError) and reason.endswith("'\\x00'")):
        return "the file ends inside a value or a table name (a missing ], } or quote?)"
    if isinstance(exc, UnexpectedCharError) and reason.endswith(("'\\n'", "'\\r'")):
        return "the line ends too early (a missing ], } or quote?)"
    return reason


def title_problem(title: str) -> str | None:
    """What is wrong with a connection's title, if anything: it is one line of text (a newline
    would break every listing it is shown in)."""
    control = next((c for c in title if unicodedata.category(c) == "Cc"), None)
    if control is None:
        return None
    return f"must be one line of text, without control characters (it holds {control!r})"


def connection_from_dict(data: dict[str, Any], text: str = "", file: str = "<connection>") -> Connection:
    """Build a Connection from plain TOML data, checking every key."""
    check = _Checker(text, file)
    check.keys(data, TOP_KEYS, "")
    title = check.string(data, "title", "", required=True).strip()
    if not title:
        raise check.fail("title", "must not be empty")
    if (problem := title_problem(title)) is not None:
        raise check.fail("title", problem)
    ratio = data.get("max_delete_ratio", 0.2)
    if isinstance(ratio, bool) or not isinstance(ratio, int | float) or not 0 <= ratio <= 1:
        raise check.fail("max_delete_ratio", f"expected a number from 0 to 1, got {_shown(ratio)}")
    direction = check.enum(data, "direction", Direction, Direction.LEFT_TO_RIGHT)
    conflict_resolution = check.enum(data, "conflict_resolution", ConflictResolution,
                                     ConflictResolution.LEFT_WINS)
    deletions = check.enum(data, "deletions", Deletions, Deletions.PROPAGATE)
    entities = []
    for index in (1, 2):
        key = f"entity{index}"
        table = data.get(key)
        if table is None:
            raise check.fail(key, f"missing [{key}] table (both data entities are required)")
        if not isinstance(table, dict):
            raise check.fail(key, f"expected a table [{key}], got {_kind(table)}")
        entities.append(_entity(check, table, f"{key}."))
    mapping_table = data.get("mapping", {})
    if not isinstance(mapping_table, dict):
        raise check.fail("mapping", f"expected a table [mapping], got {_kind(mapping_table)}")
    return Connection(
        title=title,
        entity1=entities[0],
        entity2=entities[1],
        direction=direction,
        conflict_resolution=conflict_resolution,
        deletions=deletions,
        max_delete_ratio=float(ratio),
        mapping=_mapping(check, mapping_table),
    )


def _entity(check: _Checker, table: dict[str, Any], prefix: str) -> Entity:
    check.keys(table, ENTITY_KEYS, prefix)
    provider = check.string(table, "provider", prefix).strip()
    spec = None
    if provider:
        spec = find_spec(provider)
        if spec is None:
            names = provider_names()
            near = nearest(provider, names, cutoff=0.5)
            hint = f"did you mean '{near}'? " if near else ""
            raise check.fail(f"{prefix}provider", f"unknown provider {provider!r}; {hint}valid: {', '.join(names)}")
        provider = spec.name
    connection_string = check.string(table, "connection_string", prefix).strip()
    if connection_string and spec is not None:
        _check_secrets(check, spec, connection_string, f"{prefix}connection_string")
    select = check.string(table, "select", prefix)
    if select.strip() and spec is not None:
        try:
            spec.validate_select(select)
        except SelectError as exc:
            raise check.fail(f"{prefix}select", str(exc)) from None
    primary_key = table.get("primary_key", [])
    if isinstance(primary_key, str):
        primary_key = [primary_key] if primary_key.strip() else []
    if not isinstance(primary_key, list) or not all(isinstance(k, str) and k.strip() for k in primary_key):
        raise check.fail(f"{prefix}primary_key", "expected a column name or a list of column names")
    password_env = check.string(table, "password_env", prefix).strip() or None
    if password_env and not re.fullmatch(r"[A-Za-z_][A-Za-z0-9_]*", password_env):
        # (not repeated: a value that is no variable's name may be the password itself)
        raise check.fail(f"{prefix}password_env", "expected the name of an environment variable "
                         "(letters, digits and _), not the password itself")
    return Entity(
        title=check.string(table, "title", prefix),
        provider=provider,
        connection_string=connection_string,
        select=select,
        primary_key=[k.strip() for k in primary_key],
        password_env=password_env,
        modified_column=check.string(table, "modified_column", prefix).strip() or None,
    )


def _mapping(check: _Checker, table: dict[str, Any]) -> Mapping:
    check.keys(table, MAPPING_KEYS, "mapping.")
    auto = table.get("auto", True)
    if not isinstance(auto, bool):
        raise check.fail("mapping.auto", f"expected true or false, got {_shown(auto)}")
    columns = table.get("columns", [])
    if not isinstance(columns, list):
        raise check.fail("mapping.columns", "expected [[mapping.columns]] tables with left and right")
    pairs = [_pair(check, item, f"mapping.columns[{i}]") for i, item in enumerate(columns)]
    lefts = [p.left.casefold() for p in pairs]
    rights = [p.right.casefold() for p in pairs]
    for side, names in (("left", lefts), ("right", rights)):
        dup = next((n for n in names if names.count(n) > 1), None)
        if dup:
            raise check.fail("mapping.columns", f"{side} column '{dup}' is mapped twice")
    match_key = table.get("match_key")
    return Mapping(
        auto=auto,
        columns=pairs,
        match_key=_pair(check, match_key, "mapping.match_key") if match_key is not None else None,
        exclude=_exclude(check, table.get("exclude", [])),
    )


def _exclude(check: _Checker, value: Any) -> list[str]:
    """``mapping.exclude``: column names auto mapping leaves out (each once, in any case)."""
    if isinstance(value, str):
        value = [value] if value.strip() else []  # (one name, as primary_key takes it)
    if not isinstance(value, list):
        raise check.fail("mapping.exclude", 'expected a list of column names, like '
                         f'["description"], got {_shown(value)}')
    bad = next((n for n in value if not isinstance(n, str) or not n.strip()), None)
    if bad is not None:
        raise check.fail("mapping.exclude", f"expected column names, got {_shown(bad)}")
    names = [n.strip() for n in value]
    folded = [n.casefold() for n in names]
    dup = next((n for n, f in zip(names, folded, strict=True) if folded.count(f) > 1), None)
    if dup:
        raise check.fail("mapping.exclude", f"'{dup}' is given twice")
    return names


def _pair(check: _Checker, item: Any, key: str) -> ColumnPair:
    if not isinstance(item, dict):
        raise check.fail(key, "expected a table with left and right column names")
    check.keys(item, PAIR_KEYS, f"{key}.")
    left = check.string(item, "left", f"{key}.", required=True).strip()
    right = check.string(item, "right", f"{key}.", required=True).strip()
    if not left or not right:
        raise check.fail(key, "left and right must both name a column")
    return ColumnPair(left, right)


def require_complete(conn: Connection, file: str | None = None,
                     entities: tuple[int, ...] = (1, 2)) -> None:
    """Raise ConfigError unless each entity asked about (both, by default) names a provider,
    connection string and select."""
    where = file or (str(conn.path) if conn.path else conn.title)
    for index in entities:
        entity = conn.entity(index)
        for key in ("provider", "connection_string"):
            if not getattr(entity, key):
                raise ConfigError(f"not set (the connection is not complete: fill it in on the "
                                  f"Data Entity {index} page of `l2tui`, or in the file)",
                                  file=where,
                                  key=f"entity{index}.{key}")
        spec = find_spec(entity.provider)
        if spec is not None and not entity.select.strip() and spec.name != "odata":
            raise ConfigError("not set (give a table name or a SELECT)", file=where,
                              key=f"entity{index}.select")


def _check_secrets(check: _Checker, spec: ProviderSpec, text: str, key: str) -> None:
    """Refuse a connection string holding a secret: a secret key (Password=…), or a password
    in a URL, read as the provider reads it (a SQL URL as SQLAlchemy does)."""
    if spec.accepts_url and looks_like_url(text):
        where = sql_url_secret(text)
        if where is not None:
            raise check.fail(key, _url_secret_message(where))
        return
    try:
        cs = spec.parse(text)
    except ConnectionStringError as exc:
        if exc.secret is None:
            raise check.fail(key, str(exc)) from None
        # (refused before the fault, which may lie inside the secret)
        raise check.fail(key, _key_secret_message(exc.secret)) from None
    secret = spec.secret_in(cs)
    if secret is not None:
        raise check.fail(key, _key_secret_message(secret))
    if any(url_password(value) for value in cs.values()):
        raise check.fail(key, _url_secret_message("password", "give the user as User=… and keep "
                                                              "the password"))


def _key_secret_message(secret: str) -> str:
    """Why a secret key (Password=…) is refused, and where to keep it instead."""
    return (f"'{secret}' must not be stored in the file; keep it in the keyring (l2tui saves it "
            "there) or name an environment variable with password_env")


def _url_secret_message(where: str, instead: str = "remove it and keep it") -> str:
    """Why a URL's password is refused, and where to keep it instead."""
    if "odbc_connect" in where:  # (SQLAlchemy gives odbc_connect no password of its own)
        instead = "give the server as Data Source=…;User ID=…; pairs and keep the password"
    return (f"the URL's {where} must not be stored in the file; {instead} in the keyring "
            "(l2tui set-password) or name an environment variable with password_env")


def _line_of(text: str, dotted: str) -> int | None:
    """Best-effort line number of a dotted key (``entity1.provider``) in the TOML text."""
    if not text:
        return None
    parts = re.sub(r"\[\d+\]", "", dotted).split(".")
    leaf = parts[-1]
    table = ".".join(parts[:-1])
    current = ""
    for number, line in enumerate(text.splitlines(), start=1):
        stripped = line.strip()
        header = re.match(r"^\[\[?\s*([^\]]+?)\s*\]\]?", stripped)
        if header:
            current = header.group(1)
            if current == dotted:
                return number
            continue
        if current == table and re.match(rf"^\s*\"?{re.escape(leaf)}\"?\s*=", line):
            return number
    return None


def _shown(value: Any) -> str:
    """A value as the file spells it: a boolean as TOML's ``true``/``false`` (not Python's
    ``True``), a string or number as its repr, anything else by its kind."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, str | int | float):
        return repr(value)
    return _kind(value)


def _kind(value: Any) -> str:
    return {bool: "a boolean", int: "an integer", float: "a number", str: "a string",
            list: "an array", dict: "a table"}.get(type(value), type(value).__name__)
