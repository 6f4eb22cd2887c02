"""A keyring backend for the tests: a JSON file named by $L2TUI_TEST_KEYRING (no OS keyring here)."""

from __future__ import annotations

import json
import os
from pathlib import Path

from keyring.backend import KeyringBackend
from keyring.errors import PasswordDeleteError


class FileKeyring(KeyringBackend):
    """Stores secrets in one JSON file, so subprocesses of a test share them."""

    priority = 1  # type: ignore[assignment]

    def _path(self) -> Path:
        return Path(os.environ.get("L2TUI_TEST_KEYRING", "/nonexistent/keyring.json"))

    def _load(self) -> dict[str, str]:
        path = self._path()
        return json.loads(path.read_text()) if path.is_file() else {}

    def get_password(self, service: str, username: str) -> str | None:
        return self._load().get(f"{service}\0{username}")

    def set_password(self, service: str, username: str, password: str) -> None:
        data = self._load()
        data[f"{service}\0{username}"] = password
        path = self._path()
        path.write_text(json.dumps(data))
        path.chmod(0o600)

    def delete_password(self, service: str, username: str) -> None:
        data = self._load()
        if data.pop(f"{service}\0{username}", None) is None:
            raise PasswordDeleteError("not found")
        self._path().write_text(json.dumps(data))
