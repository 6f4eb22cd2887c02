"""Device-code sign-in: the URL and code to enter, shown while the worker waits for the sign-in."""

from __future__ import annotations

from typing import Any

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class DeviceCodeScreen(ModalScreen[None]):
    """Shows verification_uri and user_code; closes itself when the waiting work ends."""

    BINDINGS = [Binding("escape", "close", "Hide", id="device.hide", tooltip="Hide this dialog")]

    def __init__(self, info: dict[str, Any]) -> None:
        super().__init__()
        self.info = info

    def compose(self) -> ComposeResult:
        """URL, code and the service's own message."""
        url = str(self.info.get("verification_uri") or self.info.get("verification_url") or "")
        code = str(self.info.get("user_code", ""))
        with Vertical(classes="dialog"):
            yield Label("Sign in with a device code", classes="dialog-title")
            yield Static(f"Open {url}\nand enter the code:", markup=False, classes="dialog-body")
            yield Static(code, id="device-code", markup=False)
            message = str(self.info.get("message", ""))
            if message:
                yield Static(message, markup=False, classes="dialog-body dim")
            yield Static("Waiting for the sign-in…", classes="dialog-body dim")
            yield Button("Hide", id="hide")

    def on_button_pressed(self) -> None:
        """Hide (the sign-in keeps waiting)."""
        self.dismiss(None)

    def action_close(self) -> None:
        """Hide (the sign-in keeps waiting)."""
        self.dismiss(None)
