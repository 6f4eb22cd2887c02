"""The Connection Manager list (left pane): one row per connection file, "●" when unsaved."""

from __future__ import annotations

from dataclasses import replace

from rich.console import Console, ConsoleOptions, RenderResult
from rich.measure import Measurement
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

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.shown: list[Item] = []

    def show(self, items: list[Item], current: str | None) -> None:
        """Show the rows (only what changed: a rebuild per key typed is slow), highlight ``current``."""
        with self.prevent(OptionList.OptionHighlighted):
            if [i.key for i in items] != [i.key for i in self.shown]:
                self.clear_options()
                self.add_options([Option(_label(item), id=item.key) for item in items])
            else:
                for index, (old, new) in enumerate(zip(self.shown, items, strict=True)):
                    if old != new:
                        self.replace_option_prompt_at_index(index, _label(new))
            self.shown = [replace(item) for item in items]
            if current is not None:
                self.select(current)

    def select(self, key: str) -> None:
        """Move the highlight to a connection without announcing it."""
        with self.prevent(OptionList.OptionHighlighted):
            try:
                index: int | None = self.get_option_index(key)
            except Exception:
                index = None
            if index != self.highlighted:
                self.highlighted = index

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


def _label(item: Item) -> RowLabel:
    """A row: "⚠" before a file that cannot be read, "●" after unsaved changes (both can be)."""
    return RowLabel(item.title, error=bool(item.error), dirty=item.dirty)


class RowLabel:
    """A row's label, drawn to the list's width: a title too long for it is cut with "…" before
    the "●", which always shows (the list cut the whole line, "●" first: at 80 to 159 columns, a
    title of more than 17 characters hid that its connection had unsaved changes). ``str()``
    gives it whole."""

    def __init__(self, title: str, *, error: bool = False, dirty: bool = False) -> None:
        self.title, self.error, self.dirty = title, error, dirty

    def text(self, width: int | None = None) -> Text:
        """The label, its title cut to fit ``width`` cells (None: whole)."""
        head = Text("⚠ ", style="bold red") if self.error else Text()
        tail = Text(f" {UNSAVED}", style="bold") if self.dirty else Text()
        title = Text(self.title, style="dim" if self.error else "")
        if width is not None:
            room = max(1, width - head.cell_len - tail.cell_len)
            title.truncate(room, overflow="ellipsis")
        return Text.assemble(head, title, tail, no_wrap=True, overflow="ellipsis")

    def __str__(self) -> str:
        return self.text().plain

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        yield self.text(options.max_width)

    def __rich_measure__(self, console: Console, options: ConsoleOptions) -> Measurement:
        width = self.text().cell_len
        return Measurement(min(width, 1 + len(UNSAVED) + 2), width)
