"""Small building blocks of the forms: a labelled field with a hint that turns into its problem."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label, Static


class Field(Vertical):
    """A label, one input widget, and a hint line that shows the field's problem in place."""

    DEFAULT_CLASSES = "field"

    def __init__(self, label: str, widget: Widget, hint: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.widget = widget
        self.hint = hint
        self.shown = hint

    def compose(self) -> ComposeResult:
        """Label, widget, hint."""
        yield Label(self.label, classes="field-label")
        yield self.widget
        yield Static(self.hint, classes="field-hint", markup=False)

    def set_hint(self, hint: str) -> None:
        """The neutral help line under the field."""
        self.hint = hint
        if not self.has_class("-invalid"):
            self._show(hint)

    def set_problem(self, problem: str | None) -> None:
        """Show a problem in place (or clear it, back to the hint)."""
        self.set_class(bool(problem), "-invalid")
        self.widget.set_class(bool(problem), "-invalid")
        self._show(problem or self.hint)

    def _show(self, text: str) -> None:
        """Update the hint line only when its text changes (an update re-lays out the page)."""
        if text != self.shown:
            self.shown = text
            self.query_one(".field-hint", Static).update(text)

    @property
    def problem(self) -> str | None:
        """The problem shown, if any."""
        if not self.has_class("-invalid"):
            return None
        return str(self.query_one(".field-hint", Static).render())
