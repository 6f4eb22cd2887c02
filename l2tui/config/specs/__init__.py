"""Each data provider's declaration: its name, title, connection-string keys and select syntax.

Declared once here, as data, so that the loader, the TUI form, the CLI and the docs all read the
same list, and a connection file is checked whole before anything connects.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from l2tui.config.connstr import (
    QUOTE_HINT,
    ConnectionString,
    ConnectionStringError,
    parse_connection_string,
)
from l2tui.config.names import nearest
from l2tui.config.urls import without_password
from l2tui.errors import ConfigError


class SelectError(ValueError):
    """A select statement the provider cannot run."""


@dataclass(frozen=True)
class KeySpec:
    """One connection-string key, its synonyms, and whether it holds a secret."""

    name: str
    synonyms: tuple[str, ...] = ()
    secret: bool = False
    help: str = ""
    choices: tuple[str, ...] = ()
    ignored: bool = False  # accepted from other tools' strings and read by no provider

    def names(self) -> tuple[str, ...]:
        """The canonical name and its synonyms."""
        return (self.name, *self.synonyms)


@dataclass(frozen=True)
class ProviderSpec:
    """What a provider accepts, declared without importing the provider itself."""

    name: str
    title: str
    keys: tuple[KeySpec, ...]
    aliases: tuple[str, ...] = ()
    required: tuple[str, ...] = ()
    select_help: str = ""
    example_connection_string: str = ""
    example_select: str = ""
    accepts_url: bool = False
    takes_password: bool = True  # False: nothing to sign in to (a SQLite file)
    used_keys: tuple[str, ...] = ()  # the keys it reads of those it accepts (empty: all)
    check_connection: Callable[[ConnectionString], None] | None = field(default=None, compare=False)
    check_select: Callable[[str], None] | None = field(default=None, compare=False)

    def key(self, name: str) -> KeySpec | None:
        """The key spec a (case-insensitive) key or synonym names."""
        folded = name.casefold()
        for spec in self.keys:
            if any(folded == n.casefold() for n in spec.names()):
                return spec
        return None

    def secret_keys(self) -> tuple[str, ...]:
        """Every spelling of a key that holds a secret."""
        return tuple(n for spec in self.keys if spec.secret for n in spec.names())

    def secret_in(self, cs: ConnectionString) -> str | None:
        """The first key of a parsed string that holds a secret, as spelt there."""
        return next((k for k in cs if (spec := self.key(k)) is not None and spec.secret), None)

    def canonical(self, cs: ConnectionString) -> dict[str, str]:
        """Values by canonical key name."""
        out: dict[str, str] = {}
        for key, value in cs.pairs:
            spec = self.key(key)
            if spec is not None:
                out[spec.name] = value
        return out

    def validate_connection_string(self, cs: ConnectionString) -> None:
        """Raise ConnectionStringError for unknown, duplicate, empty, missing or bad keys; what
        follows a secret key is not quoted (it may be the rest of a secret holding ';')."""
        seen: dict[str, str] = {}
        secret = self.secret_in(cs)
        after: str | None = None  # the secret key, once the loop is past it
        for key, value in cs.pairs:
            try:
                self._check_pair(key, value, seen)
            except ConnectionStringError as exc:
                if after is None:
                    raise ConnectionStringError(str(exc), secret) from None
                raise ConnectionStringError(
                    f"a part after '{after}' is not a valid key=value pair {QUOTE_HINT}", secret
                ) from None
            if key == secret:
                after = key
        missing = [r for r in self.required if r not in seen]
        if missing:
            raise ConnectionStringError(f"missing required key '{missing[0]}'", secret)
        if self.check_connection is not None:
            try:
                self.check_connection(cs)
            except ConnectionStringError as exc:
                if secret is None or cs.pairs[-1][0] == secret:
                    raise ConnectionStringError(str(exc), secret) from None
                raise ConnectionStringError(
                    f"a part after '{secret}' is not a valid key=value pair {QUOTE_HINT}", secret
                ) from None

    def _check_pair(self, key: str, value: str, seen: dict[str, str]) -> None:
        """Raise ConnectionStringError unless one pair names a key of this provider, once, with a
        valid value; record it in ``seen``."""
        # (of the keys it accepts, those it reads: no other is suggested or listed)
        read = [k for k in self.keys if not self.used_keys or k.name in self.used_keys]
        valid = [k.name for k in read]
        spec = self.key(key)
        if spec is None:
            match = nearest(key, (n for k in read for n in k.names()))
            hint = f" (did you mean '{match}'?)" if match else ""
            raise ConnectionStringError(
                f"unknown key '{key}' for {self.name}{hint}; valid keys: {', '.join(valid)}"
            )
        if spec.name in seen:
            raise ConnectionStringError(
                f"'{key}' and '{seen[spec.name]}' name the same setting; give it once"
            )
        if self.used_keys and spec.name not in self.used_keys and \
                not (spec.secret or spec.ignored):  # (a secret has its own answer)
            raise ConnectionStringError(
                f"'{key}' is not used by {self.name}; it reads {', '.join(self.used_keys)}")
        seen[spec.name] = key
        if value == "":
            raise ConnectionStringError(f"'{key}' has an empty value")
        if spec.choices and value.casefold() not in {c.casefold() for c in spec.choices}:
            raise ConnectionStringError(
                f"'{key}' must be one of {', '.join(spec.choices)}, not '{value}'"
            )

    def parse(self, text: str) -> ConnectionString:
        """Parse and check a connection string; ConnectionStringError with a one-line reason.
        A bare URL where key=value pairs are expected is answered with the key to put it in."""
        try:
            cs = parse_connection_string(text, self.secret_keys())
        except ConnectionStringError as exc:
            if exc.secret or self.accepts_url or not self.keys or not looks_like_url(text):
                raise
            # (masked, then cut at the first ";": a password may hold one; what follows may be
            # a Password=)
            url = without_password(text.strip()).split(";")[0]
            raise ConnectionStringError(
                f"a bare URL; give it as {self.keys[0].name}={url}; "
                "(key=value; pairs)") from None
        self.validate_connection_string(cs)
        return cs

    def parse_setting(self, text: str) -> ConnectionString:
        """``parse`` for providers: a bad string is the ConfigError of key connection_string."""
        try:
            return self.parse(text)
        except ConnectionStringError as exc:
            raise ConfigError(str(exc), key="connection_string") from None

    def validate_select(self, text: str) -> None:
        """Raise SelectError when the statement is not one this provider runs."""
        if self.check_select is not None:
            self.check_select(text)


def looks_like_url(text: str) -> bool:
    """A URL such as ``postgresql+psycopg://…`` rather than ``key=value;`` pairs."""
    head = text.strip().split("://", 1)
    return len(head) == 2 and head[0].replace("+", "").isalnum() and ";" not in head[0]


_REGISTRY: dict[str, ProviderSpec] = {}


def register(spec: ProviderSpec) -> ProviderSpec:
    """Add a provider declaration to the catalog."""
    _REGISTRY[spec.name] = spec
    return spec


def all_specs() -> list[ProviderSpec]:
    """Every declared provider, in declaration order."""
    _load_builtin()
    return list(_REGISTRY.values())


def find_spec(name: str) -> ProviderSpec | None:
    """The provider named by its name or an alias (case-insensitive)."""
    _load_builtin()
    folded = name.strip().casefold()
    for spec in _REGISTRY.values():
        if folded == spec.name or folded in spec.aliases:
            return spec
    return None


def provider_names() -> list[str]:
    """Names a connection file may give as ``provider``."""
    return [spec.name for spec in all_specs()]


def _load_builtin() -> None:
    """Import the built-in declarations (each registers itself; importing twice is a no-op)."""
    from l2tui.config.specs import odata, sql  # noqa: F401
