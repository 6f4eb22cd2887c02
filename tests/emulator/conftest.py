"""Fixtures for the emulator's protocol tests (plain requests, 127.0.0.1 only)."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
import requests

from l2tui.emulator import Emulator


@pytest.fixture
def emu() -> Iterator[Emulator]:
    """An emulator with 50 accounts and no sign-in."""
    with Emulator(rows=50, seed=1, auth=False) as emulator:
        yield emulator


@pytest.fixture
def emu_auth() -> Iterator[Emulator]:
    """An emulator with 20 accounts that requires bearer tokens."""
    with Emulator(rows=20, seed=1, auth=True) as emulator:
        yield emulator


@pytest.fixture
def make_emu() -> Iterator[Callable[..., Emulator]]:
    """Start emulators with chosen options; stopped after the test."""
    started: list[Emulator] = []

    def start(**options: Any) -> Emulator:
        emulator = Emulator(**{"seed": 1, "auth": False, **options}).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in started:
        emulator.stop()


@pytest.fixture
def http() -> Iterator[requests.Session]:
    """A keep-alive session that ignores proxy and CA-bundle environment variables."""
    with requests.Session() as session:
        session.trust_env = False
        session.headers.update({"Accept": "application/json", "OData-Version": "4.0",
                                "OData-MaxVersion": "4.0"})
        yield session

