"""An error the person must see: its one-line message in a dialog."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ErrorScreen(ModalScreen[None]):
    """Shows one error message; Escape, Enter or OK closes it."""

    BINDINGS = [Binding("escape", "close", "Close", id="error.close", tooltip="Close this message")]

    def __init__(self, title: str, message: str) -> None:
        super().__init__()
        self.title_text = title
        self.message = message

    def compose(self) -> ComposeResult:
        """Title, message, OK."""
        with Vertical(classes="dialog -error"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.message, markup=False, classes="dialog-body", id="error-message")
            yield Button("OK", id="ok", variant="error")

    def on_mount(self) -> None:
        """Focus OK."""
        self.query_one("#ok", Button).focus()

    def on_button_pressed(self) -> None:
        """Close."""
        self.dismiss(None)

    def action_close(self) -> None:
        """Close."""
        self.dismiss(None)
