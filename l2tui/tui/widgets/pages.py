"""The connection's pages: a TabbedContent that a tab activation overtaken by a later one
does not switch back."""

from __future__ import annotations

from textual.widgets import TabbedContent, Tabs
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
