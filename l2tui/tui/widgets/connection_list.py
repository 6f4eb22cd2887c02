"""The Connection Manager list (left pane): one row per connection file, "●" when unsaved."""

from __future__ import annotations

from rich.text import Text
from textual.message import Message
from textual.widgets import OptionList
from textual.widgets.option_list import Option

from l2tui.tui.workspace import Item

UNSAVED = "●"


class ConnectionList(OptionList):
    """Connections in the folder; highlighting one opens it."""

    BINDING_GROUP_TITLE = "Connections"

    class Picked(Message):
        """A connection row was highlighted or chosen."""

        def __init__(self, key: str) -> None:
            super().__init__()
            self.key = key

    def show(self, items: list[Item], current: str | None) -> None:
        """Replace the rows, keeping the highlight on ``current``."""
        with self.prevent(OptionList.OptionHighlighted):
            self.clear_options()
            self.add_options([Option(_label(item), id=item.key) for item in items])
            if current is not None:
                self.select(current)

    def select(self, key: str) -> None:
        """Move the highlight to a connection without announcing it."""
        with self.prevent(OptionList.OptionHighlighted):
            try:
                self.highlighted = self.get_option_index(key)
            except Exception:
                self.highlighted = None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        """Open the highlighted connection."""
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Picked(event.option.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        """Enter or a click also opens it."""
        event.stop()
        if event.option.id is not None:
            self.post_message(self.Picked(event.option.id))


def _label(item: Item) -> Text:
    text = Text()
    if item.error:
        text.append("⚠ ", style="bold red")
        text.append(item.title, style="dim")
        return text
    text.append(item.title)
    if item.dirty:
        text.append(f" {UNSAVED}", style="bold")
    return text
