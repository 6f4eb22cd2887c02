"""Resolve a connection's mapping against both sides' schemas, before anything is written."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

from l2tui.config.model import ColumnPair, ConflictResolution, Connection, Direction
from l2tui.config.names import names_hint
from l2tui.config.specs import SelectError
from l2tui.config.specs.sql_select import parse_select
from l2tui.errors import ConfigError
from l2tui.providers.base import Column, ColumnType
from l2tui.sync.normalize import Numbers, fraction_rule, numbers_rule, pair_type, scale_rule

SIDES = ("left", "right")


@dataclass(frozen=True)
class Pair:
    """A left column carried to (or from) a right column, compared as ``kind``."""

    left: Column
    right: Column
    kind: ColumnType
    manual: bool = False

    def column(self, side: str) -> Column:
        """The pair's column on ``side``."""
        return self.left if side == "left" else self.right

    @property
    def numbers(self) -> Numbers:
        """How many digits of a number count, by what the two columns hold."""
        return numbers_rule(self.left, self.right)

    @property
    def scale(self) -> int | None:
        """How many digits after the point an exact number keeps, by what the two columns hold."""
        return scale_rule(self.left, self.right)

    @property
    def fraction_digits(self) -> int:
        """How many digits of a second a datetime keeps, by what the two columns hold."""
        return fraction_rule(self.left, self.right)

    @property
    def label(self) -> str:
        """``left → right`` for messages."""
        return self.left.name if self.left.name == self.right.name else \
            f"{self.left.name} → {self.right.name}"


@dataclass
class MappingPlan:
    """What a run compares and writes: value pairs, match-key pairs, keys, modified-on columns.

    ``pairs[:two_way]`` are writable on both sides; the rest flow one way only, from a side
    where they are read-only (e.g. Dataverse ``modifiedon``) to the other. In a one-way run they
    are "extras", compared and hashed apart from the two-way part, so that switching direction
    keeps the two-way base; in a bidirectional run they ride along: written with an item's
    other values, never compared (a change to them alone is no change, and they are no part of
    its hash). ``signature`` names the pairs carried; ``legacy`` every pair mapped, skipped ones
    too, as states synced before the engine signed what it carries hold it.
    """

    pairs: list[Pair]
    two_way: int
    match: list[Pair]
    keys: dict[str, list[Column]]
    modified: dict[str, str | None]
    direction: Direction
    skipped: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    signature: str = ""
    legacy: str = ""
    one_way: set[tuple[str, str]] = field(default_factory=set)  # read-only on one side alone

    def writable(self, side: str) -> list[int]:
        """Indices of the value pairs a write to ``side`` carries."""
        return [i for i, p in enumerate(self.pairs) if not p.column(side).read_only]

    @property
    def has_extras(self) -> bool:
        """Whether one-way pairs are compared in this direction (a one-way run's extras; a
        bidirectional run's one-way pairs are written along, never compared)."""
        return self.direction != Direction.BIDIRECTIONAL and self.two_way < len(self.pairs)


def is_interval(column: Column) -> bool:
    """Whether a column is a PostgreSQL ``interval`` (a duration of months, days and time)."""
    return column.native_type.lstrip().upper().startswith("INTERVAL")


def shown_type(column: Column) -> str:
    """A column's type as a mapping error names it: its logical type, or ``interval``."""
    return "interval" if is_interval(column) else str(column.type)


# what an interval is never paired with: its value is no number (of which unit?), no moment,
# no boolean, GUID or bytes; text (or another interval) is read by PostgreSQL as an interval
_NO_INTERVAL = frozenset({ColumnType.INTEGER, ColumnType.DECIMAL, ColumnType.FLOAT,
                          ColumnType.BOOLEAN, ColumnType.DATETIME, ColumnType.DATE,
                          ColumnType.GUID, ColumnType.BINARY})


def pair_kind(left: Column, right: Column) -> tuple[ColumnType | None, str]:
    """The type two columns are compared in (``pair_type``), or None and why they cannot
    convert (text to follow "cannot be converted", empty when their types say it all)."""
    for interval, other in ((left, right), (right, left)):
        if is_interval(interval) and not is_interval(other) and other.type in _NO_INTERVAL:
            article = "an" if other.type[0] in "aeiou" else "a"
            return None, (": an interval takes an interval or text (such as '1 day 02:00:00'), "
                          f"not {article} {other.type}")
    return pair_type(left.type, right.type), ""


def _by_name(columns: list[Column]) -> dict[str, Column]:
    return {c.name.casefold(): c for c in columns}


def _find(columns: dict[str, Column], name: str, index: int, key: str) -> Column:
    column = columns.get(name.casefold())
    if column is None:
        hint = names_hint(name, [c.name for c in columns.values()])
        raise ConfigError(f"entity {index} has no column '{name}' ({hint})", key=key)
    return column


