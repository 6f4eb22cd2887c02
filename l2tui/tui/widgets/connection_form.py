"""The Connection page: title, direction, conflict resolution, deletions and the deletion guard."""

from __future__ import annotations

from textual import on
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.widgets import Button, Input, Select

from l2tui.config.model import (
    DIRECTION_LABELS,
    ConflictResolution,
    Connection,
    Deletions,
    Direction,
)
from l2tui.tui.messages import Edited
from l2tui.tui.widgets.fields import Field, TextInput

CONFLICT_LABELS = {
    ConflictResolution.LEFT_WINS: "Left wins (Data Entity 1)",
    ConflictResolution.RIGHT_WINS: "Right wins (Data Entity 2)",
    ConflictResolution.LATEST_WINS: "Latest change wins",
    ConflictResolution.SKIP: "Skip (report, change nothing)",
}
DIRECTION_HINTS = {
    Direction.LEFT_TO_RIGHT: "start Left to Right; switch to Bi-directional after the first run",
    Direction.RIGHT_TO_LEFT: "only Data Entity 1 is written",
    Direction.BIDIRECTIONAL: "both sides are written; a change on both goes by Conflict Resolution",
}
DELETION_LABELS = {
    Deletions.PROPAGATE: "Propagate (delete on the other side)",
    Deletions.IGNORE: "Ignore (keep the other side's item)",
}


def ratio_problem(text: str) -> str | None:
    """Why a deletion-guard value is not a share from 0 to 1 (percent accepted), or None."""
    value = parse_ratio(text)
    return None if value is not None else "enter a share from 0 to 1 (e.g. 0.2) or a percentage (20%)"


def parse_ratio(text: str) -> float | None:
    """A deletion-guard share from "0.2" or "20%"; None when invalid."""
    raw = text.strip()
    try:
        value = float(raw[:-1]) / 100 if raw.endswith("%") else float(raw)
    except ValueError:
        return None
    return value if 0 <= value <= 1 else None


class ConnectionForm(VerticalScroll):
    """Edits the connection-wide settings of the selected connection."""

    BINDING_GROUP_TITLE = "Connection"

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.conn: Connection | None = None

    def compose(self) -> ComposeResult:
        """The fields of the page, then Run Now at the bottom as in the guide."""
        yield Field("Connection Title", TextInput(id="conn-title", placeholder="a meaningful name"),
                    "shown in the connection list", id="f-conn-title")
        yield Field("Direction", Select([(v, k.value) for k, v in DIRECTION_LABELS.items()],
                                        allow_blank=False, id="direction"),
                    DIRECTION_HINTS[Direction.LEFT_TO_RIGHT], id="f-direction")
        yield Field("Conflict Resolution",
                    Select([(v, k.value) for k, v in CONFLICT_LABELS.items()],
                           allow_blank=False, id="conflict"),
                    "when an item changed on both sides", id="f-conflict")
        yield Field("Deletions", Select([(v, k.value) for k, v in DELETION_LABELS.items()],
                                        allow_blank=False, id="deletions"),
                    "when an item is gone from one side", id="f-deletions")
        yield Field("Deletion guard (max share deleted per run)",
                    TextInput(id="max-delete", placeholder="0.2"),
                    "a run that would delete more than this stops before writing",
                    id="f-max-delete")
        with Horizontal(classes="page-buttons"):
            yield Button("Run Now", id="page-run", variant="primary", action="app.run_now")
            yield Button("Dry Run", id="page-dry-run", action="app.dry_run")

    def load(self, conn: Connection) -> None:
        """Show a connection's values (without marking it edited)."""
        self.conn = conn
        with self.prevent(Input.Changed, Select.Changed):
            self.query_one("#conn-title", Input).value = conn.title
            self.query_one("#direction", Select).value = conn.direction.value
            self.query_one("#conflict", Select).value = conn.conflict_resolution.value
            self.query_one("#deletions", Select).value = conn.deletions.value
            self.query_one("#max-delete", Input).value = f"{conn.max_delete_ratio:g}"
        for field_ in self.query(Field):
            field_.set_problem(None)
            field_.set_status(None)
        self._direction_hint()

    def _direction_hint(self) -> None:
        """The direction's hint, for the direction chosen."""
        if self.conn is not None:
            self.query_one("#f-direction", Field).set_hint(DIRECTION_HINTS[self.conn.direction])

    def problems(self) -> list[str]:
        """Problems shown on this page."""
        return [f"{f.label}: {f.problem}" for f in self.query(Field) if f.problem]

    @on(Input.Changed, "#conn-title")
    def _title(self, event: Input.Changed) -> None:
        if self.conn is None:
            return
        title = event.value.strip()
        self.query_one("#f-conn-title", Field).set_problem(None if title else "a connection needs a title")
        if title:
            self.conn.title = title
        self.post_message(Edited())

    @on(Select.Changed)
    def _choice(self, event: Select.Changed) -> None:
        if self.conn is None or event.value is Select.NULL:
            return
        value = str(event.value)
        if event.select.id == "direction":
            self.conn.direction = Direction(value)
            self._direction_hint()
        elif event.select.id == "conflict":
            self.conn.conflict_resolution = ConflictResolution(value)
        elif event.select.id == "deletions":
            self.conn.deletions = Deletions(value)
        self.post_message(Edited())

    @on(Input.Changed, "#max-delete")
    def _ratio(self, event: Input.Changed) -> None:
        if self.conn is None:
            return
        self.query_one("#f-max-delete", Field).set_problem(ratio_problem(event.value))
        value = parse_ratio(event.value)
        if value is not None:
            self.conn.max_delete_ratio = value
        self.post_message(Edited())
