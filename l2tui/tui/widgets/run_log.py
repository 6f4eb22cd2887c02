"""The run log: plain lines wrapped to the pane's width, wrapped again when that width changes."""

from __future__ import annotations

from collections import deque

from textual.events import Resize
from textual.widgets import RichLog


class RunLog(RichLog):
    """A RichLog of plain text lines that never runs past its right edge."""

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        # min_width=1: RichLog renders every line at least 78 cells wide (cropped, and a
        # horizontal scrollbar) unless told otherwise
        super().__init__(max_lines=max_lines, min_width=1, wrap=True, markup=False,
                         highlight=False, id=id)
        self.texts: deque[str] = deque(maxlen=max_lines)
        self._wrapped_at = 0

    def on_mount(self) -> None:
        """Follow the last line, also when the log is made smaller (until scrolled up)."""
        self.anchor()

    def add(self, text: str) -> None:
        """Append one line (wrapped when longer than the log is wide)."""
        self.texts.append(text)
        self.write(text)
        if self._size_known:
            self._wrapped_at = self.scrollable_content_region.width

    def clear(self) -> RunLog:
        """Remove every line."""
        self.texts.clear()
        super().clear()
        return self

    def on_resize(self, _event: Resize) -> None:
        """Wrap the lines again at the new width (RichLog keeps them as first wrapped)."""
        width = self.scrollable_content_region.width
        if not self._size_known:
            self._wrapped_at = width  # the first size: RichLog writes what waited for it
            return
        if width in (0, self._wrapped_at):
            return
        self._wrapped_at = width
        at_end = self.is_vertical_scroll_end
        texts = list(self.texts)
        super().clear()
        for text in texts:
            self.write(text, scroll_end=at_end)
