"""Column widths that fit a width: what the app's tables and the command line's share."""

from __future__ import annotations

from collections.abc import Sequence


def fitted_widths(widths: Sequence[int], floors: Sequence[int], room: int,
                  order: Sequence[Sequence[int]]) -> list[int]:
    """Column widths that fit ``room`` cells: the groups of columns in ``order`` give up width in
    turn (in a group, the widest first), none below its floor; the other columns keep theirs.
    What still does not fit is left over (a table of the app scrolls sideways)."""
    fitted = list(widths)
    excess = sum(fitted) - room
    for group in order:
        while excess > 0:
            shrinkable = [index for index in group if fitted[index] > floors[index]]
            if not shrinkable:
                break
            fitted[max(shrinkable, key=lambda index: fitted[index])] -= 1
            excess -= 1
    return fitted
