"""The texts read as true or false: one rule for the providers' reads and the sync's values."""

from __future__ import annotations

TRUE_TEXTS = frozenset({"true", "1", "yes", "y", "t", "on"})
FALSE_TEXTS = frozenset({"false", "0", "no", "n", "f", "off"})


def text_boolean(text: str) -> bool:
    """The boolean a text spells (any case, blanks around it ignored); ValueError if none."""
    word = text.strip().lower()
    if word in TRUE_TEXTS:
        return True
    if word in FALSE_TEXTS:
        return False
    raise ValueError(f"{text!r} is neither true nor false")
