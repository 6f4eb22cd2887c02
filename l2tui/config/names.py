"""The name a mistyped one most likely meant, for "did you mean …?" hints."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def _folded(name: str) -> str:
    """A name as compared: case, spaces, underscores and hyphens aside (``User ID``, ``userid``)."""
    return "".join(ch for ch in name.casefold() if ch not in " _-")


def nearest(typed: str, names: Iterable[str], cutoff: float = 0.6) -> str | None:
    """The name ``typed`` most likely meant, or None.

    A name the typed text begins (``Trusted`` → ``Trusted_Connection``, the shortest of several)
    before the closest by spelling: difflib alone finds ``UserID`` nearer to ``Trusted``."""
    choices = list(dict.fromkeys(names))
    key = _folded(typed)
    if not key:
        return None
    if len(key) >= 3:
        begun = [n for n in choices if _folded(n).startswith(key) and _folded(n) != key]
        if begun:
            return min(begun, key=lambda n: len(_folded(n)))
    folded = {_folded(n): n for n in reversed(choices)}  # (the first of names folding alike)
    near = difflib.get_close_matches(key, list(folded), n=1, cutoff=cutoff)
    return folded[near[0]] if near else None


def names_hint(typed: str, names: Iterable[str], listing: str = "its columns", shown: int = 10
               ) -> str:
    """What a message adds about a name not found: the one it likely meant, else the first
    ``shown`` names, sorted, and how many there are (a table of 300 columns is not listed whole).
    """
    choices = list(names)
    near = nearest(typed, choices)
    if near:
        return f"did you mean '{near}'?"
    ordered = sorted(choices, key=str.casefold)
    more = f", … ({len(ordered)} in all)" if len(ordered) > shown else ""
    return f"{listing}: {', '.join(ordered[:shown]) or 'none'}{more}"
