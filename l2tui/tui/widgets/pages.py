"""The connection's pages: a TabbedContent that a tab activation or a field's focus overtaken
by a later page does not switch back, and that keeps its focused field in view when the
terminal is resized."""

from __future__ import annotations

from textual.events import Resize
from textual.widgets import TabbedContent, TabPane, Tabs
from textual.widgets._tabbed_content import ContentTabs


class Pages(TabbedContent):
    """Tabbed pages that ignore a stale tab activation.

    Why: the tabs post "activated" for their first tab when they mount, and a click posts one
    for the tab clicked. Such a message still queued when a key shows another page (Alt+4
    typed as the app starts, on a loaded machine or over a slow SSH link) used to switch the
    page back when it was handled. It is ignored now unless its tab is still the active one.
    """

    def _on_tabs_tab_activated(self, event: Tabs.TabActivated) -> None:
        tabs = event.tabs
        if isinstance(tabs, ContentTabs) and tabs.tabbed_content is self and \
                tabs.active != event.tab.id:
            event.stop()
            # (Textual calls each class's handler in turn: TabbedContent's would switch back)
            event.prevent_default()

    def _on_tab_pane_focused(self, event: TabPane.Focused) -> None:
        """A field of a page focused shows that page, unless the focus has left the page since
        (two page keys in one burst: the first page's field focused, then the second's)."""
        focused = self.screen.focused
        if focused is not None and event.tab_pane not in focused.ancestors:
            event.stop()
            event.prevent_default()  # (TabbedContent's handler would show the page left)

    def on_resize(self, _event: Resize) -> None:
        """Once laid out at the new size, scroll the focused field back into view: the fields
        move as the width shows or hides borders and side panes (the page kept its scroll
        offset, the field out of sight)."""
        self.call_after_refresh(self._focused_into_view)

    def _focused_into_view(self) -> None:
        """Scroll the page so that its focused widget shows."""
        focused = self.screen.focused
        if focused is not None and self in focused.ancestors:
            focused.scroll_visible(animate=False, immediate=True)
