"""The connection model: two data entities, a mapping, a direction and a conflict policy."""

from __future__ import annotations

import hashlib
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
    folder: Path | None = field(default=None, compare=False, repr=False)  # the store's, if read by it

    @property
    def slug(self) -> str:
        """The name its sync state, run logs, lock and keyring entries go by (``file_slug``)."""
        if self.path is not None:
            return file_slug(self.path, self.folder)
        return slugify(self.title)

    @property
    def argument(self) -> str:
        """How a command names it: its slug in the connection folder, else its file's path."""
        if self.path is None or in_folder(self.path, self.folder):
            return self.slug
        return str(self.path)

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


def in_folder(path: Path, folder: Path | None) -> bool:
    """Whether a connection file lies in the connection folder (True when none is known)."""
    return folder is None or path.resolve().parent == folder.resolve()


def file_slug(path: Path, folder: Path | None) -> str:
    """A file's stem in the connection folder; elsewhere its stem and a digest of its absolute
    path, so that two files of one name never share a state, logs, lock or keyring entry. A
    link is the file it links to: one file, one state and one lock, however it is named."""
    real = path.resolve()
    if in_folder(real, folder):
        return real.stem
    digest = hashlib.sha256(str(real).encode()).hexdigest()[:8]
    return f"{real.stem}-{digest}"
