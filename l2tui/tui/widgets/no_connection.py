"""What the pages area shows when no connection is open: why not (a file that cannot be read)."""

from __future__ import annotations

from pathlib import Path
from shlex import quote

from rich.text import Text
from textual.widgets import Static


class NoConnection(Static):
    """Takes the place of the pages when no connection is open."""

    def show_error(self, path: Path, error: str, name: str) -> None:
        """A connection file that cannot be read: its name, the error (file:line: message), and
        the commands that show its runs (``name`` as a command names it), which do not depend on
        the file."""
        self.set_class(True, "-error")
        self.update(Text.assemble(
            (f"⚠ {path.name} cannot be opened", "bold"), "\n\n", error, "\n\n",
            ("Fix the file in an editor, then highlight it again. The runs it recorded: "
             f"l2tui history {quote(name)}, l2tui conflicts {quote(name)}.", "dim")))

    def show_none(self, any_listed: bool) -> None:
        """Nothing is selected (or nothing is there)."""
        self.set_class(False, "-error")
        self.update(Text("Pick a connection in the list (F9), or Create New Connection (ctrl+n)."
                         if any_listed else
                         "No connections yet: Create New Connection (ctrl+n)."))
