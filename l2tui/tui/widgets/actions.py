"""The Actions pane (right): every action of the seed as a button."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.containers import VerticalScroll
from textual.widgets import Button, Label
from textual.widgets.button import ButtonVariant

# (button id, label, app action) — the labels are the seed's names
ACTIONS = (
    ("act-new", "Create New Connection", "app.new_connection"),
    ("act-save", "Save Changes", "app.save"),
    ("act-verify", "Verify Connection String", "app.verify"),
    ("act-preview", "Preview Data", "app.preview"),
    ("act-create-table", "Create Table", "app.create_table"),
    ("act-run", "Run Now", "app.run_now"),
    ("act-dry-run", "Dry Run", "app.dry_run"),
    ("act-schedule", "Schedule", "app.schedule"),
    ("act-cancel", "Cancel Run", "app.cancel_run"),
    ("act-duplicate", "Duplicate Connection", "app.duplicate"),
    ("act-delete", "Delete Connection", "app.delete"),
)


class ActionsPane(VerticalScroll, can_focus=False):
    """Buttons for Create New Connection, Save Changes, Verify, Preview, Run Now and more.

    Tab goes from button to button; the pane itself is no stop of its own (it scrolls to the
    focused button)."""

    def compose(self) -> ComposeResult:
        """One button per action."""
        yield Label("Actions", classes="pane-title")
        for button_id, label, action in ACTIONS:
            variant: ButtonVariant = "primary" if button_id == "act-run" else "default"
            if button_id in ("act-delete", "act-cancel"):
                variant = "error"
            yield Button(label, id=button_id, action=action, variant=variant)
