"""Keys as terminals send them, where Textual reads them otherwise than l2tui binds them."""

from __future__ import annotations

from collections.abc import MutableMapping
from typing import cast

from textual._ansi_sequences import ANSI_SEQUENCES_KEYS

ALT_DIGITS = tuple(f"\x1b{digit}" for digit in "0123456789")


def read_alt_digits() -> None:
    """Read ESC + a digit as alt+digit, which is what xterm, tmux and most terminals over SSH send
    for it. Textual maps it to the character macOS's Option key types (for WezTerm): then the
    page keys alt+1 … alt+5 never fire and type ¡ ™ £ ¢ ∞ into the focused field instead.

    Textual's table is private (a plain dict, typed read-only); Textual is pinned exactly, and
    tests/tui/test_tmux.py presses the keys in a real terminal.
    """
    sequences = cast(MutableMapping[str, object], ANSI_SEQUENCES_KEYS)
    for sequence in ALT_DIGITS:
        sequences.pop(sequence, None)
