"""One side of a run: turns provider records into normalised items and items into Changes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

from l2tui.providers.base import ChangeOp, Column, ColumnType, Record
from l2tui.sync.mapping import MappingPlan
from l2tui.sync.normalize import denormalize, digest, normalize


def key_json(values: list[Any]) -> str:
    """A provider key as stored in the state (JSON list, in key-column order)."""
    if len(values) == 1 and type(values[0]) is str and values[0].isascii() and \
            '"' not in values[0] and "\\" not in values[0] and values[0].isprintable():
        return f'["{values[0]}"]'
    return json.dumps(values, default=str, separators=(",", ":"))


@dataclass
class Item:
    """One record of one side, normalised: match key, provider key, values, hash, modified-on."""

    mkey: str | None
    kid: str
    values: list[Any]
    hash: str
    modified: str | None = None


class SideInfo:
    """What a run knows about one side's columns."""

    def __init__(self, name: str, plan: MappingPlan) -> None:
        self.name = name
        self.index = 1 if name == "left" else 2
        self.plan = plan
        self.columns: list[Column] = [p.column(name) for p in plan.pairs]
        self.kinds = [p.kind for p in plan.pairs]
        self.match: list[tuple[Column, ColumnType]] = [(p.column(name), p.kind) for p in plan.match]
        self.keys: list[Column] = plan.keys[name]
        self.modified = plan.modified[name]
        self.two_way = plan.two_way
        self.extras = plan.has_extras
        self.writable = plan.writable(name)
        self._read = [(c.name, k) for c, k in zip(self.columns, self.kinds, strict=True)]
        self._write = [(i, self.columns[i].name, self.columns[i].type) for i in self.writable]

    # -- reading -----------------------------------------------------------------------

    def item(self, record: Record) -> Item:
        """Normalise one record."""
        values = [normalize(record.get(n), k) for n, k in self._read]
        match = [normalize(record.get(c.name), k) for c, k in self.match]
        mkey = None if any(v is None for v in match) else key_json(match)
        modified = None
        if self.modified:
            raw = normalize(record.get(self.modified), ColumnType.DATETIME)
            modified = raw if isinstance(raw, str) else None
        return Item(mkey, key_json([record.get(c.name) for c in self.keys]), values,
                    self.hash(values), modified)

    def hash(self, values: list[Any]) -> str:
        """Two-way part, then (if any) the one-way extras, separated by '.'."""
        base = digest(values[: self.two_way])
        return f"{base}.{digest(values[self.two_way:])}" if self.extras else base

    def same(self, a: str | None, b: str | None) -> bool:
        """Whether two hashes mean equal values for this run's direction."""
        if a is None or b is None:
            return False
        if self.extras:
            return a == b
        return a.split(".", 1)[0] == b.split(".", 1)[0]

    def named(self, values: list[Any] | None) -> dict[str, Any] | None:
        """Values by this side's column names (for conflict records)."""
        if values is None:
            return None
        return {c.name: v for c, v in zip(self.columns, values, strict=True)}

    # -- writing -----------------------------------------------------------------------

    def key_dict(self, kid: str) -> dict[str, Any]:
        """A stored provider key back as column → value."""
        return dict(zip((c.name for c in self.keys), json.loads(kid), strict=False))

    def change_values(self, values: list[Any], only: list[int] | None = None) -> dict[str, Any]:
        """The writable mapped columns of this side, as the provider takes them."""
        if only is None:
            return {n: denormalize(values[i], t) for i, n, t in self._write}
        return {n: denormalize(values[i], t) for i, n, t in self._write if i in only}

    def create_key(self, mkey: str, values: list[Any]) -> tuple[dict[str, Any], dict[str, Any]]:
        """The key of a new item (from the match key where it is a key column) and extra values."""
        match = json.loads(mkey)
        by_match = {c.name: denormalize(v, c.type) for (c, _), v in zip(self.match, match,
                                                                          strict=True)}
        key: dict[str, Any] = {}
        for col in self.keys:
            if col.name in by_match:
                key[col.name] = by_match[col.name]
            else:
                index = next((i for i, c in enumerate(self.columns) if c.name == col.name), None)
                if index is not None:
                    key[col.name] = denormalize(values[index], col.type)
        extra = {n: v for n, v in by_match.items() if n not in key}
        return key, extra

    def kid_of(self, key: dict[str, Any]) -> str:
        """A key dict as stored in the state."""
        return key_json([key.get(c.name) for c in self.keys])

    def op_label(self, op: ChangeOp) -> str:
        """For counting: 'created' | 'updated' | 'deleted'."""
        return {ChangeOp.CREATE: "created", ChangeOp.UPDATE: "updated",
                ChangeOp.DELETE: "deleted"}[op]
