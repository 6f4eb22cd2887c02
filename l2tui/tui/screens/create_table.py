"""Create Table: the CREATE TABLE to run, shown whole before anything is written."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Static

from l2tui.tui.screens.confirm import ConfirmScreen


class CreateTableScreen(ConfirmScreen):
    """Shows the DDL (as ``l2tui create-table --dry-run`` prints it); dismisses with True
    (Create) or False (Cancel, Escape). A long DDL scrolls, the buttons stay in sight."""

    def __init__(self, question: str, ddl: str) -> None:
        super().__init__("Create Table", question, yes="Create", no="Cancel")
        self.ddl = ddl.strip() + ";"  # as the command line prints it

    DIALOG_CLASSES = "dialog -ddl"

    def more(self) -> ComposeResult:
        """The DDL, scrolling."""
        with VerticalScroll(id="ddl-scroll"):
            yield Static(self.ddl.expandtabs(4), markup=False, id="ddl")  # (a tab shows as nothing)
