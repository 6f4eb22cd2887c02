"""The connection model: two data entities, a mapping, a direction and a conflict policy."""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, field
from enum import StrEnum
from pathlib import Path
from typing import Any


class Direction(StrEnum):
    """Which way a run carries changes."""

    LEFT_TO_RIGHT = "left_to_right"
    RIGHT_TO_LEFT = "right_to_left"
    BIDIRECTIONAL = "bidirectional"


class ConflictResolution(StrEnum):
    """How an item changed on both sides since the last run is settled."""

    LEFT_WINS = "left_wins"
    RIGHT_WINS = "right_wins"
    LATEST_WINS = "latest_wins"
    SKIP = "skip"


class Deletions(StrEnum):
    """Whether an item gone from one side is deleted on the other."""

    PROPAGATE = "propagate"
    IGNORE = "ignore"


DIRECTION_LABELS = {
    Direction.LEFT_TO_RIGHT: "Left to Right",
    Direction.RIGHT_TO_LEFT: "Right to Left",
    Direction.BIDIRECTIONAL: "Bi-directional",
}


@dataclass
class Entity:
    """One side of a connection ("Data Entity 1" is the left, "Data Entity 2" the right)."""

    title: str = ""
    provider: str = ""
    connection_string: str = ""
    select: str = ""
    primary_key: list[str] = field(default_factory=list)
    password_env: str | None = None
    modified_column: str | None = None


@dataclass
class ColumnPair:
    """A left column mapped to a right column."""

    left: str
    right: str


@dataclass
class Mapping:
    """Which columns are carried across; identical names map themselves when ``auto`` is on."""

    auto: bool = True
    columns: list[ColumnPair] = field(default_factory=list)
    match_key: ColumnPair | None = None
    exclude: list[str] = field(default_factory=list)


@dataclass
class Connection:
    """A connection as stored in one TOML file."""

    title: str
    entity1: Entity = field(default_factory=Entity)
    entity2: Entity = field(default_factory=Entity)
    direction: Direction = Direction.LEFT_TO_RIGHT
    conflict_resolution: ConflictResolution = ConflictResolution.LEFT_WINS
    deletions: Deletions = Deletions.PROPAGATE
    max_delete_ratio: float = 0.2
    mapping: Mapping = field(default_factory=Mapping)
    path: Path | None = field(default=None, compare=False)
    document: Any = field(default=None, compare=False, repr=False)

    @property
    def slug(self) -> str:
        """The file-name slug of this connection (from its file name once saved)."""
        if self.path is not None:
            return self.path.stem
        return slugify(self.title)

    def entity(self, index: int) -> Entity:
        """Entity 1 (left) or 2 (right)."""
        if index == 1:
            return self.entity1
        if index == 2:
            return self.entity2
        raise ValueError(f"entity must be 1 or 2, not {index}")


def slugify(title: str) -> str:
    """A file-name slug: lower-case ASCII words joined by '-'."""
    text = unicodedata.normalize("NFKD", title).encode("ascii", "ignore").decode()
    text = re.sub(r"[^a-zA-Z0-9]+", "-", text).strip("-").lower()
    return text or "connection"
