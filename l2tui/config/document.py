"""Turn a Connection into a TOML document, updating the user's own document in place.

Only keys whose values changed are assigned, so a user's comments, order and formatting survive.
"""

from __future__ import annotations

from typing import Any

import tomlkit
from tomlkit.items import AoT, Table

from l2tui.config.model import ColumnPair, Connection, Entity

_HEADER = (
    "l2tui connection: two data entities kept in sync.",
    "direction: left_to_right | right_to_left | bidirectional",
    "conflict_resolution: left_wins | right_wins | latest_wins | skip",
    "Passwords are never stored here: keyring, password_env, or a prompt.",
)


def to_document(conn: Connection, doc: tomlkit.TOMLDocument | None = None) -> tomlkit.TOMLDocument:
    """The connection as a TOML document (the given one updated in place, or a new one)."""
    if doc is None:
        doc = tomlkit.document()
        for line in _HEADER:
            doc.add(tomlkit.comment(line))
    _set(doc, "title", conn.title)
    _set(doc, "direction", conn.direction.value)
    _set(doc, "conflict_resolution", conn.conflict_resolution.value)
    _set(doc, "deletions", conn.deletions.value)
    _set(doc, "max_delete_ratio", conn.max_delete_ratio)
    for index, comment in ((1, "Data Entity 1 (left)"), (2, "Data Entity 2 (right)")):
        key = f"entity{index}"
        if key not in doc:
            table = tomlkit.table()
            table.comment(comment)
            doc[key] = table
        _entity(doc[key], conn.entity(index))  # type: ignore[arg-type]
    if "mapping" not in doc:
        doc["mapping"] = tomlkit.table()
    mapping = doc["mapping"]
    _set(mapping, "auto", conn.mapping.auto)  # type: ignore[arg-type]
    _set_pair(mapping, "match_key", conn.mapping.match_key)  # type: ignore[arg-type]
    _set(mapping, "exclude", list(conn.mapping.exclude) or None)
    current = [ColumnPair(str(c["left"]), str(c["right"])) for c in mapping.get("columns", [])]  # type: ignore[union-attr]
    if current != conn.mapping.columns:
        if conn.mapping.columns:
            aot = AoT([])
            for pair in conn.mapping.columns:
                item = tomlkit.table()
                item["left"] = pair.left
                item["right"] = pair.right
                aot.append(item)
            mapping["columns"] = aot  # type: ignore[index]
        elif "columns" in mapping:  # type: ignore[operator]
            del mapping["columns"]  # type: ignore[union-attr]
    return doc


def render(conn: Connection) -> str:
    """The file text of a connection (its own document updated, or a fresh one)."""
    return tomlkit.dumps(to_document(conn, conn.document))


def _entity(table: Table, entity: Entity) -> None:
    _set(table, "title", entity.title)
    _set(table, "provider", entity.provider)
    _set(table, "connection_string", entity.connection_string)
    _set(table, "select", entity.select)
    _set(table, "primary_key", list(entity.primary_key))
    _set(table, "password_env", entity.password_env)
    _set(table, "modified_column", entity.modified_column)


def _set(table: Any, key: str, value: Any) -> None:
    """Assign only when the value differs; None removes the key."""
    if value is None:
        if key in table:
            del table[key]
        return
    if key in table:
        old = table[key]
        old_plain = old.unwrap() if hasattr(old, "unwrap") else old
        if old_plain == value and type(old_plain) is type(value):
            return
    table[key] = value


def _set_pair(table: Any, key: str, pair: ColumnPair | None) -> None:
    if pair is None:
        _set(table, key, None)
        return
    inline = tomlkit.inline_table()
    inline.update({"left": pair.left, "right": pair.right})
    existing = table.get(key)
    if existing is not None and existing.unwrap() == {"left": pair.left, "right": pair.right}:
        return
    table[key] = inline
