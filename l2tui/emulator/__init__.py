"""A local Dynamics 365 (Dataverse Web API) emulator with a fake identity provider.

Standalone: pure stdlib (plus trustme for TLS and requests for the MSAL helper, both
optional); imports nothing else from l2tui.
"""

from __future__ import annotations

from .server import Emulator

__all__ = ["Emulator"]
