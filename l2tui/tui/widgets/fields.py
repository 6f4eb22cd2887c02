"""Small building blocks of the forms: a labelled field whose hint line shows, in this order,
its problem (malformed input: Save refuses), its status (a check's result or what is going on:
information only) or its hint."""

from __future__ import annotations

from typing import Any

from textual import events, on
from textual.app import ComposeResult
from textual.containers import Vertical
from textual.widget import Widget
from textual.widgets import Input, Label, OptionList, Select, Static, TextArea
from textual.widgets._select import SelectOverlay


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


async def run_own_keys(widget: Widget, event: events.Key) -> bool:
    """Run the widget's own binding of the key now, in its place among the keys typed around it;
    True if one ran. Textual runs a field's letters at once but its other keys (backspace, the
    arrows, ctrl+u) only once they have gone up to the app, so in a burst (keys typed fast over
    SSH arrive in one packet; a paste) the letters after such a key were typed before it ran."""
    for binding in widget._bindings.key_to_bindings.get(event.key, ()):
        if not binding.priority and await widget.app.run_action(binding.action, widget):
            event.stop()
            event.prevent_default()
            return True
    return False


class TextInput(Input):
    """A one-line field whose editing keys keep their order in a burst (``run_own_keys``).
    Focused (a page switch, Tab), it keeps its text unselected, the cursor where it was (at the
    end once loaded): Textual's select-all on focus let one letter typed then replace a whole
    title or connection string, and Input has no undo. (A new connection's title is selected
    on purpose: ``_ready_to_name``.)"""

    def __init__(self, *args: Any, select_on_focus: bool = False, **kwargs: Any) -> None:
        super().__init__(*args, select_on_focus=select_on_focus, **kwargs)

    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_keys(self, event):
            await super()._on_key(event)


class TextEditor(TextArea):
    """A text editor whose editing keys keep their order in a burst (``run_own_keys``)."""

    async def _on_key(self, event: events.Key) -> None:
        if not await run_own_keys(self, event):
            await super()._on_key(event)


class SearchSelect(Select[str]):
    """A Select whose search starts from the closed box: a letter typed there opens the list
    and searches it, as typing into the guide's selection box does (Textual's searches only
    the open list, and a closed one let the letters fall away unseen). Leaving the open list
    for another field (Tab) takes the option it highlights, as a combo box does: "odata", Tab
    left the provider unchosen, and what was typed next went on without one (Escape still
    closes it unchanged)."""

    @on(SelectOverlay.Dismiss)
    def _take_highlighted(self, event: SelectOverlay.Dismiss) -> None:
        if not event.lost_focus or not self.expanded:  # (Escape closed it: unchanged)
            return
        overlay = self.query_one(SelectOverlay)
        index = overlay.highlighted
        if index is None or not 0 <= index < len(self._options):
            return
        value = self._options[index][1]
        if value is not Select.NULL and value != self.value:
            self.value = value

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._typed: list[events.Key] = []  # letters typed before the open list had the focus

    def on_key(self, event: events.Key) -> None:
        if not event.is_printable or (event.key == "space" and not self.expanded):
            return  # (space opens the list, as Enter does)
        event.stop()
        event.prevent_default()
        self._typed.append(events.Key(event.key, event.character))
        self.expanded = True
        self._hand_on()

    def _hand_on(self) -> None:
        """Give the letters to the open list once it has the focus (it starts a new search as
        it gets it), in the order they were typed."""
        overlay = self.query_one(OptionList)  # (the list that opens: a SelectOverlay)
        if not self.expanded:
            self._typed.clear()
        elif not overlay.has_focus:
            self.call_after_refresh(self._hand_on)
        else:
            typed, self._typed = self._typed, []
            for key in typed:
                overlay.post_message(key)
