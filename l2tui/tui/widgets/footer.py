"""The footer: the keys that fit whole; those it has no room for are left out (F1 lists them all)
rather than one cut in half at the right edge."""

from __future__ import annotations

from collections.abc import Sequence

from textual.geometry import Size
from textual.widgets import Footer
from textual.widgets._footer import FooterKey


class L2Footer(Footer):
    """A Footer that leaves out whole keys, the least needed first, until the rest fit."""

    DEFAULT_CSS = """
    L2Footer FooterKey.-left-out {
        display: none;
    }
    """

    def __init__(self, least_needed: Sequence[str], *, compact: bool = False) -> None:
        super().__init__(compact=compact)
        self.least_needed = tuple(least_needed)  # actions, the first left out first

    async def recompose(self) -> None:
        """New keys (the focus or the state changed): fit them."""
        await super().recompose()
        self.fit()

    def on_resize(self) -> None:
        """Fit the keys to the new width (once the screen's width class has styled them)."""
        self.call_after_refresh(self.fit)

    def fit(self) -> None:
        """Show the keys in their order, leaving out the least needed until the rest fit whole."""
        keys = [key for key in self.query_children(FooterKey)
                if not key.has_class("-command-palette")]
        for key in keys:
            key.remove_class("-left-out")
        room = self.size.width - self._palette_width()
        shown = list(keys)
        for key in sorted(keys, key=lambda k: self._rank(k, keys)):
            if self._width(shown) <= room:
                break
            key.add_class("-left-out")
            shown.remove(key)

    def _rank(self, key: FooterKey, keys: list[FooterKey]) -> tuple[int, int, int]:
        """Left out first: a disabled key, then the least needed, then the others from the right."""
        listed = self.least_needed.index(key.action) if key.action in self.least_needed else None
        return (0 if key.has_class("-disabled") else 1,
                len(self.least_needed) if listed is None else listed, -keys.index(key))

    @staticmethod
    def _width(keys: list[FooterKey]) -> int:
        """Columns the keys take side by side (the last one's margin may run past the edge)."""
        widths = [key.get_content_width(Size(0, 0), Size(0, 0)) + key.styles.gutter.width
                  + key.styles.margin.width for key in keys]
        return sum(widths) - (keys[-1].styles.margin.right if keys else 0)

    def _palette_width(self) -> int:
        """Columns the palette's key takes at the right edge (none where it is hidden)."""
        for key in self.query_children(FooterKey):
            if key.has_class("-command-palette") and key.styles.display != "none":
                return (key.get_content_width(Size(0, 0), Size(0, 0)) + key.styles.gutter.width
                        + key.styles.margin.width)
        return 0