def _targets(direction: Direction) -> tuple[str, ...]:
    if direction == Direction.LEFT_TO_RIGHT:
        return ("right",)
    if direction == Direction.RIGHT_TO_LEFT:
        return ("left",)
    return SIDES


def modified_column(conn: Connection, index: int, columns: list[Column]) -> str | None:
    """Entity ``index``'s modified-on column among its ``columns`` (its ``modified_column``,
    else its ``modifiedon`` column, else None); ConfigError if ``modified_column`` names none."""
    return _modified(conn.entity(index).modified_column, _by_name(columns), index)


def _modified(configured: str | None, columns: dict[str, Column], index: int) -> str | None:
    if configured:
        return _find(columns, configured, index, f"entity{index}.modified_column").name
    column = columns.get("modifiedon")
    return column.name if column else None


def build_mapping(conn: Connection, left: list[Column], right: list[Column],
                  left_keys: list[str], right_keys: list[str]) -> MappingPlan:
    """Check the mapping against both schemas and resolve auto pairs and the match key."""
    lcols, rcols = _by_name(left), _by_name(right)
    mapping = conn.mapping
    targets = _targets(conn.direction)
    pairs: list[Pair] = []
    used_left: set[str] = set()
    used_right: set[str] = set()
    for i, cp in enumerate(mapping.columns):
        key = f"mapping.columns[{i}]"
        lc = _find(lcols, cp.left, 1, f"{key}.left")
        rc = _find(rcols, cp.right, 2, f"{key}.right")
        kind, why = pair_kind(lc, rc)
        if kind is None:
            raise ConfigError(f"'{lc.name}' ({shown_type(lc)}) and '{rc.name}' "
                              f"({shown_type(rc)}) cannot be converted into each other{why}",
                              key=key)
        pairs.append(Pair(lc, rc, kind, manual=True))
        used_left.add(lc.name.casefold())
        used_right.add(rc.name.casefold())
    excluded = _excluded(conn, lcols, rcols, used_left | used_right, left_keys)
    warnings: list[str] = []
    if mapping.auto:
        for name, lc in lcols.items():
            found = rcols.get(name)
            if found is None or name in used_left or name in used_right or name in excluded:
                continue
            rc = found
            kind, why = pair_kind(lc, rc)
            if kind is None:
                warnings.append(f"auto mapping skips '{lc.name}': {shown_type(lc)} and "
                                f"{shown_type(rc)} cannot be converted{why}")
                continue
            pairs.append(Pair(lc, rc, kind))
    match = _match_pairs(conn, pairs, lcols, rcols, left_keys)
    match_names = {(p.left.name, p.right.name) for p in match}
    values = [p for p in pairs if (p.left.name, p.right.name) not in match_names]
    two_way: list[Pair] = []
    extras: list[Pair] = []
    skipped: list[str] = []
    for p in values:
        ro = [side for side in SIDES if p.column(side).read_only]
        # bidirectional: a pair read-only on one side goes one way, from that side to the other
        carried = [side for side in targets if side not in ro] if len(ro) < len(SIDES) else []
        if p.manual and not carried:
            side = next(s for s in ro if s in targets)
            column = p.column(side)
            filled = f" (the service fills it from {column.filled_from})" \
                if column.filled_from else ""
            raise ConfigError(f"'{column.name}' is read-only in entity "
                              f"{1 if side == 'left' else 2}{filled} and cannot be written",
                              key=f"mapping.columns[{_index(mapping.columns, p)}]")
        if not ro:
            two_way.append(p)
        elif carried:
            extras.append(p)
        else:
            skipped.append(p.label)
    warnings.extend(_text_into_typed(two_way + extras, targets))
    plan = MappingPlan(
        pairs=two_way + extras, two_way=len(two_way), match=match,
        keys={"left": [_find(lcols, k, 1, "entity1.primary_key") for k in left_keys],
              "right": [_find(rcols, k, 2, "entity2.primary_key") for k in right_keys]},
        modified={"left": _modified(conn.entity1.modified_column, lcols, 1),
                  "right": _modified(conn.entity2.modified_column, rcols, 2)},
        direction=conn.direction, skipped=skipped, warnings=warnings,
    )
    if conn.conflict_resolution == ConflictResolution.LATEST_WINS and \
            conn.direction == Direction.BIDIRECTIONAL:
        for index, side in ((1, "left"), (2, "right")):
            if plan.modified[side] is None:
                warnings.append(f"conflict_resolution = latest_wins, but entity {index} has no "
                                f"modifiedon column: set entity{index}.modified_column (until "
                                "then every conflict goes to the left)")
    if not plan.pairs:
        raise ConfigError("no columns are mapped besides the match key (turn on auto mapping or "
                          "add [[mapping.columns]])", key="mapping.columns")
    plan.signature = signature(conn, [*plan.pairs, *match], match)
    plan.legacy = signature(conn, pairs, match, legacy=True)
    plan.one_way = {(p.left.name, p.right.name) for p in values
                    if p.left.read_only != p.right.read_only}
    return plan


