"""The Mappings page: Enable Auto Mapping, the pairs of left ↔ right columns, and their problems."""

from __future__ import annotations

from dataclasses import replace
from typing import Any, ClassVar

from rich.cells import cell_len
from rich.text import Text
from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.events import Resize
from textual.widgets import Button, DataTable, Label, Select, Static, Switch

from l2tui.config.model import ColumnPair, Connection
from l2tui.tui.mapping_rows import Row, build_rows, carried_auto_pairs, effective_pairs
from l2tui.tui.messages import Edited
from l2tui.tui.widgets.fields import SearchSelect
from l2tui.tui.widgets.tables import cell_width
from l2tui.widths import fitted_widths

NOT_LOADED = "columns not loaded: Load Columns reads both entities' columns"
LEGEND = "★ match key, auto: mapped by name, RO read-only"
# the marks first: a narrow screen shows them without scrolling sideways
LABELS = ("", "Data Entity 1", "Type", "", "Data Entity 2", "Type", "Notes")
COMPACT_LABELS = ("", "Data Entity 1", "", "Data Entity 2")  # types under names, notes under both
NAME_FLOOR = 16  # names narrower than this beside the Type columns: the compact layout
COMPACT_NAME_FLOOR = 8  # names narrower than this in it: the table scrolls sideways
NOTES_FLOOR = 12  # the notes give up width before the names, down to this
Cells = tuple[Text, Text, str, str, Text, str, str]  # marks, left, type, ↔, right, type, notes


def _marks(row: Row) -> Text:
    """The first, narrow column: ★ for the match key, "auto" for a pair mapped by name."""
    text = Text()
    text.append("★" if row.match_key else " ", style="bold")
    if row.excluded:
        text.append(" excl", style="dim")
    elif row.auto:
        text.append(" auto", style="dim")
    return text


def _name(name: str, read_only: bool, excluded: bool = False) -> Text:
    """A column's name as the table shows it: RO when read-only, struck through when excluded."""
    text = Text(name, style="dim strike" if excluded else "")
    if read_only:
        text.append(" RO", style="italic")
    return text


class PairsTable(DataTable[Any]):
    """The pairs, their columns fitted to the table's width: the notes give up width first, the
    names next (a name too long wraps, never cut), the types keep theirs; where that does not
    fit with names NAME_FLOOR wide (beside both side panes), each type goes under its name and
    the pair's notes under the right one (no Type or Notes columns)."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id, cursor_type="row", zebra_stripes=True)
        self.cells: list[Cells] = []
        self.keys: list[str] = []
        self.layout_shown: tuple[tuple[str, ...], list[int]] = (LABELS, [])
        self.add_columns(*LABELS)

    def show(self, cells: list[Cells], keys: list[str]) -> None:
        """Show these rows (their cells, their keys) in place of those shown."""
        self.cells, self.keys = cells, keys
        self._redraw()

    def on_resize(self, _event: Resize) -> None:
        """Fit the columns to the new width (the cursor stays on its row)."""
        if self._fitted() != self.layout_shown:
            cursor = self.cursor_row
            self._redraw()
            if self.cells:
                self.move_cursor(row=min(cursor, len(self.cells) - 1))

    def _fitted(self) -> tuple[tuple[str, ...], list[int]]:
        """The labels and widths of the columns for the table's width (not laid out yet: as
        wide as their cells)."""
        natural = [max([cell_len(label), *(cell_width(row[index]) for row in self.cells)])
                   for index, label in enumerate(LABELS)]
        width = self.scrollable_content_region.width
        if not width:
            return LABELS, natural
        padding = 2 * self.cell_padding * len(LABELS)
        if not self.show_vertical_scrollbar and (sum(natural) + padding > width or
                                                 len(self.cells) + 1 > self.size.height):
            width -= self.styles.scrollbar_size_vertical  # (room for it: more rows than room)
        floors = [natural[0], min(natural[1], NAME_FLOOR), natural[2], natural[3],
                  min(natural[4], NAME_FLOOR), natural[5], min(natural[6], NOTES_FLOOR)]
        fitted = fitted_widths(natural, floors, width - padding, [[6], [1, 4]])
        if sum(fitted) <= width - padding:
            return LABELS, fitted
        return COMPACT_LABELS, self._compact(natural, width)

    def _compact(self, natural: list[int], width: int) -> list[int]:
        """The widths of the compact layout's columns (a type under its name, the notes under
        the right one) for ``width`` cells, from the widths of the cells."""
        notes = max((cell_width(row[6]) for row in self.cells), default=0)
        compact = [natural[0], max(natural[1], natural[2]), natural[3],
                   max(natural[4], natural[5], notes)]
        floors = [compact[0], min(compact[1], COMPACT_NAME_FLOOR), compact[2],
                  min(compact[3], COMPACT_NAME_FLOOR)]
        room = width - 2 * self.cell_padding * len(COMPACT_LABELS)
        return fitted_widths(compact, floors, room, [[1, 3]])

    def _redraw(self) -> None:
        """The rows in the columns (and widths) that fit the table's width; long cells wrap."""
        self.layout_shown = labels, widths = self._fitted()
        self.clear(columns=True)
        for label, width in zip(labels, widths, strict=True):
            self.add_column(label, width=width)
        for number, row in enumerate(self.cells):
            marks, left, ltype, arrow, right, rtype, notes = row
            cells: tuple[Any, ...] = row if labels == LABELS else (
                marks, Text.assemble(left, "\n", (ltype, "dim")), arrow,
                Text.assemble(right, "\n", (rtype, "dim"), *([("\n" + notes, "italic")]
                                                              if notes else [])))
            self.add_row(*cells, key=self.keys[number], height=None)


