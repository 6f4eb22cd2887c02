"""Small building blocks of the forms: a labelled field whose hint line shows, in this order,
its problem (malformed input: Save refuses), its status (a check's result or what is going on:
information only) or its hint."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Label, Static


class Field(Vertical):
    """A label, one input widget, and a hint line that shows the field's problem or status."""

    DEFAULT_CLASSES = "field"

    def __init__(self, label: str, widget: Widget, hint: str = "", *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.label = label
        self.widget = widget
        self.hint = hint
        self.problem: str | None = None
        self.status: str | None = None
        self.shown = hint

    def compose(self) -> ComposeResult:
        """Label, widget, hint."""
        yield Label(self.label, classes="field-label")
        yield self.widget
        yield Static(self.hint, classes="field-hint", markup=False)

    def set_hint(self, hint: str) -> None:
        """The neutral help line under the field."""
        self.hint = hint
        self._show()

    def set_problem(self, problem: str | None) -> None:
        """Show a problem in place (or clear it, back to the status or hint)."""
        self.problem = problem or None
        self.set_class(bool(problem), "-invalid")
        self.widget.set_class(bool(problem), "-invalid")
        self._show()

    def set_status(self, status: str | None, failed: bool = False) -> None:
        """Show a status instead of the hint (None: back to the hint); ``failed`` colours it."""
        self.status = status or None
        self.set_class(bool(status) and failed, "-failed")
        self._show()

    def _show(self) -> None:
        """Update the hint line only when its text changes (an update re-lays out the page)."""
        text = self.problem or self.status or self.hint
        if text != self.shown:
            self.shown = text
            self.query_one(".field-hint", Static).update(text)