_TEXT = (ColumnType.STRING, ColumnType.OTHER)


def _text_into_typed(pairs: list[Pair], targets: tuple[str, ...]) -> list[str]:
    """A warning for each text column carried into a typed one: text that is not such a value
    (a name into a decimal) fails its row at write time, which the types alone cannot rule out.
    Not into a column that keeps such a text as it is (``Column.keeps_text``)."""
    out = []
    for p in pairs:
        for side in targets:
            source, target = p.column("right" if side == "left" else "left"), p.column(side)
            if target.read_only:  # (a bidirectional run's one-way pair, never written here)
                continue
            if source.type in _TEXT and not target.keeps_text and \
                    target.type not in (*_TEXT, ColumnType.BINARY):
                article = "an" if target.type[0] in "aeiou" else "a"  # (an integer)
                out.append(f"'{source.name}' (text) goes into '{target.name}' ({target.type}): "
                           f"a value that is not {article} {target.type} fails its row")
    return out


def _excluded(conn: Connection, lcols: dict[str, Column], rcols: dict[str, Column],
              mapped: set[str], left_keys: list[str]) -> set[str]:
    """The names ``mapping.exclude`` leaves out of auto mapping (case-folded); ConfigError for
    one that is a column of neither side, one a manual pair maps, or one in the match key."""
    mk = conn.mapping.match_key
    keys = {mk.left.casefold(), mk.right.casefold()} if mk is not None else \
        {k.casefold() for k in left_keys}
    out: set[str] = set()
    for name in conn.mapping.exclude:
        folded = name.casefold()
        if folded not in lcols and folded not in rcols:
            names = ", ".join(sorted({c.name for c in [*lcols.values(), *rcols.values()]})) or "none"
            raise ConfigError(f"'{name}' is a column of neither entity (their columns: {names})",
                              key="mapping.exclude")
        if folded in mapped:
            raise ConfigError(f"'{name}' is both mapped ([[mapping.columns]]) and excluded: "
                              "remove it from one of them", key="mapping.exclude")
        if folded in keys:
            raise ConfigError(f"'{name}' is in the match key, which cannot be excluded",
                              key="mapping.exclude")
        out.add(folded)
    return out


def _index(columns: list[ColumnPair], pair: Pair) -> int:
    """The position of a manual pair in mapping.columns."""
    for i, cp in enumerate(columns):
        if cp.left.casefold() == pair.left.name.casefold():
            return i
    return 0


def _match_pairs(conn: Connection, pairs: list[Pair], lcols: dict[str, Column],
                 rcols: dict[str, Column], left_keys: list[str]) -> list[Pair]:
    mk = conn.mapping.match_key
    if mk is not None:
        lc = _find(lcols, mk.left, 1, "mapping.match_key.left")
        rc = _find(rcols, mk.right, 2, "mapping.match_key.right")
        kind, why = pair_kind(lc, rc)
        if kind is None:
            raise ConfigError(f"'{lc.name}' ({shown_type(lc)}) and '{rc.name}' "
                              f"({shown_type(rc)}) cannot be compared{why}",
                              key="mapping.match_key")
        return [Pair(lc, rc, kind, manual=True)]
    if not left_keys:
        raise ConfigError("entity 1 has no primary key; set entity1.primary_key or "
                          "mapping.match_key", key="mapping.match_key")
    out = []
    for name in left_keys:
        pair = next((p for p in pairs if p.left.name.casefold() == name.casefold()), None)
        if pair is None:
            raise ConfigError(f"entity 1's key '{name}' is not mapped to a column of entity 2; "
                              "map it or set mapping.match_key", key="mapping.match_key")
        out.append(pair)
    return out


def _location(provider: str, connection_string: str) -> str:
    """Where an entity lives, without host and port (the emulator's port changes per start)."""
    for part in connection_string.split(";"):
        name, _, value = part.partition("=")
        if name.strip().casefold() in ("url", "serviceuri", "service uri"):
            return urlsplit(value.strip()).path
    if "://" in connection_string:
        return urlsplit(connection_string).path
    return connection_string


