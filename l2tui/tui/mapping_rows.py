"""What the Mappings page shows: effective column pairs with types, markers and problems."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from l2tui.config.model import ColumnPair, Connection, Direction
from l2tui.errors import ConfigError


@dataclass
class Row:
    """One mapped pair as shown in the table."""

    left: str
    right: str
    left_type: str = ""
    right_type: str = ""
    auto: bool = False
    excluded: bool = False  # an auto pair mapping.exclude leaves out: shown, not synced
    match_key: bool = False
    left_read_only: bool = False
    right_read_only: bool = False
    notes: list[str] = field(default_factory=list)

    @property
    def key(self) -> str:
        """The table row key."""
        return f"{self.left}\t{self.right}"


def _by_name(columns: list[Any] | None) -> dict[str, Any]:
    return {c.name.casefold(): c for c in columns or []}


def is_excluded(conn: Connection, pair: ColumnPair) -> bool:
    """Whether ``mapping.exclude`` names the pair's column (case-insensitively, as auto
    mapping matches names)."""
    names = {n.casefold() for n in conn.mapping.exclude}
    return pair.left.casefold() in names or pair.right.casefold() in names


def effective_pairs(conn: Connection, left: list[Any] | None, right: list[Any] | None) -> list[tuple[ColumnPair, bool]]:
    """Manual pairs, then (with auto mapping on) identical names not mapped yet; (pair, is_auto).
    An auto pair ``mapping.exclude`` leaves out is among them (the page shows it, excluded)."""
    pairs = [(p, False) for p in conn.mapping.columns]
    if conn.mapping.auto and left is not None and right is not None:
        used_l = {p.left.casefold() for p in conn.mapping.columns}
        used_r = {p.right.casefold() for p in conn.mapping.columns}
        rights = _by_name(right)
        for col in left:
            folded = col.name.casefold()
            if folded in rights and folded not in used_l and folded not in used_r:
                pairs.append((ColumnPair(col.name, rights[folded].name), True))
    return pairs


def match_key(conn: Connection, pairs: list[ColumnPair], left: list[Any] | None = None) -> ColumnPair | None:
    """The match key: the configured one, else entity 1's primary key and its partner."""
    if conn.mapping.match_key is not None:
        return conn.mapping.match_key
    keys = [k.casefold() for k in conn.entity1.primary_key]
    if not keys:
        keys = [c.name.casefold() for c in left or [] if c.key]
    for pair in pairs:
        if pair.left.casefold() in keys:
            return pair
    return None


def _one_way(row: Row, direction: Direction) -> str:
    """The note of a pair a bidirectional run carries one way (read-only on one side alone),
    else ''."""
    if direction != Direction.BIDIRECTIONAL or row.left_read_only == row.right_read_only:
        return ""
    return "read-only on the left: carried left → right only" if row.left_read_only else \
        "read-only on the right: carried right → left only"


def build_rows(conn: Connection, left: list[Any] | None, right: list[Any] | None) -> tuple[list[Row], list[str]]:
    """The table rows and the problems of the mapping as it stands."""
    lcols, rcols = _by_name(left), _by_name(right)
    pairs = effective_pairs(conn, left, right)
    key = match_key(conn, [p for p, _ in pairs], left)
    writes_right = conn.direction in (Direction.LEFT_TO_RIGHT, Direction.BIDIRECTIONAL)
    writes_left = conn.direction in (Direction.RIGHT_TO_LEFT, Direction.BIDIRECTIONAL)
    rows: list[Row] = []
    problems: list[str] = []
    for pair, auto in pairs:
        lc, rc = lcols.get(pair.left.casefold()), rcols.get(pair.right.casefold())
        row = Row(pair.left, pair.right, auto=auto, excluded=auto and is_excluded(conn, pair),
                  left_type=str(lc.type) if lc else "", right_type=str(rc.type) if rc else "",
                  left_read_only=bool(lc and lc.read_only), right_read_only=bool(rc and rc.read_only))
        row.match_key = key is not None and (pair.left.casefold(), pair.right.casefold()) == (
            key.left.casefold(), key.right.casefold())
        if left is not None and lc is None:
            row.notes.append("left column not found")
            problems.append(f"'{pair.left}' is not a column of Data Entity 1")
        if right is not None and rc is None:
            row.notes.append("right column not found")
            problems.append(f"'{pair.right}' is not a column of Data Entity 2")
        one_way = _one_way(row, conn.direction)
        if row.excluded:
            row.notes.append("excluded: not synced (x includes it)")
        elif one_way and not row.match_key:
            row.notes.append(one_way)
        elif row.right_read_only and writes_right and not row.match_key:
            row.notes.append("read-only: not written")
        if row.left_read_only and writes_left and not row.match_key and not row.excluded \
                and not one_way:
            row.notes.append("read-only on the left: not written")
        rows.append(row)
    if left is not None and right is not None:
        problems += [p for p in engine_verdict(conn, left, right) if p not in problems]
    return rows, problems


def engine_plan(conn: Connection, left: list[Any], right: list[Any]) -> Any:
    """The sync engine's plan of this mapping over the described columns (what a run maps); its
    ConfigError when it refuses the mapping."""
    from l2tui.sync.mapping import build_mapping

    left_keys = list(conn.entity1.primary_key) or [c.name for c in left if c.key]
    right_keys = list(conn.entity2.primary_key) or [c.name for c in right if c.key]
    return build_mapping(conn, left, right, left_keys, right_keys)


def carried_auto_pairs(conn: Connection, left: list[Any], right: list[Any]) -> list[ColumnPair] | None:
    """The pairs auto mapping makes that a run carries (or matches by), as the engine plans
    them: not those it skips (a column read-only where it is written, types that cannot
    convert, an excluded name). None when the engine refuses the mapping as it stands."""
    try:
        plan = engine_plan(conn, left, right)
    except Exception:  # (its ConfigError, or its own bug: the page says which, engine_verdict)
        return None
    carried = {(p.left.name.casefold(), p.right.name.casefold()) for p in [*plan.pairs, *plan.match]}
    return [pair for pair, auto in effective_pairs(conn, left, right)
            if auto and (pair.left.casefold(), pair.right.casefold()) in carried]


def engine_verdict(conn: Connection, left: list[Any], right: list[Any]) -> list[str]:
    """What the sync engine itself says of this mapping: its error, or its warnings."""
    try:
        plan = engine_plan(conn, left, right)
    except ConfigError as exc:
        return [exc.detail]
    except Exception as exc:  # the engine's own bug must not break the page
        return [f"cannot check the mapping ({type(exc).__name__})"]
    notes = [f"not written (read-only): {name}" for name in plan.skipped]
    return [*plan.warnings, *notes]
