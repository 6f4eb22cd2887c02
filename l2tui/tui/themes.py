"""l2tui's own default theme (Textual's themes stay available in the palette)."""

from __future__ import annotations

from textual.theme import Theme

DEFAULT_THEME = "l2tui"

L2TUI = Theme(
    name=DEFAULT_THEME,
    primary="#3B82C4",
    secondary="#2E9E8F",
    accent="#E0A030",
    warning="#E0A030",
    error="#D9534F",
    success="#4CAF50",
    foreground="#DDE3EA",
    background="#161B22",
    surface="#1E252E",
    panel="#28313C",
    dark=True,
)

THEMES = (L2TUI,)