def signature(conn: Connection, pairs: list[Pair], match: list[Pair], *,
              legacy: bool = False) -> str:
    """What the state was synced under: the pairs carried, selects, match key and providers.
    ``legacy``: as states synced before the pairs were ``carried`` hold it, under "pairs" (every
    pair mapped, those skipped as read-only too)."""
    data = {
        "pairs" if legacy else "carried": sorted([p.left.name, p.right.name] for p in pairs),
        "match": [[p.left.name, p.right.name] for p in match],
        "entities": [[e.provider, _location(e.provider, e.connection_string), e.select.strip()]
                     for e in (conn.entity1, conn.entity2)],
    }
    return json.dumps(data, sort_keys=True, separators=(",", ":"))


def _read_signature(text: str | None) -> dict[str, Any] | None:
    """A stored signature's parts, or None when it cannot be read (not one of ``signature``'s)."""
    try:
        data = json.loads(text or "")
    except ValueError:
        return None
    if isinstance(data, dict) and "carried" in data:  # (the pairs, as ``changes`` reads them)
        data["pairs"] = data.pop("carried")
    parts = ("pairs", "match", "entities")
    if not isinstance(data, dict) or not all(isinstance(data.get(p), list) for p in parts):
        return None
    return data


def compared(stored: str | None, plan: MappingPlan) -> str:
    """The plan's signature as compared with ``stored``: a state synced before the signature
    named the pairs carried holds every pair mapped, those skipped as read-only too, and is
    compared with ``MappingPlan.legacy`` (it still matches where nothing else changed);
    ``stored`` itself where the two differ in one-way pairs no stored hash needs
    (``_one_way_apart``)."""
    try:
        data = json.loads(stored or "")
    except ValueError:
        return plan.signature
    if isinstance(data, dict) and "pairs" in data:
        return plan.legacy
    return stored if stored is not None and _one_way_apart(stored, plan) else plan.signature


def _one_way_apart(stored: str, plan: MappingPlan) -> bool:
    """Whether ``stored`` differs from the plan's signature in one-way pairs alone that no
    stored hash needs: a switch of direction carries them or not (a bidirectional run never
    compares them; a one-way run that no longer carries one has its two-way hash as before)."""
    old, new = _read_signature(stored), _read_signature(plan.signature)
    if old is None or new is None or [old[k] for k in ("match", "entities")] != \
            [new[k] for k in ("match", "entities")]:
        return False
    before, after = ({tuple(p) for p in sig["pairs"]} for sig in (old, new))
    if not (before ^ after) <= plan.one_way:
        return False
    return not (after - before) or plan.direction == Direction.BIDIRECTIONAL


def _table(provider: str, select: str) -> str | None:
    """The table a SQL select reads (None for OData, whose entity set is in its URL, and for a
    select that names none)."""
    if provider == "odata":
        return None
    try:
        info = parse_select(select)
    except SelectError:
        return None
    return ".".join(name.text.casefold() for name in info.table) or None


def _place(entity: list[Any]) -> tuple[str, str, str | None]:
    """Where a signature's entity (provider, location, select) reads: provider, location, table."""
    provider, location, select = (str(part) for part in [*entity, "", "", ""][:3])
    return provider, location, _table(provider, select)


def same_match(stored: str | None, current: str) -> bool:
    """Whether two signatures match items by the same columns of the same tables or entity
    sets: the match keys a state holds then still name its pairs."""
    old, new = _read_signature(stored), _read_signature(current)
    if old is None or new is None:
        return False
    return old["match"] == new["match"] and \
        [_place(e) for e in old["entities"]] == [_place(e) for e in new["entities"]]


def _pair_label(pair: list[str]) -> str:
    """A signature's ``[left, right]`` as ``Pair.label`` says it."""
    left, right = pair
    return left if left == right else f"{left} → {right}"


def changes(stored: str | None, current: str) -> list[str]:
    """What changed between the settings a state was synced under and these, in words: the
    match key, an entity's place or select, the pairs no longer and newly mapped (none when
    the stored signature cannot be read)."""
    old, new = _read_signature(stored), _read_signature(current)
    if old is None or new is None:
        return []
    out = []
    if old["match"] != new["match"]:
        out.append("the match key (" + ", ".join(map(_pair_label, old["match"])) + " before, "
                   + ", ".join(map(_pair_label, new["match"])) + " now)")
    for index, (was, now) in enumerate(zip(old["entities"], new["entities"], strict=False), 1):
        if was[:2] != now[:2]:
            out.append(f"entity {index}'s provider or connection string")
        elif _place(was) != _place(now):
            out.append(f"entity{index}.select, another table")
        elif was[2:] != now[2:]:
            out.append(f"entity{index}.select")
    before = {tuple(p) for p in old["pairs"]}
    after = {tuple(p) for p in new["pairs"]}
    for text, pairs in (("no longer mapped", before - after), ("newly mapped", after - before)):
        if pairs:
            out.append(f"{text}: " + ", ".join(_pair_label(list(p)) for p in sorted(pairs)))
    return out
