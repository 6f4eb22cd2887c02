"""Data providers behind one interface (see ``base``); ``open_provider`` picks one by name."""

from __future__ import annotations

import contextlib
import importlib
import threading
from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

from l2tui.config.model import Connection, Entity
from l2tui.config.specs import find_spec
from l2tui.errors import ConfigError, ConnectError
from l2tui.providers.base import Provider, ProviderContext

if TYPE_CHECKING:  # (the process that decodes pages imports this package: not the secrets)
    from l2tui.config.secrets import Prompt
    from l2tui.paths import Paths

# provider name (from l2tui.config.specs) → "module:Class"
IMPLEMENTATIONS = {
    "odata": "l2tui.providers.odata.provider:ODataProvider",
    "sqlserver": "l2tui.providers.sql:SqlProvider",
    "postgresql": "l2tui.providers.sql:SqlProvider",
    "mysql": "l2tui.providers.sql:SqlProvider",
    "sqlite": "l2tui.providers.sql:SqlProvider",
}

# a person waits for Verify: no request is tried again (a run's patience with a service that
# does not answer is for runs nobody watches), and a host that takes no connection is given up
# after VERIFY_CONNECT_TIMEOUT seconds, not after the connection's Timeout (120 s)
VERIFY_CONNECT_TIMEOUT = 5.0
VERIFY_OPTIONS: dict[str, Any] = {"retry_max": 0, "connect_timeout": VERIFY_CONNECT_TIMEOUT}


def open_provider(entity: Entity, context: ProviderContext | None = None) -> Provider:
    """The provider for an entity, imported on first use."""
    spec = find_spec(entity.provider)
    if spec is None or spec.name not in IMPLEMENTATIONS:
        raise ConfigError(f"unknown provider {entity.provider!r}", key="provider")
    module_name, class_name = IMPLEMENTATIONS[spec.name].split(":")
    try:
        module = importlib.import_module(module_name)
        cls = getattr(module, class_name)
    except (ImportError, AttributeError):
        from l2tui.errors import NotAvailable

        raise NotAvailable(f"the {spec.title} is not available yet") from None
    provider: Provider = cls(entity, context or ProviderContext())
    return provider


def open_entity(
    conn: Connection,
    index: int,
    paths: Paths,
    *,
    prompt: Prompt | None = None,
    device_code: Callable[[dict[str, Any]], None] | None = None,
    log: Callable[[str], None] | None = None,
    options: dict[str, Any] | None = None,
    stop: threading.Event | None = None,
    secret_hint: Callable[[int], str] | None = None,
) -> Provider:
    """The provider of a connection's entity 1 or 2, with its secret resolved lazily.

    The secret is looked up only if the provider asks (an unauthenticated OData service or a
    SQLite file never needs one); ``prompt`` is used only when a terminal is attached.
    ``secret_hint`` says, for an entity, how to give the secret when none was found, where the
    caller knows better than the command line's way (the app's Password field). A
    connection file other users could change (where it connects, to be sent the secret) is
    refused first.
    """
    from l2tui.config.files import shared_file
    from l2tui.config.secrets import missing_secret_hint, secret_and_source

    if conn.path is not None and (why := shared_file(conn.path)) is not None:
        raise ConfigError(f"not used to connect: {why}", file=str(conn.path))
    entity = conn.entity(index)

    source = [""]

    def secret() -> str | None:
        value, source[0] = secret_and_source(conn, index, prompt=prompt, required=False)
        return value

    context = ProviderContext(
        secret=secret,
        token_cache_path=paths.token_cache,
        device_code=device_code,
        log=log or (lambda message: None),
        options=dict(options or {}),
        secret_hint=(lambda: secret_hint(index)) if secret_hint is not None
        else lambda: missing_secret_hint(conn, index),
        secret_source=lambda: source[0],
        sign_in_hint=f"l2tui verify {conn.argument}",
        stop=stop,
        peer=conn.entity(3 - index),
    )
    return open_provider(entity, context)


@contextlib.contextmanager
def entity_errors(conn: Connection, index: int) -> Iterator[None]:
    """A provider's configuration error, named as the run names it: file, then entityN.key."""
    try:
        yield
    except ConfigError as exc:
        raise exc.within(index).at(str(conn.path) if conn.path else None) from None


def entity_label(conn: Connection, index: int) -> str:
    """An entity as a person knows it: ``entity 1 (Dynamics accounts)`` (its provider if untitled)."""
    entity = conn.entity(index)
    return f"entity {index} ({entity.title or entity.provider})"


@contextlib.contextmanager
def reaching(conn: Connection, index: int) -> Iterator[None]:
    """A side that cannot be reached or signed in to, named as verify names it:
    ``entity 1 (Dynamics accounts): sign-in … failed``."""
    try:
        yield
    except ConnectError as exc:
        raise ConnectError(f"{entity_label(conn, index)}: {exc.message}") from exc
