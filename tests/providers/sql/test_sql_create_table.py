"""Tables made by create-table hold what the other side's columns hold."""

from __future__ import annotations

from l2tui.providers.base import Change, ChangeOp, Column, ColumnType
from tests.providers.sql.conftest import Database

C = ChangeOp.CREATE


def _keys(db: Database, table: str) -> list[str]:
    return sorted(str(r[0]) for r in db.rows(f"SELECT code FROM {db.q(table)}"))


def test_a_made_table_holds_emoji_and_cjk_in_a_latin1_mysql_database(mysql_db: Database) -> None:
    name = mysql_db.rows("SELECT DATABASE()")[0][0]
    mysql_db.run(f"ALTER DATABASE `{name}` CHARACTER SET latin1 COLLATE latin1_swedish_ci")
    provider = mysql_db.open("items")
    provider.create_table([Column("code", ColumnType.STRING, key=True, nullable=False),
                           Column("label", ColumnType.STRING, max_length=100),
                           Column("notes", ColumnType.STRING)])
    values = {"label": "emoji 😀 漢字", "notes": "日本語 🎉"}
    outcomes = provider.write([Change(C, {"code": "ü😀"}, values)])
    assert all(o.ok for o in outcomes), outcomes
    assert mysql_db.rows("SELECT code, label, notes FROM items") == [("ü😀", *values.values())]


def test_text_keys_that_differ_by_case_or_trailing_blanks_are_other_rows(db: Database) -> None:
    provider = db.open("items")
    provider.create_table([Column("code", ColumnType.STRING, key=True, nullable=False),
                           Column("label", ColumnType.STRING)])
    keys = ["abc", "ABC", "x", "x "]
    outcomes = provider.write([Change(C, {"code": k}, {"label": f"<{k}>"}) for k in keys])
    assert all(o.ok for o in outcomes), outcomes
    assert _keys(db, "items") == sorted(keys)
