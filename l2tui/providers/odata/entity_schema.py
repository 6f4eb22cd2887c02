"""What a provider knows of one entity set: its columns, key and capabilities (loaded by ``schema``)."""

from __future__ import annotations

from dataclasses import dataclass, field

from l2tui.providers.base import Column


@dataclass
class EntitySchema:
    """What describe() and write() need to know about one entity set."""

    entity_set: str
    columns: list[Column]
    change_tracking: bool = False
    dataverse: bool = False
    logical_name: str | None = None
    navigation: dict[str, str] = field(default_factory=dict)  # "_x_value" → navigation property
    # a read-only `<x>name` column (a choice's label, a lookup's related name) → the property
    # whose FormattedValue annotation it is read from ("statecode", "_primarycontactid_value")
    labels: dict[str, str] = field(default_factory=dict)
    _index: tuple[list[Column], int, dict[str, Column]] | None = field(
        default=None, init=False, repr=False, compare=False)

    @property
    def key(self) -> list[str]:
        """Primary-key column names."""
        return [c.name for c in self.columns if c.key]

    def column(self, name: str) -> Column | None:
        """The column of that name, if any (a dict lookup, rebuilt when ``columns`` changes)."""
        columns = self.columns
        index = self._index
        if index is None or index[0] is not columns or index[1] != len(columns):
            by_name: dict[str, Column] = {}
            for c in columns:
                by_name.setdefault(c.name, c)  # the first of a name, as a linear search finds
            self._index = index = (columns, len(columns), by_name)
        return index[2].get(name)
