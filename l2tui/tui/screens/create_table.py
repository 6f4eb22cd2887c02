"""Create Table: the CREATE TABLE to run, shown whole before anything is written."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.widgets import Button, Label, Static

from l2tui.tui.screens.confirm import ConfirmScreen


class CreateTableScreen(ConfirmScreen):
    """Shows the DDL (as ``l2tui create-table --dry-run`` prints it); dismisses with True
    (Create) or False (Cancel, Escape). A long DDL scrolls, the buttons stay in sight."""

    def __init__(self, question: str, ddl: str) -> None:
        super().__init__("Create Table", question, yes="Create", no="Cancel")
        self.ddl = ddl.strip() + ";"  # as the command line prints it

    def compose(self) -> ComposeResult:
        """Title, question, the DDL, buttons."""
        with Vertical(classes="dialog -ddl"):
            yield Label(self.title_text, classes="dialog-title")
            yield Static(self.question, markup=False, classes="dialog-body")
            with VerticalScroll(id="ddl-scroll"):
                yield Static(self.ddl.expandtabs(4), markup=False, id="ddl")  # (a tab shows as nothing)
            with Horizontal(classes="dialog-buttons"):
                yield Button(self.yes_label, id="yes", variant="primary")
                yield Button(self.no_label, id="no")
