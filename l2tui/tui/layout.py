"""Which side panes the screen shows at its width, and how wide: wherever a side pane shows, the
page keeps at least PAGE_FLOOR columns (the Mappings table keeps its full layout there).

Below 100 columns the page has the width to itself; from 100 the connection list (20 columns)
shows beside it; from 120 the Actions pane (20 columns) too, as the Layer2 guide lays them out;
from 160 both widen (26 and 30 columns: each button's label on one line). The page is 80, 80, 80,
92, 106 and 146 columns wide at 80x24, 100x30, 120x40, 132x43, 160x50 and 200x60. F9 / F10
show or hide either pane at any width. app.tcss sizes and hides the panes by the same classes."""

from __future__ import annotations

from textual.dom import DOMNode

PAGE_FLOOR = 80  # a side pane shows only where the page keeps this many columns beside it
NARROW = 100  # below this width no side pane shows, and fields lose their borders (compact look)
ACTIONS_FROM = 120  # from this width the Actions pane shows too
WIDER = 160  # from this width the side panes are wider

# the screen's width class (App.HORIZONTAL_BREAKPOINTS) and the panes it shows unless toggled
BREAKPOINTS = [(0, "-narrow"), (NARROW, "-medium"), (ACTIONS_FROM, "-wide"), (WIDER, "-wider")]
PANES_SHOWN = {"-narrow": (), "-medium": ("connections",), "-wide": ("connections", "actions"),
               "-wider": ("connections", "actions")}

def width_class(width: int) -> str:
    """The screen's width class, as HORIZONTAL_BREAKPOINTS sets it."""
    return [name for start, name in BREAKPOINTS if width >= start][-1]


def shown_by_default(screen: DOMNode, pane: str) -> bool:
    """Whether the screen's width shows the pane ("connections" or "actions") untoggled."""
    return any(screen.has_class(name) for name, panes in PANES_SHOWN.items() if pane in panes)


def pane_shown(screen: DOMNode, pane: str) -> bool:
    """Whether the pane shows: by the screen's width, unless F9 / F10 said otherwise."""
    box = screen.query_one(f"#{pane}-pane")
    if box.has_class("-show"):
        return True
    return shown_by_default(screen, pane) and not box.has_class("-hide")


def toggle_pane(screen: DOMNode, pane: str) -> bool:
    """Show the pane if hidden, else hide it; whether it shows now. The pane keeps at most one
    of -show / -hide: what differs from its width's default. The classes are the pane's, not
    the screen's: a class changed on the screen restyles every widget of the app (~0.25 s of
    CPU for each F9 / F10), one on the pane only the pane's own."""
    shown = not pane_shown(screen, pane)
    default = shown_by_default(screen, pane)
    screen.query_one(f"#{pane}-pane").update_classes(
        {"-show": shown and not default, "-hide": default and not shown})
    return shown
