"""A question as a modal dialog: yes or no (ConfirmScreen), one of several answers (ChoiceScreen)
or a line of text (AskScreen)."""

from __future__ import annotations

import contextlib
from typing import Generic, TypeVar

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.css.query import NoMatches
from textual.screen import ModalScreen
from textual.widget import Widget
from textual.widgets import Button, Input, Label, Static

Answer = TypeVar("Answer")


class QuestionBody(VerticalScroll):
    """The question and what a kind of question adds: between the title and the buttons, which
    stay in sight, it scrolls when the screen is too short for it (a Tab stop only then)."""

    def allow_focus(self) -> bool:
        """Focused only when there is more to see."""
        return self.max_scroll_y > 0


class _Question(ModalScreen[Answer], Generic[Answer]):
    """Title, question and a button per answer (the first the primary one); dismisses with the
    chosen answer's value. The last answer is the safe one: it has the focus; Escape gives it."""

    def __init__(self, title: str, question: str, answers: list[tuple[str, str, Answer]]) -> None:
        super().__init__()
        self.title_text = title
        self.question = question
        self.answers = answers  # (button id, label, value)

    DIALOG_CLASSES = "dialog"

    def compose(self) -> ComposeResult:
        """Title, question, what a kind of question adds (``more``), buttons."""
        with Vertical(classes=f"{self.DIALOG_CLASSES} -question"):
            yield Label(self.title_text, classes="dialog-title")
            with QuestionBody(classes="question-body"):
                yield Static(self.question, markup=False, classes="dialog-body")
                yield from self.more()
            with Horizontal(classes="dialog-buttons"):
                for index, (ident, label, _) in enumerate(self.answers):
                    yield Button(label, id=ident, variant="primary" if index == 0 else "default")

    def more(self) -> ComposeResult:
        """Widgets between the question and the buttons (none here)."""
        yield from ()

    def on_mount(self) -> None:
        """Focus the safe answer (or what a kind of question focuses first); nothing where the
        dialog's widgets went as it mounted (the app closing as it opened)."""
        with contextlib.suppress(NoMatches):
            self.first_focus().focus()

    def first_focus(self) -> Widget:
        """The widget focused first: the safe answer."""
        return self.query_one(f"#{self.answers[-1][0]}", Button)

    def on_button_pressed(self, event: Button.Pressed) -> None:
        """Answer."""
        event.stop()
        self.dismiss(self.answer(event.button.id))

    def answer(self, ident: str | None) -> Answer:
        """The answer of the button ``ident`` (the safe one for another)."""
        return next((value for i, _, value in self.answers if i == ident), self.answers[-1][2])

    def action_safe(self) -> None:
        """Give the safe answer."""
        self.dismiss(self.answers[-1][2])


class ConfirmScreen(_Question[bool]):
    """Asks a question; dismisses with True (yes) or False (no, Escape)."""

    BINDINGS = [
        Binding("escape", "safe", "Cancel", id="confirm.cancel", tooltip="Answer no"),
        Binding("y", "yes", "Yes", show=False),
        Binding("n", "safe", "No", show=False),
    ]

    def __init__(self, title: str, question: str, yes: str = "Yes", no: str = "Cancel") -> None:
        super().__init__(title, question, [("yes", yes, True), ("no", no, False)])

    def action_yes(self) -> None:
        """Answer yes."""
        self.dismiss(True)


class ChoiceScreen(_Question[str]):
    """A question with several answers, given as (id, label); dismisses with the chosen id."""

    BINDINGS = [Binding("escape", "safe", "Cancel", id="choice.cancel", tooltip="The safe answer")]

    def __init__(self, title: str, question: str, answers: list[tuple[str, str]]) -> None:
        super().__init__(title, question, [(ident, label, ident) for ident, label in answers])


class AskScreen(_Question[str | None]):
    """A question answered by a line of text, given ready to edit; dismisses with the text
    (Enter, the first button) or None (Cancel, Escape)."""

    BINDINGS = [Binding("escape", "safe", "Cancel", id="ask.cancel", tooltip="Cancel")]

    def __init__(self, title: str, question: str, value: str, ok: str = "OK") -> None:
        super().__init__(title, question, [("ok", ok, None), ("cancel", "Cancel", None)])
        self.value = value

    def more(self) -> ComposeResult:
        """The line to answer in."""
        yield Input(self.value, id="answer", select_on_focus=False)

    def first_focus(self) -> Widget:
        """The line to answer in, the cursor at its end."""
        return self.query_one("#answer", Input)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        """Enter: answer with the text."""
        event.stop()
        self.dismiss(event.value)

    def answer(self, ident: str | None) -> str | None:
        """The first button answers with the text, Cancel with None."""
        return self.query_one("#answer", Input).value if ident == "ok" else None