class StatusScroll(VerticalScroll):
    """The mapping's warnings: as many lines as they take, up to 40% of the page (the pairs keep
    the rest), then scrolled (a Tab stop then, so that keys scroll them too)."""

    def allow_focus(self) -> bool:
        """Focused only when there is more to see."""
        return self.max_scroll_y > 0


class MappingEditor(Vertical):
    """Edits which columns are carried across, picking from each side's described columns."""

    BINDING_GROUP_TITLE = "Mappings"
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("x", "toggle_exclude", "Exclude", id="mapping.exclude",
                tooltip="Exclude the auto-mapped pair from the sync, or include it again")]

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.conn: Connection | None = None
        self.left: list[Any] | None = None
        self.right: list[Any] | None = None
        self.rows: list[Row] = []
        self._shown: tuple[list[Cells], list[str]] | None = None  # the table's rows as last filled
        # the pairs auto mapping had made when it was turned off, by connection file: turned on
        # again, those it makes itself again (the ones changed meanwhile stay the user's)
        self._auto_made: dict[Any, list[ColumnPair]] = {}

    def compose(self) -> ComposeResult:
        """Switch, table, pickers and problems."""
        with Horizontal(id="auto-row"):
            yield Switch(id="auto", value=True)
            yield Label("Enable Auto Mapping", id="auto-label")
            yield Button("Load Columns", id="describe", action="app.describe", compact=True)
        yield PairsTable(id="pairs")
        with Horizontal(id="pickers"):
            # (letters typed on the closed picker search its columns, as in Data Provider)
            yield SearchSelect([], prompt="left column", id="pick-left", type_to_search=True)
            yield SearchSelect([], prompt="right column", id="pick-right", type_to_search=True)
        with Horizontal(id="pair-buttons", classes="page-buttons"):
            yield Button("Add", id="pair-add", compact=True)
            yield Button("Change", id="pair-change", compact=True)
            yield Button("Remove", id="pair-remove", compact=True)
            yield Button("Match Key", id="pair-key", compact=True)
        with StatusScroll(id="mapping-status-box"):
            yield Static(NOT_LOADED, id="mapping-status", markup=False)

    def load(self, conn: Connection, left: list[Any] | None = None, right: list[Any] | None = None) -> None:
        """Show a connection's mapping, with the described columns if known."""
        self.conn = conn
        self.left, self.right = left, right
        with self.prevent(Switch.Changed):
            self.query_one("#auto", Switch).value = conn.mapping.auto
        self._fill_pickers()
        self.refresh_rows()

    def set_columns(self, left: list[Any] | None, right: list[Any] | None) -> None:
        """Columns from describe() (run in a worker)."""
        self.left, self.right = left, right
        self._fill_pickers()
        self.refresh_rows()

    def refresh_rows(self) -> None:
        """Rebuild the table and the problem list from the model."""
        if self.conn is None:
            return
        self.rows, problems = build_rows(self.conn, self.left, self.right)
        table = self.query_one("#pairs", PairsTable)
        cells: list[Cells] = [
            (_marks(row), _name(row.left, row.left_read_only, row.excluded), row.left_type, "↔",
             _name(row.right, row.right_read_only, row.excluded), row.right_type,
             "; ".join(row.notes))
            for row in self.rows]
        keys = [row.key for row in self.rows]
        if (cells, keys) != self._shown:  # (the same rows: the table, its cursor and scroll stay)
            self._shown = (cells, keys)
            cursor = table.cursor_row
            table.show(cells, keys)
            if self.rows:
                table.move_cursor(row=min(cursor, len(self.rows) - 1))
        status = self.query_one("#mapping-status", Static)
        lines = [f"⚠ {p}" for p in problems]
        if self.left is None or self.right is None:
            lines = [NOT_LOADED]
        excluded = sum(row.excluded for row in self.rows)
        counts = f"{len(self.rows) - excluded} pairs mapped" + \
            (f", {excluded} excluded" if excluded else "")
        status.update("\n".join(lines) or f"{counts}; {LEGEND}")
        status.set_class(bool(problems), "-problems")

    def problems(self) -> list[str]:
        """Problems of the mapping as it stands."""
        if self.conn is None:
            return []
        return [p for p in build_rows(self.conn, self.left, self.right)[1]
                if self.left is not None and self.right is not None]

    def _fill_pickers(self) -> None:
        for select_id, columns in (("#pick-left", self.left), ("#pick-right", self.right)):
            select = self.query_one(select_id, Select)
            select.set_options([(f"{c.name} ({c.type})", c.name) for c in columns or []])

    def _selected_row(self) -> Row | None:
        table = self.query_one("#pairs", DataTable)
        if not self.rows or table.cursor_row < 0 or table.cursor_row >= len(self.rows):
            return None
        return self.rows[table.cursor_row]

    def _picked(self) -> ColumnPair | None:
        left = self.query_one("#pick-left", Select).value
        right = self.query_one("#pick-right", Select).value
        if left is Select.NULL or right is Select.NULL:
            self.app.notify("pick a left and a right column first", severity="warning")
            return None
        return ColumnPair(str(left), str(right))

    def _changed(self) -> None:
        self.refresh_rows()
        self.post_message(Edited())

    @on(Switch.Changed, "#auto")
    def _auto(self, event: Switch.Changed) -> None:
        if self.conn is None:
            return
        if not event.value and (self.left is None or self.right is None):
            # the pairs auto mapping makes are not known: turned off, they would all be dropped
            with self.prevent(Switch.Changed):
                event.switch.value = True
            self.app.notify("Load Columns first: turning Enable Auto Mapping off keeps the pairs "
                            "it made as your own, which needs both entities' columns",
                            title="Mappings", severity="warning")
            return
        mapping = self.conn.mapping
        if not event.value:
            # keep what auto mapping carried as pairs that can now be changed one by one
            made = self._carried()
            self._auto_made[self.conn.path] = made
            mapping.columns = [*mapping.columns, *made]
        else:  # as it was before it was turned off: the pairs it made are its own again
            made = self._auto_made.pop(self.conn.path, [])
            mapping.columns = [p for p in mapping.columns if p not in made]
        mapping.auto = event.value
        self._changed()

    def _carried(self) -> list[ColumnPair]:
        """The pairs auto mapping makes that a run carries (as the engine plans them), saying
        which it skips and so are not kept: as manual pairs, the engine would refuse them."""
        assert self.conn is not None and self.left is not None and self.right is not None
        made = [p for p, auto in effective_pairs(self.conn, self.left, self.right) if auto]
        carried = carried_auto_pairs(self.conn, self.left, self.right)
        if carried is None:  # (the engine refuses the mapping anyway: its problem is shown)
            self.app.notify("the mapping has a problem (see under the pairs): kept every pair "
                            "mapped by name", title="Mappings", severity="warning")
            return made
        skipped = [p for p in made if p not in carried]
        if skipped:
            names = ", ".join(p.left if p.left == p.right else f"{p.left} ↔ {p.right}"
                              for p in skipped)
            self.app.notify(f"not kept: {names} (auto mapping skips them: read-only where "
                            "written, types that cannot convert or excluded)",
                            title="Mappings", timeout=10)
        return carried

    @on(DataTable.RowHighlighted, "#pairs")
    def _row(self, event: DataTable.RowHighlighted) -> None:
        row = self._selected_row()
        if row is None:
            return
        for select_id, name, columns in (("#pick-left", row.left, self.left),
                                         ("#pick-right", row.right, self.right)):
            if columns and any(c.name == name for c in columns):
                self.query_one(select_id, Select).value = name

    @on(Button.Pressed, "#pair-add")
    def _add(self) -> None:
        pair = self._picked()
        if pair is None or self.conn is None:
            return
        cols = self.conn.mapping.columns
        if any(p.left.casefold() == pair.left.casefold() or p.right.casefold() == pair.right.casefold()
               for p in cols):
            self.app.notify(f"{pair.left} or {pair.right} is already mapped; use Change",
                            severity="warning")
            return
        auto = self._auto_pairs()
        cols.append(pair)
        self._unexclude(pair)
        self._changed()
        self._highlight(pair)
        self._say_replaced(pair, auto)

    @on(Button.Pressed, "#pair-change")
    def _change(self) -> None:
        row, pair = self._selected_row(), self._picked()
        if row is None or pair is None or self.conn is None:
            return
        old = [(p.left, p.right) for p in self.conn.mapping.columns]
        at = old.index((row.left, row.right)) if (row.left, row.right) in old else len(old)
        cols = [p for p in self.conn.mapping.columns if p.left.casefold() != pair.left.casefold()
                and p.right.casefold() != pair.right.casefold()]
        key = self.conn.mapping.match_key
        if key is not None and row.match_key:
            key = pair  # the match key's own pair changed: the ★ goes with it
        elif key is not None and self._maps(key) and not self._maps(key, [*cols, pair]):
            # the new pair takes a column of the match key's pair, which would go unseen
            self.app.notify(f"{pair.left} or {pair.right} is in the match key pair "
                            f"{key.left} ↔ {key.right}: set Match Key on another pair first",
                            severity="warning")
            return
        auto = self._auto_pairs()
        # in the changed pair's place (a pair of one's own), not moved to the end
        at -= sum(1 for p in self.conn.mapping.columns[:at] if p not in cols)
        cols = [p for p in cols if (p.left, p.right) != (row.left, row.right)]
        self.conn.mapping.columns = [*cols[:at], pair, *cols[at:]]
        self.conn.mapping.match_key = key
        self._unexclude(pair)
        self._changed()
        self._highlight(pair)
        self._say_replaced(pair, auto)

    def _highlight(self, pair: ColumnPair) -> None:
        """Put the table's cursor on the pair just added or changed: the pickers show it again
        (the cursor stayed on its row number, which then held another pair, so that a second
        Change changed that one)."""
        keys = [row.key for row in self.rows]
        if f"{pair.left}\t{pair.right}" in keys:
            self.query_one("#pairs", DataTable).move_cursor(
                row=keys.index(f"{pair.left}\t{pair.right}"))

    def _auto_pairs(self) -> list[tuple[str, str]]:
        """The pairs auto mapping makes now (as the table shows them)."""
        return [(row.left, row.right) for row in self.rows if row.auto]

    def _say_replaced(self, pair: ColumnPair, auto_before: list[tuple[str, str]]) -> None:
        """Say which automatic pairs a new pair took the place of (a column maps to one only), or
        that it is the pair auto mapping had made, now one of its own (not a replacement)."""
        same = (pair.left.casefold(), pair.right.casefold())
        made = [p for p in auto_before if (p[0].casefold(), p[1].casefold()) == same]
        gone = [p for p in auto_before if p not in self._auto_pairs() and p not in made]
        if gone:
            names = " and ".join(f"{left} ↔ {right}" for left, right in gone)
            self.app.notify(f"{pair.left} ↔ {pair.right} replaces the automatic pair {names} (a "
                            f"column is mapped once); {len(self.rows)} pairs mapped",
                            title="Mappings", severity="warning", timeout=10)
        elif made:
            self.app.notify(f"{pair.left} ↔ {pair.right} was mapped by name; now it is a pair of "
                            "its own, kept when Enable Auto Mapping is turned off",
                            title="Mappings")

    def _maps(self, key: ColumnPair, columns: list[ColumnPair] | None = None) -> bool:
        """Whether ``key`` is one of the mapped pairs (with ``columns`` as the manual pairs)."""
        assert self.conn is not None
        mapping = replace(self.conn.mapping, columns=list(columns if columns is not None
                                                          else self.conn.mapping.columns))
        pairs = effective_pairs(replace(self.conn, mapping=mapping), self.left, self.right)
        return any((p.left.casefold(), p.right.casefold()) == (key.left.casefold(), key.right.casefold())
                   for p, _ in pairs)

    @on(Button.Pressed, "#pair-remove")
    def _remove(self) -> None:
        row = self._selected_row()
        if row is None or self.conn is None:
            return
        if row.auto:
            self.app.notify("this pair is auto-mapped: x excludes it from the sync (or turn off "
                            "Enable Auto Mapping to remove it)", severity="warning")
            return
        if row.match_key and self.conn.mapping.match_key is not None:
            self.app.notify(f"{row.left} ↔ {row.right} is the match key: set Match Key on another "
                            "pair first", severity="warning")
            return
        self.conn.mapping.columns = [p for p in self.conn.mapping.columns
                                     if (p.left, p.right) != (row.left, row.right)]
        self._changed()

    @on(Button.Pressed, "#pair-key")
    def _match_key(self) -> None:
        row = self._selected_row()
        if row is None or self.conn is None:
            return
        self.conn.mapping.match_key = ColumnPair(row.left, row.right)
        self._changed()

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        """Exclude only from the table of pairs (x is a letter to the pickers' search)."""
        if action == "toggle_exclude":
            return self.screen.focused is self.query_one("#pairs", DataTable)
        return True

    def action_toggle_exclude(self) -> None:
        """Leave the highlighted auto-mapped pair out of the sync (mapping.exclude), or take it
        in again."""
        row = self._selected_row()
        if row is None or self.conn is None:
            return
        mapping = self.conn.mapping
        if not row.auto:
            self.app.notify(f"{row.left} ↔ {row.right} is a pair of your own, not mapped by "
                            "name: Remove takes it out", severity="warning")
            return
        if row.match_key and not row.excluded:
            self.app.notify(f"{row.left} ↔ {row.right} is the match key, which cannot be "
                            "excluded", severity="warning")
            return
        names = {row.left.casefold(), row.right.casefold()}
        if row.excluded:
            mapping.exclude = [n for n in mapping.exclude if n.casefold() not in names]
        else:
            mapping.exclude = [*mapping.exclude, row.left]
        self._changed()

    def _unexclude(self, pair: ColumnPair) -> None:
        """A pair of one's own takes its columns out of mapping.exclude (the engine refuses a
        column both mapped and excluded)."""
        assert self.conn is not None
        names = {pair.left.casefold(), pair.right.casefold()}
        self.conn.mapping.exclude = [n for n in self.conn.mapping.exclude
                                     if n.casefold() not in names]
