"""Fixtures: a Dynamics 365 emulator on 127.0.0.1 and OData providers pointed at it."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from l2tui.config.model import Entity
from l2tui.emulator import Emulator
from l2tui.providers.base import ProviderContext
from l2tui.providers.odata.provider import ODataProvider

FAST_RETRIES = {"retry_base_delay": 0.01, "retry_max_delay": 0.05, "retry_max_retry_after": 1.0}


@dataclass
class Harness:
    """An emulator plus what a provider told the outside world (logs; device codes shown)."""

    emu: Emulator
    cache: Path
    logs: list[str] = field(default_factory=list)
    notices: list[str] = field(default_factory=list)
    providers: list[ODataProvider] = field(default_factory=list)

    def context(self, secret: str | None = None, **options: Any) -> ProviderContext:
        """A context with the fake IdP's session, fast retries, and the secret given."""
        return ProviderContext(
            secret=lambda: secret,
            token_cache_path=self.cache,
            device_code=lambda flow: self.notices.append(flow["message"]),
            log=self.logs.append,
            options={"msal_http_client": self.emu.msal_http_client(), **FAST_RETRIES, **options},
        )

    def provider(self, connection_string: str | None = None, select: str = "",
                 secret: str | None = None, context: ProviderContext | None = None,
                 primary_key: list[str] | None = None, **options: Any) -> ODataProvider:
        """An OData provider for the emulator (default: password sign-in to accounts).

        The secret resolver answers the emulator user's password unless told otherwise.
        """
        entity = Entity(title="crm", provider="odata",
                        connection_string=connection_string or self.emu.connection_string(),
                        select=select, primary_key=list(primary_key or []))
        if secret is None and self.emu.auth:
            secret = self.emu.password
        provider = ODataProvider(entity, context or self.context(secret, **options))
        self.providers.append(provider)
        return provider

    def client_secret_string(self, entity_set: str = "accounts") -> str:
        """Connection string for the client-credentials flow."""
        return (f"URL={self.emu.url(entity_set)};Authentication=client_secret;"
                f"ClientId={self.emu.client_id};Authority={self.emu.authority};")

    def device_code_string(self, entity_set: str = "accounts") -> str:
        """Connection string for the device-code flow."""
        return f"URL={self.emu.url(entity_set)};Authentication=device_code;Authority={self.emu.authority};"


def _harness(tmp_path: Path, **kwargs: Any) -> Iterator[Harness]:
    with Emulator(**kwargs) as emu:
        harness = Harness(emu, tmp_path / "cache" / "msal.json")
        yield harness
        for provider in harness.providers:
            provider.close()


@pytest.fixture
def crm(tmp_path: Path) -> Iterator[Harness]:
    """A small emulator (200 accounts) with sign-in required."""
    yield from _harness(tmp_path, rows=200, seed=1, auth=True)


@pytest.fixture
def open_crm(tmp_path: Path) -> Iterator[Harness]:
    """A small emulator with sign-in off."""
    yield from _harness(tmp_path, rows=200, seed=1, auth=False)


@pytest.fixture
def make_crm(tmp_path: Path) -> Iterator[Callable[..., Harness]]:
    """Start an emulator with the given arguments (rows, auth, …)."""
    stack: list[Iterator[Harness]] = []

    def make(**kwargs: Any) -> Harness:
        gen = _harness(tmp_path, **kwargs)
        stack.append(gen)
        return next(gen)

    yield make
    for gen in stack:
        next(gen, None)
