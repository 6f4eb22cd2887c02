"""The run log: plain lines wrapped to the pane's width, wrapped again when that width changes."""

from __future__ import annotations

from collections import deque

from textual.events import Resize
from textual.geometry import Size
from textual.widgets import RichLog

DROPPED_TITLE = "the last {:,} lines: the run's log file has every line"


class RunLog(RichLog):
    """A RichLog of plain text lines that never runs past its right edge. Past ``max_lines``
    texts the oldest goes whole, all the rows it was wrapped into (RichLog's own limit counts
    rows: the log began with the rest of a line cut in two), and the title says so."""

    def __init__(self, *, max_lines: int, id: str | None = None) -> None:
        # min_width=1: RichLog renders every line at least 78 cells wide (cropped, and a
        # horizontal scrollbar) unless told otherwise
        super().__init__(min_width=1, wrap=True, markup=False, highlight=False, id=id)
        self.texts: deque[str] = deque(maxlen=max_lines)
        self._rows: deque[int] = deque()  # how many rows each text written was wrapped into
        self._wrapped_at = 0

    def on_mount(self) -> None:
        """Follow the last line, also when the log is made smaller (until scrolled up)."""
        self.anchor()

    def add(self, text: str) -> None:
        """Append one line (wrapped when longer than the log is wide)."""
        if len(self.texts) == self.texts.maxlen:
            self._drop_oldest()
        self.texts.append(text)
        self._write(text)
        if self._size_known:
            self._wrapped_at = self.scrollable_content_region.width

    def _write(self, text: str, scroll_end: bool | None = None) -> None:
        """Write one text, counting the rows it takes (a write before the size is known waits
        for it: it is written again, counted, once the size comes)."""
        rows = len(self.lines)
        self.write(text, scroll_end=scroll_end)
        if self._size_known:
            self._rows.append(len(self.lines) - rows)

    def _drop_oldest(self) -> None:
        """The oldest text goes, with every row it took."""
        # (a text written before the size was known, and not again since, has no count)
        rows = self._rows.popleft() if len(self._rows) == len(self.texts) else 0
        self.texts.popleft()
        if rows:
            del self.lines[:rows]
            self._start_line += rows  # (RichLog's cache is keyed by the line's number)
            self.virtual_size = Size(self.virtual_size.width, len(self.lines))
            self.refresh()
        self.border_title = DROPPED_TITLE.format(self.texts.maxlen)

    def clear(self) -> RunLog:
        """Remove every line."""
        self.texts.clear()
        self._rows.clear()
        self.border_title = None
        super().clear()
        return self

    def on_resize(self, _event: Resize) -> None:
        """Wrap the lines again at the new width (RichLog keeps them as first wrapped)."""
        width = self.scrollable_content_region.width
        if width == 0 or (self._size_known and width == self._wrapped_at):
            return
        at_end = self.is_vertical_scroll_end or not self._size_known
        # the first size: the lines that waited for it are written here (counted), not by
        # RichLog, which finds nothing left to write
        self._size_known = True
        self._wrapped_at = width
        super().clear()
        self._rows.clear()
        for text in self.texts:
            self._write(text, scroll_end=at_end)
