"""A yes/no question, or one with several answers, as a modal dialog."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.screen import ModalScreen
from textual.widgets import Button, Label, Static


class ConfirmScreen(ModalScreen[bool]):
    """Asks a question; dismisses with True (yes) or False (no, Escape)."""

    BINDINGS = [
        Binding("escape", "no", "Cancel", id="confirm.cancel", tooltip="Answer no"),
        Binding("y", "yes", "Yes", show=False),
        Binding("n", "no", "No", show=False),
    ]

    def __init__(self, title: str, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.yes_label = yes
        self.no_label = no

    def compose(self) -> ComposeResult:
        """Title, question, buttons."""
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, markup=False, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, id="yes", variant="primary")
                yield Button(self.no_label, id="no")

    def on_mount(self) -> None:
        """Focus the safe answer."""
        self.query_one("#no", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Answer."""
        event.stop()
        self.dismiss(event.button.id == "yes")

    def action_yes(self) -> None:
        """Answer yes."""
        self.dismiss(True)

    def action_no(self) -> None:
        """Answer no."""
        self.dismiss(False)


class ChoiceScreen(ModalScreen[str]):
    """A question with several answers; dismisses with the chosen answer's id. The last answer
    is the safe one: it has the focus, and Escape gives it."""

    BINDINGS = [Binding("escape", "safe", "Cancel", id="choice.cancel", tooltip="The safe answer")]

    def __init__(self, title: str, question: str, answers: list[tuple[str, str]]) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.answers = answers

    def compose(self) -> ComposeResult:
        """Title, question, a button per answer (the first the primary one)."""
        with Vertical(classes="dialog"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, markup=False, classes="dialog-body")
            with Horizontal(classes="dialog-buttons"):
                for index, (ident, label) in enumerate(self.answers):
                    yield Button(label, id=ident, variant="primary" if index == 0 else "default")

    def on_mount(self) -> None:
        """Focus the safe answer."""
        self.query_one(f"#{self.answers[-1][0]}", Button).focus()

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Answer."""
        event.stop()
        self.dismiss(event.button.id or self.answers[-1][0])

    def action_safe(self) -> None:
        """Give the safe answer."""
        self.dismiss(self.answers[-1][0])
