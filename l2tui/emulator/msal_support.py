"""A requests.Session that lets MSAL reach the fake identity provider."""

from __future__ import annotations

from typing import Any

import requests


class RewritingSession(requests.Session):
    """Rewrites URLs starting with a fake https host to the emulator's root URL."""

    def __init__(self, fake_root: str, real_root: str, ca_bundle: str | None = None) -> None:
        super().__init__()
        self.fake_root = fake_root.rstrip("/")
        self.real_root = real_root.rstrip("/")
        self.trust_env = False  # REQUESTS_CA_BUNDLE and proxies must not interfere
        if ca_bundle:
            self.verify = ca_bundle

    def request(self, method: str | bytes, url: str | bytes, *args: Any, **kwargs: Any) -> Any:
        """Send the request, to the emulator if the URL names the fake host."""
        text = url.decode() if isinstance(url, bytes) else url
        if text.startswith(self.fake_root + "/") or text == self.fake_root:
            text = self.real_root + text[len(self.fake_root):]
        return super().request(method, text, *args, **kwargs)


def rewriting_session(fake_root: str, real_root: str, ca_bundle: str | None) -> RewritingSession:
    """The session MSAL should get as http_client=."""
    return RewritingSession(fake_root, real_root, ca_bundle)
