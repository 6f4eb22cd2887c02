"""The keys panel (F1): Textual's help panel, listing the app's keys rather than its own."""

from __future__ import annotations

from dataclasses import replace
from typing import ClassVar

from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import ScrollableContainer
from textual.widgets import HelpPanel, KeyPanel, Markdown


def unlisted(bindings: list[BindingType]) -> list[BindingType]:
    """The same keys, left out of the keys panel's list (which leaves out system keys)."""
    return [replace(b, system=True) if isinstance(b, Binding) else b for b in bindings]


class KeyList(KeyPanel, inherit_bindings=False):
    """The list of keys. It has the focus while shown, so its own ten scrolling keys (Scroll
    Up … Page Right) came first, a screen of them at 80×24 above the app's; it still scrolls
    by them, but lists them no more."""

    BINDINGS: ClassVar[list[BindingType]] = unlisted(ScrollableContainer.BINDINGS)


class KeysHelp(HelpPanel):
    """Textual's help panel with the list above."""

    def compose(self) -> ComposeResult:
        """The focused widget's help (none of l2tui's has one) and the keys."""
        yield Markdown(id="widget-help")
        yield KeyList(id="keys-help")
