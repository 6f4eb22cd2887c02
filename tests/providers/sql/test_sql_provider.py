"""The SQL provider against real databases: SQLite files, PostgreSQL, MariaDB when given."""

from __future__ import annotations

import contextlib
import datetime as dt
import sqlite3
from collections.abc import Callable, Iterable
from decimal import Decimal

import pytest
import sqlalchemy as sa

from l2tui.errors import ConfigError, ConnectError
from l2tui.providers.base import Change, ChangeOp, Column, ColumnType, Page, RowBatch
from tests.providers.sql.conftest import Database

C, U, D = ChangeOp.CREATE, ChangeOp.UPDATE, ChangeOp.DELETE


def create(i: int, **values: object) -> Change:
    return Change(C, {"id": i}, {"name": f"n{i}", **values})


def test_describe_reflects_types_nullability_and_key(db: Database,
                                                    make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    columns = {c.name: c for c in db.open("accounts").describe()}
    assert columns["id"].key and not columns["id"].nullable
    assert columns["id"].type == ColumnType.INTEGER
    assert columns["name"].type == ColumnType.STRING and columns["name"].max_length == 200
    assert not columns["name"].nullable and columns["city"].nullable
    assert columns["revenue"].type == ColumnType.DECIMAL


def test_a_decimal_column_is_described_as_kept_in_doubles_on_sqlite_alone(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    """SQLite's NUMERIC affinity stores a fraction as REAL: a run compares what a double holds."""
    make_accounts()
    columns = {c.name: c for c in db.open("accounts").describe()}
    assert columns["revenue"].stored_as_double == (db.provider == "sqlite")
    assert not columns["id"].stored_as_double and not columns["name"].stored_as_double


def test_a_datetime_column_is_described_with_the_digits_of_a_second_it_holds(
        db: Database) -> None:
    """SQLite keeps the text it is given; a server type its precision, or its own default."""
    types = {"sqlite": ("DATETIME", "DATETIME", "TIMESTAMP"),
             "postgresql": ("TIMESTAMP", "TIMESTAMP(0)", "TIMESTAMPTZ(3)"),
             "mysql": ("DATETIME(6)", "DATETIME", "DATETIME(3)")}[db.provider]
    db.run("CREATE TABLE moments (id INTEGER PRIMARY KEY, a {}, b {}, c {})".format(*types))
    columns = {c.name: c.fraction_digits for c in db.open("moments").describe()}
    expected = {"sqlite": (6, 6, 6), "postgresql": (6, 0, 3), "mysql": (6, 0, 3)}[db.provider]
    assert (columns["a"], columns["b"], columns["c"]) == expected
    assert columns["id"] == 0


def test_a_query_datetime_column_is_described_with_the_digits_of_a_second_postgresql_says(
        pg_db: Database) -> None:
    pg_db.run("CREATE TABLE moments (id INTEGER PRIMARY KEY, a TIMESTAMP, b TIMESTAMP(0), "
              "c TIMESTAMPTZ(3))")
    query = pg_db.open("SELECT m.id, m.a, m.b, m.c FROM moments m JOIN moments n ON n.id = m.id")
    columns = {c.name: c.fraction_digits for c in query.describe()}
    assert (columns["a"], columns["b"], columns["c"], columns["id"]) == (6, 0, 3, 0)


def test_describe_reflects_the_table_alone_not_the_tables_its_foreign_keys_name(
        db: Database) -> None:
    """Each is a dozen catalog queries on a server, for nothing a run writes."""
    db.run("CREATE TABLE parent_a (id INTEGER PRIMARY KEY, x VARCHAR(10))",
           "CREATE TABLE parent_b (id INTEGER PRIMARY KEY, a INTEGER REFERENCES parent_a(id))",
           "CREATE TABLE child (id INTEGER PRIMARY KEY, a INTEGER REFERENCES parent_a(id), "
           "b INTEGER REFERENCES parent_b(id))")
    provider = db.open("child")
    asked: list[str] = []
    sa.event.listen(provider.engine(), "before_cursor_execute",
                    lambda conn, cursor, sql, params, *rest: asked.append(f"{sql} {params}"))
    assert [c.name for c in provider.describe()] == ["id", "a", "b"]
    provider.close()
    named = [text for text in asked if "parent_a" in text or "parent_b" in text]
    assert asked and not named, named


def test_a_select_keeps_only_its_columns_in_its_order(db: Database,
                                                      make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    provider = db.open("SELECT city, id FROM accounts WHERE id > 0")
    assert [c.name for c in provider.describe()] == ["city", "id"]
    assert provider.capabilities().can_write


def test_upserts_and_deletes_apply_in_batches(db: Database,
                                              make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    provider = db.open("accounts", batch_size=7)
    outcomes = provider.write([create(i, revenue=Decimal("1.50")) for i in range(25)])
    assert all(o.ok for o in outcomes) and len(outcomes) == 25
    again = provider.write([create(i, city="Bonn") for i in range(20, 30)]
                           + [Change(D, {"id": i}) for i in range(0, 10)])
    assert all(o.ok for o in again)
    rows = db.rows("SELECT id, city FROM accounts ORDER BY id")
    assert [r[0] for r in rows] == list(range(10, 30))
    assert rows[-1] == (29, "Bonn")


def test_an_update_sets_only_its_columns_and_never_nulls_the_others(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=3)
    outcomes = db.open("accounts").write([Change(U, {"id": 1}, {"city": "Köln"})])
    assert outcomes[0].ok
    assert db.rows("SELECT name, city, revenue FROM accounts WHERE id = 1") == [
        ("n1", "Köln", Decimal("1.00"))]


def test_writing_the_same_changes_twice_leaves_the_same_rows(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    provider = db.open("accounts")
    changes = [create(1, city="A"), Change(U, {"id": 1}, {"city": "B"}), create(2)]
    provider.write(changes)
    first = db.rows("SELECT * FROM accounts ORDER BY id")
    provider.write(changes)
    assert db.rows("SELECT * FROM accounts ORDER BY id") == first == [
        (1, "n1", "B", None), (2, "n2", None, None)]


def test_a_failed_batch_rolls_back_and_each_item_gets_its_own_outcome(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=2)
    before = db.rows("SELECT * FROM accounts ORDER BY id")
    provider = db.open("accounts")
    bad = Change(C, {"id": 7}, {"name": None})  # NOT NULL
    outcomes = provider.write([create(5), bad, Change(U, {"id": 0}, {"city": "x"}), create(6)])
    assert [o.ok for o in outcomes] == [True, False, True, True]
    assert outcomes[1].error and "\n" not in outcomes[1].error
    assert [r[0] for r in db.rows("SELECT id FROM accounts ORDER BY id")] == [0, 1, 5, 6]
    assert before[1] in db.rows("SELECT * FROM accounts ORDER BY id")


def test_a_batch_that_fails_leaves_the_table_as_it_was(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=3)
    provider = db.open("accounts")
    writer_changes = [Change(U, {"id": 0}, {"city": "changed"}), Change(C, {"id": 9}, {"name": None})]
    before = db.rows("SELECT * FROM accounts ORDER BY id")
    from l2tui.providers.sql.writer import Writer

    provider.describe()
    writer = Writer(provider, provider._write, provider._columns or [], 100)  # type: ignore[arg-type]
    with pytest.raises(sa.exc.IntegrityError):
        writer.run(writer_changes)
    assert db.rows("SELECT * FROM accounts ORDER BY id") == before


def test_unknown_columns_and_missing_keys_are_refused_per_item(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    outcomes = db.open("accounts").write([
        Change(C, {"id": 1}, {"name": "a", "colour": "red"}),
        Change(U, {}, {"name": "b"}),
        create(2),
    ])
    assert [o.ok for o in outcomes] == [False, False, True]
    assert "unknown column 'colour'" in outcomes[0].error
    assert "key column 'id'" in outcomes[1].error


def test_odd_identifiers_and_values_round_trip(db: Database) -> None:
    table, col = 'we"ird [t] `x`', "na me's \"q\""
    q = db.q
    db.run(f"CREATE TABLE {q(table)} ({q('k ey')} VARCHAR(40) PRIMARY KEY, {q(col)} VARCHAR(200))")
    provider = db.open('"' + table.replace('"', '""') + '"')
    values = ["it's \"quoted\"; DROP TABLE x; --", "line1\nline2\r\n\ttab", "Grüße, 日本語, emoji 🎉",
              "%s %(x)s :name ? \\ back"]
    outcomes = provider.write([Change(C, {"k ey": f"k{i}"}, {col: v}) for i, v in enumerate(values)])
    assert all(o.ok for o in outcomes), outcomes
    read = [r for page in provider.read() for r in page.records]
    assert sorted(read, key=lambda r: r["k ey"]) == [
        {"k ey": f"k{i}", col: v} for i, v in enumerate(values)]


def test_reads_come_in_pages_with_no_delta(db: Database,
                                           make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=25)
    stream = db.open("accounts", page_size=10).read(cursor="ignored")
    pages = [len(p.records) for p in stream]
    assert pages == [10, 10, 5]
    assert stream.cursor is None and stream.is_delta is False


def test_a_join_is_read_only_and_verify_says_so(db: Database,
                                                make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=2)
    make_accounts("other", rows=1)
    provider = db.open("SELECT a.id, o.name FROM accounts a JOIN other o ON a.id = o.id")
    caps = provider.capabilities()
    assert not caps.can_write and "joins" in caps.read_only_reason
    assert [c.name for c in provider.describe()] == ["id", "name"]
    assert [r for p in provider.read() for r in p.records] == [{"id": 0, "name": "n0"}]
    result = provider.verify()
    assert result.ok and "read-only because it joins tables" in result.message
    with pytest.raises(ConfigError, match="cannot write: read-only because it joins tables"):
        provider.write([create(1)])


def test_verify_names_version_database_table_and_writability(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    result = db.open("accounts").verify()
    assert result.ok, result.message
    product = {"sqlite": "SQLite 3.", "postgresql": "PostgreSQL ", "mysql": "M"}[db.provider]
    assert result.message.startswith(f"Connected to {product}")
    assert result.message.endswith("— accounts: 4 columns, writable")


def test_verify_warns_when_the_match_key_has_no_unique_index(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=2)
    provider = db.open("accounts", primary_key=["name"])
    result = provider.verify()
    assert result.ok and "no unique index" in result.warnings[0]
    outcomes = provider.write([Change(U, {"name": "n1"}, {"city": "Z"}),
                               Change(C, {"name": "new"}, {"id": 9})])
    assert all(o.ok for o in outcomes), outcomes
    assert db.rows("SELECT id, city FROM accounts WHERE name IN ('n1', 'new') ORDER BY id") == [
        (1, "Z"), (9, None)]


def _nopk(db: Database) -> None:
    """A table without a primary key whose id 2 is on two rows (and NULL on one)."""
    db.run("CREATE TABLE nopk (id INTEGER, name VARCHAR(20))",
           "INSERT INTO nopk VALUES (1, 'a'), (2, 'b'), (2, 'b-dup'), (NULL, 'n'), (NULL, 'm'), "
           "(3, 'c')")


@pytest.mark.parametrize("select", [
    "nopk", "SELECT id, name FROM nopk WHERE name <> 'a'",
    "SELECT n.id, n.name FROM nopk n JOIN nopk m ON m.name = n.name"])
def test_repeated_keys_are_the_key_values_rows_of_the_select_share_with_how_many(
        db: Database, select: str) -> None:
    _nopk(db)
    assert db.open(select, primary_key=["id"]).repeated_keys(["id"]) == [([{"id": 2}], 2)]


def test_repeated_keys_of_a_select_count_only_the_rows_it_reads(db: Database) -> None:
    _nopk(db)
    provider = db.open("SELECT id, name FROM nopk WHERE name <> 'b-dup'", primary_key=["id"])
    assert provider.repeated_keys(["id"]) == []


def test_repeated_keys_ask_nothing_of_a_table_whose_key_has_a_unique_index(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=3)
    db.run("CREATE UNIQUE INDEX accounts_name ON accounts (name)")
    provider = db.open("accounts")
    provider.describe()
    asked: list[str] = []
    sa.event.listen(provider.engine(), "before_cursor_execute",
                    lambda conn, cursor, sql, *rest: asked.append(sql))
    assert provider.repeated_keys(["id"]) == provider.repeated_keys(["name"]) == []
    assert provider.repeated_keys(["name", "city"]) == []
    assert asked == []
    assert provider.repeated_keys(["city"]) == [] and len(asked) == 1


def test_verify_names_the_key_values_rows_share(db: Database) -> None:
    _nopk(db)
    result = db.open("nopk", primary_key=["id"]).verify()
    assert result.ok and result.warnings == (
        "the match key (id) has no unique index: writes are slower, and rows that share a key "
        "are not synced from it; add a unique index",
        "1 value(s) of id appear more than once (2: 2 times): their rows are not synced from it")


def test_verify_names_five_of_the_key_values_rows_share_and_how_many_rows_hold_each(
        db: Database) -> None:
    db.run("CREATE TABLE nopk (id INTEGER, name VARCHAR(20))",
           "INSERT INTO nopk VALUES " + ", ".join(
               f"({i}, 'n')" for i in (1, 2, 2, 3, 3, 3, 4, 4, 5, 5, 6, 6, 7, 7, 8, 10, 10)))
    result = db.open("nopk", primary_key=["id"]).verify()
    assert result.ok and result.warnings[1] == (
        "7 value(s) of id appear more than once (2: 2 times; 3: 3 times; 4: 2 times; 5: 2 times; "
        "6: 2 times; …): their rows are not synced from it")


def _caseless(db: Database) -> None:
    """A table without a primary key whose code column ignores case (SQLite's NOCASE, an ICU
    collation on PostgreSQL, MariaDB's default): 'abc' and 'ABC' are one code to it."""
    column = {"sqlite": "VARCHAR(10) COLLATE NOCASE", "postgresql": "VARCHAR(10) COLLATE caseless",
              "mysql": "VARCHAR(10)"}[db.provider]
    if db.provider == "postgresql":
        db.run("CREATE COLLATION caseless (provider = icu, locale = 'und-u-ks-level2', "
               "deterministic = false)")
    db.run(f"CREATE TABLE codes (code {column}, name VARCHAR(10))",
           "INSERT INTO codes VALUES ('abc', 'a'), ('ABC', 'b'), ('x', 'c')")


def test_repeated_keys_under_a_collation_that_ignores_case_hold_every_value_of_their_rows(
        db: Database) -> None:
    _caseless(db)
    [(values, count)] = db.open("codes", primary_key=["code"]).repeated_keys(["code"])
    assert sorted(v["code"] for v in values) == ["ABC", "abc"] and count == 2


def test_verify_names_every_value_rows_share_under_the_key_columns_collation(
        db: Database) -> None:
    _caseless(db)
    result = db.open("codes", primary_key=["code"]).verify()
    assert result.ok and result.warnings[1] == (
        "1 value(s) of code appear more than once ('ABC' / 'abc': 2 times): their rows are not "
        "synced from it")


def test_verify_says_when_the_key_values_rows_share_could_not_be_looked_for(
        sqlite_db: Database) -> None:
    """A key column whose collation another program defined (Android's UNICODE): its rows read,
    but SQLite compares none of its values without the collation."""
    path = sqlite_db.engine.url.database
    assert path is not None
    with contextlib.closing(sqlite3.connect(path)) as conn:
        conn.create_collation("UNICODE", lambda a, b: (a > b) - (a < b))
        conn.execute("CREATE TABLE coded (code VARCHAR(10) COLLATE UNICODE, name VARCHAR(10))")
        conn.execute("INSERT INTO coded VALUES ('a', 'x'), ('a', 'y')")
        conn.commit()
    result = sqlite_db.open("coded", primary_key=["code"]).verify()
    assert result.ok and result.warnings[1] == (
        "could not look for values of code that rows share: no such collation sequence: UNICODE")


def test_a_missing_table_is_a_config_error(db: Database) -> None:
    with pytest.raises(ConfigError, match="table 'nothere' not found"):
        db.open("nothere").describe()


def _orders(db: Database) -> None:
    db.run("CREATE TABLE orders (id INTEGER PRIMARY KEY, customer VARCHAR(20))")


def test_a_mistyped_table_name_gets_the_nearest_table_named(db: Database) -> None:
    _orders(db)
    with pytest.raises(ConfigError) as raised:
        db.open("order").describe()
    assert raised.value.message.endswith("table 'order' not found (did you mean 'orders'?)")


def test_a_mistyped_column_of_the_select_gets_the_nearest_column_named(db: Database) -> None:
    _orders(db)
    with pytest.raises(ConfigError) as raised:
        db.open("SELECT id, custmer FROM orders").describe()
    assert raised.value.message.endswith(
        "column 'custmer' not found in table 'orders' (did you mean 'customer'?)")


def test_a_mistyped_primary_key_column_gets_the_nearest_column_named(db: Database) -> None:
    _orders(db)
    with pytest.raises(ConfigError) as raised:
        db.open("orders", primary_key=["customer_"]).describe()
    assert raised.value.message.endswith(
        "column 'customer_' not found in table 'orders' (did you mean 'customer'?)")


def test_a_table_name_near_none_of_the_tables_gets_the_tables_there_named(db: Database) -> None:
    _orders(db)
    with pytest.raises(ConfigError) as raised:
        db.open("nothere").describe()
    assert raised.value.message.endswith("table 'nothere' not found (tables there: orders)")


def test_create_table_from_the_other_sides_columns(db: Database) -> None:
    columns = [Column("accountid", ColumnType.GUID, key=True, nullable=False),
               Column("name", ColumnType.STRING, max_length=160),
               Column("revenue", ColumnType.DECIMAL), Column("active", ColumnType.BOOLEAN),
               Column("createdon", ColumnType.DATETIME), Column("photo", ColumnType.BINARY)]
    provider = db.open("accounts")
    shown = provider.create_table_ddl(columns)
    assert shown.startswith("CREATE TABLE accounts")
    assert provider.create_table(columns) == shown
    guid = "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    assert provider.write([Change(C, {"accountid": guid}, {"name": "x", "active": True})])[0].ok
    described = {c.name: c for c in provider.describe()}
    assert described["accountid"].key and described["revenue"].type == ColumnType.DECIMAL
    assert [r for p in provider.read() for r in p.records][0]["accountid"] == guid
    with pytest.raises(ConfigError, match="already exists"):
        provider.create_table(columns)


def test_a_failed_verify_of_a_missing_table_says_it_can_be_created(db: Database) -> None:
    provider = db.open("accounts")
    result = provider.verify()
    assert not result.ok and result.table_missing
    assert not provider.table_exists()
    provider.create_table([Column("id", ColumnType.INTEGER, key=True, nullable=False)])
    assert provider.table_exists() and db.open("accounts").verify().ok


def test_a_server_not_reached_is_no_missing_table(pg_db: Database) -> None:
    url = sa.make_url(pg_db.connection_string).set(port=1)
    provider = pg_db.open("accounts")
    provider.entity.connection_string = url.render_as_string(hide_password=False)
    assert not provider.verify().table_missing
    with pytest.raises(ConnectError):
        provider.table_exists()


def test_a_create_without_its_generated_key_returns_the_new_key(db: Database) -> None:
    auto = {"sqlite": "INTEGER PRIMARY KEY", "postgresql": "SERIAL PRIMARY KEY",
            "mysql": "INTEGER AUTO_INCREMENT PRIMARY KEY"}[db.provider]
    db.run(f"CREATE TABLE items (id {auto}, label VARCHAR(20))")
    outcomes = db.open("items").write([Change(C, {}, {"label": "a"}), Change(C, {}, {"label": "b"})])
    assert [o.key for o in outcomes] == [{"id": 1}, {"id": 2}]
    assert db.rows("SELECT id, label FROM items ORDER BY id") == [(1, "a"), (2, "b")]


def test_identity_columns_are_read_only_and_updates_by_identity_never_insert(
        pg_db: Database) -> None:
    pg_db.run("CREATE TABLE items (id INT GENERATED ALWAYS AS IDENTITY PRIMARY KEY, "
              "label TEXT, twice INT GENERATED ALWAYS AS (id * 2) STORED)")
    provider = pg_db.open("items")
    columns = {c.name: c for c in provider.describe()}
    assert columns["id"].read_only and columns["twice"].read_only
    assert not columns["label"].read_only
    made = provider.write([Change(C, {}, {"label": "a", "twice": 99})])
    assert made[0].key == {"id": 1}
    outcomes = provider.write([Change(U, {"id": 1}, {"label": "b"}),
                               Change(U, {"id": 5}, {"label": "c"})])
    assert [o.ok for o in outcomes] == [True, False]
    assert "no row with id=5" in outcomes[1].error
    assert pg_db.rows("SELECT id, label, twice FROM items") == [(1, "b", 2)]


def test_guids_are_lowercase_strings_and_timestamps_keep_their_zone(pg_db: Database) -> None:
    pg_db.run("CREATE TABLE g (id UUID PRIMARY KEY, at TIMESTAMPTZ, plain TIMESTAMP)",
              "INSERT INTO g VALUES ('6F9619FF-8B86-D011-B42D-00C04FC964FF', "
              "'2024-01-02 03:04:05+00', '2024-01-02 03:04:05')")
    record = next(iter(pg_db.open("g").read())).records[0]
    assert record["id"] == "6f9619ff-8b86-d011-b42d-00c04fc964ff"
    assert record["at"].tzinfo is not None and record["plain"].tzinfo is None


def test_a_wrong_password_is_a_one_line_verify_failure(pg_db: Database) -> None:
    url = sa.make_url(pg_db.connection_string).set(port=1)
    provider = pg_db.open("accounts")
    provider.entity.connection_string = url.render_as_string(hide_password=False)
    result = provider.verify()
    assert not result.ok
    assert result.message.startswith("cannot connect to PostgreSQL at 127.0.0.1:1")
    assert "(driver psycopg)" in result.message and "\n" not in result.message


def test_updates_with_different_column_sets_and_missing_rows_apply_in_one_batch(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=4)
    outcomes = db.open("accounts").write([
        Change(U, {"id": 0}, {"city": "A"}),
        Change(U, {"id": 1}, {"city": "B", "revenue": Decimal("2.50")}),
        Change(U, {"id": 2}, {"city": "C"}),
        Change(U, {"id": 9}, {"name": "new", "city": "N"}),  # not there: inserted
        Change(U, {"id": 3}, {"name": "n3b", "city": "D"}),
        Change(U, {"ID": 2}, {"City": "C2"}),  # same item again, spelled otherwise: applies last
    ])
    assert all(o.ok for o in outcomes), outcomes
    assert [o.key for o in outcomes][:2] == [{"id": 0}, {"id": 1}]
    assert db.rows("SELECT id, name, city, revenue FROM accounts ORDER BY id") == [
        (0, "n0", "A", Decimal("0.00")), (1, "n1", "B", Decimal("2.50")),
        (2, "n2", "C2", Decimal("2.00")), (3, "n3b", "D", Decimal("3.00")),
        (9, "new", "N", None)]


def test_values_of_mixed_python_types_in_one_column_are_written(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=1)
    provider = db.open("accounts")
    outcomes = provider.write([create(1, revenue=5), create(2, revenue=Decimal("1.25")),
                               create(3, revenue=2.5), create(4, revenue=None),
                               create(5, revenue="7.75")])
    assert all(o.ok for o in outcomes), outcomes
    again = provider.write([Change(U, {"id": 1}, {"revenue": Decimal("6")}),
                            Change(U, {"id": 2}, {"revenue": 3})])
    assert all(o.ok for o in again), again
    assert [r[1] for r in db.rows("SELECT id, revenue FROM accounts ORDER BY id")] == [
        Decimal("0.00"), Decimal("6.00"), Decimal("3.00"), Decimal("2.50"), None, Decimal("7.75")]


def test_one_bad_row_in_a_large_batch_fails_alone(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    changes = [create(i) for i in range(300)]
    changes[123] = Change(C, {"id": 123}, {"name": None})
    outcomes = db.open("accounts").write(changes)
    assert [i for i, o in enumerate(outcomes) if not o.ok] == [123]
    assert outcomes[123].change is changes[123] and outcomes[123].error
    assert db.rows("SELECT COUNT(*) FROM accounts") == [(299,)]


def test_a_composite_key_upserts_updates_and_deletes(db: Database) -> None:
    db.run("CREATE TABLE order_lines (region VARCHAR(10), num INTEGER, qty INTEGER, note VARCHAR(20), "
           "PRIMARY KEY (region, num))")
    provider = db.open("order_lines")
    made = provider.write([Change(C, {"region": "eu", "num": i}, {"qty": i, "note": "x"})
                           for i in range(5)])
    assert all(o.ok for o in made) and made[2].key == {"region": "eu", "num": 2}
    outcomes = provider.write([Change(U, {"region": "eu", "num": 1}, {"qty": 10}),
                               Change(C, {"num": 2, "region": "eu"}, {"note": "y"}),
                               Change(D, {"region": "eu", "num": 3})])
    assert all(o.ok for o in outcomes), outcomes
    assert db.rows("SELECT region, num, qty, note FROM order_lines ORDER BY num") == [
        ("eu", 0, 0, "x"), ("eu", 1, 10, "x"), ("eu", 2, 2, "y"), ("eu", 4, 4, "x")]


def test_guid_keys_given_as_text_upsert_and_update(pg_db: Database) -> None:
    pg_db.run("CREATE TABLE g (id UUID PRIMARY KEY, label TEXT, at TIMESTAMPTZ)")
    provider = pg_db.open("g")
    guid = "6F9619FF-8B86-D011-B42D-00C04FC964FF"
    made = provider.write([Change(C, {"id": guid}, {"label": "a", "at": "2024-01-02T03:04:05+00:00"})])
    assert made[0].ok, made
    assert str(made[0].key["id"]) == guid.lower()  # type: ignore[index]
    assert provider.write([Change(U, {"id": guid.lower()}, {"label": "b"})])[0].ok
    assert pg_db.rows("SELECT id::text, label FROM g") == [(guid.lower(), "b")]


def test_row_batches_upsert_and_report_only_the_rows_to_look_at(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=2)
    provider = db.open("accounts")
    rows = [(i, f"n{i}", f"c{i}", Decimal(i)) for i in range(1, 6000)]  # id 1 exists: updated
    rows[4000] = (4001, None, "x", Decimal(1))  # NOT NULL: fails alone
    looked = provider.create_rows(RowBatch(("id",), ("name", "city", "revenue"), rows))
    assert {i for i, o in looked.items() if not o.ok} == {4000}
    assert all(o.ok for i, o in looked.items() if i != 4000)  # the failed batch's other rows
    assert looked[4000].error and "\n" not in looked[4000].error
    assert db.rows("SELECT COUNT(*) FROM accounts") == [(5999,)]
    assert db.rows("SELECT name, city FROM accounts WHERE id = 1") == [("n1", "c1")]


def test_a_row_batch_with_a_key_twice_applies_both_in_order(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts()
    provider = db.open("accounts")
    rows = [(1, "first", None, None), (2, "other", None, None), (1, "second", None, None)]
    looked = provider.create_rows(RowBatch(("id",), ("name", "city", "revenue"), rows))
    assert all(o.ok for o in looked.values())
    assert db.rows("SELECT id, name FROM accounts ORDER BY id") == [(1, "second"), (2, "other")]


def test_a_read_asked_about_versions_leaves_out_the_rows_it_was_told_it_has_seen(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=4)
    asked: list[tuple[list[tuple[object, ...]], list[str | None]]] = []

    def seen(keys: list[tuple[object, ...]], versions: list[str | None]) -> set[int]:
        asked.append((keys, versions))
        return {i for i, key in enumerate(keys) if key[0] in (1, 2)}

    pages = list(db.open("accounts").read(seen=seen))
    assert [r["id"] for p in pages for r in p.records] == [0, 3]
    assert sum(p.skipped for p in pages) == 2
    keys, versions = asked[0]
    assert sorted(k[0] for k in keys) == [0, 1, 2, 3]
    assert len(set(versions)) == 4 and all(versions)
    assert [v for p in pages for v in p.versions] == [versions[keys.index((0,))],
                                                       versions[keys.index((3,))]]


def test_a_row_version_changes_with_any_value_and_only_then(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=3)
    provider = db.open("accounts")

    def versions() -> dict[object, str | None]:
        out: dict[object, str | None] = {}

        def seen(keys: list[tuple[object, ...]], vers: list[str | None]) -> set[int]:
            out.update({k[0]: v for k, v in zip(keys, vers, strict=True)})
            return set()

        list(provider.read(seen=seen))
        return out

    before = versions()
    provider.write([Change(ChangeOp.UPDATE, {"id": 1}, {"city": "changed"})])
    after = versions()
    assert after[1] != before[1]
    assert after[0] == before[0] and after[2] == before[2]


def test_a_sqlite_decimal_reads_as_the_number_written(sqlite_db: Database) -> None:
    sqlite_db.run("CREATE TABLE money (id INTEGER PRIMARY KEY, revenue NUMERIC(38, 10))",
                  "INSERT INTO money VALUES (1, 31918145.57), (2, 5), (3, NULL)")
    records = [r for p in sqlite_db.open("money").read() for r in p.records]
    assert [r["revenue"] for r in records] == [Decimal("31918145.57"), Decimal(5), None]


def test_text_in_a_sqlite_decimal_column_is_read_as_it_is(sqlite_db: Database) -> None:
    sqlite_db.run("CREATE TABLE money (id INTEGER PRIMARY KEY, revenue NUMERIC(38, 10))",
                  "INSERT INTO money VALUES (1, 'n/a'), (2, '12.50')")
    records = [r for p in sqlite_db.open("money").read() for r in p.records]
    assert [r["revenue"] for r in records] == ["n/a", Decimal("12.5")]


def _records(pages: Iterable[Page]) -> list[dict[str, object]]:
    return [r for p in pages for r in p.records]


def test_a_sqlite_read_asked_about_versions_gives_the_rows_it_keeps_as_a_plain_read_does(
        sqlite_db: Database) -> None:
    # (asked about versions, it takes the rows raw and converts those it keeps itself)
    sqlite_db.run("CREATE TABLE mixed (id INTEGER PRIMARY KEY, at DATETIME, day DATE, "
                  "flag BOOLEAN, revenue NUMERIC(38, 10), ratio FLOAT, label TEXT, data BLOB)",
                  "INSERT INTO mixed VALUES (1, '2024-01-02 03:04:05.250000', '2024-01-02', 1, "
                  "31918145.57, 0.5, 'a', x'00ff'), "
                  "(2, NULL, NULL, 0, NULL, NULL, NULL, NULL)")
    plain = _records(sqlite_db.open("mixed").read())
    kept = _records(sqlite_db.open("mixed").read(seen=lambda keys, versions: set()))
    assert kept == plain
    assert [[type(v) for v in r.values()] for r in kept] == \
        [[type(v) for v in r.values()] for r in plain]
    assert plain[0]["at"] == dt.datetime(2024, 1, 2, 3, 4, 5, 250000)
    assert plain[0]["flag"] is True and plain[1]["flag"] is False


def test_a_sqlite_read_gives_seen_the_keys_a_plain_read_gives(sqlite_db: Database) -> None:
    sqlite_db.run("CREATE TABLE events (at DATETIME PRIMARY KEY, label TEXT)",
                  "INSERT INTO events VALUES ('2024-01-02 03:04:05.000000', 'a')")
    asked: list[tuple[object, ...]] = []

    def seen(keys: list[tuple[object, ...]], versions: list[str | None]) -> set[int]:
        asked.extend(keys)
        return set()

    list(sqlite_db.open("events").read(seen=seen))
    assert asked == [(dt.datetime(2024, 1, 2, 3, 4, 5),)]


def test_a_sqlite_row_version_tells_apart_values_that_print_alike(sqlite_db: Database) -> None:
    sqlite_db.run("CREATE TABLE loose (id INTEGER PRIMARY KEY, v)")  # no affinity: kept as given
    provider = sqlite_db.open("loose")
    versions: list[str | None] = []

    def seen(keys: list[tuple[object, ...]], found: list[str | None]) -> set[int]:
        versions.extend(found)
        return set()

    values = ("12", "12.0", "'12'", "x'3132'", "NULL", "'None'", "''", "1e300", "'1e+300'")
    for value in values:
        sqlite_db.run("DELETE FROM loose", f"INSERT INTO loose VALUES (1, {value})")
        list(provider.read(seen=seen))
    assert len(versions) == len(values) and len(set(versions)) == len(values)


def test_repeated_keys_compare_a_folded_column_in_lower_case_though_its_primary_key_differs(
        sqlite_db: Database) -> None:
    guid = "3250c8e2-0000-4000-8000-000000000001"
    sqlite_db.run("CREATE TABLE guids (id TEXT PRIMARY KEY, name TEXT)",
                  f"INSERT INTO guids VALUES ('{guid}', 'a'), ('{guid.upper()}', 'b'), "
                  "('3250c8e2-0000-4000-8000-000000000002', 'c')")
    provider = sqlite_db.open("guids", primary_key=["id"])
    assert provider.repeated_keys(["id"]) == []
    [(values, count)] = provider.repeated_keys(["id"], folded=["id"])
    assert count == 2 and sorted(v["id"] for v in values) == [guid.upper(), guid]


def test_repeated_keys_of_a_folded_key_kept_unique_by_its_index_ask_one_scan_while_all_is_lower_case(  # noqa: E501
        db: Database) -> None:
    db.run("CREATE TABLE guids (id VARCHAR(36) PRIMARY KEY, name VARCHAR(10))",
           "INSERT INTO guids VALUES ('3250c8e2-0000-4000-8000-000000000001', 'a'), "
           "('3250c8e2-0000-4000-8000-000000000002', 'b')")
    provider = db.open("guids", primary_key=["id"])
    provider.describe()
    asked: list[str] = []
    sa.event.listen(provider.engine(), "before_cursor_execute",
                    lambda conn, cursor, sql, *rest: asked.append(sql))
    assert provider.repeated_keys(["id"], folded=["id"]) == []
    assert len(asked) == 1 and "lower" in asked[0].lower()


def test_has_rows_says_whether_the_table_holds_a_row(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=3)
    assert db.open("accounts").has_rows() is True
    assert db.open("SELECT id, name FROM accounts WHERE city = 'c1'").has_rows() is True
    db.run(f"DELETE FROM {db.q('accounts')}")
    assert db.open("accounts").has_rows() is False


def test_has_rows_of_a_select_with_a_where_asks_its_table(
        db: Database, make_accounts: Callable[..., sa.Table]) -> None:
    make_accounts(rows=3)
    assert db.open("SELECT id, name FROM accounts WHERE city = 'nowhere'").has_rows() is True
    db.run(f"DELETE FROM {db.q('accounts')}")
    assert db.open("SELECT id, name FROM accounts WHERE city = 'nowhere'").has_rows() is False


def test_a_text_column_is_described_as_ignoring_case_where_its_collation_does(
        db: Database) -> None:
    """(MySQL/MariaDB's `_ci` collations, their defaults: 'abc' and 'ABC' are one key there;
    PostgreSQL and SQLite compare case)"""
    binary = " COLLATE utf8mb4_bin" if db.provider == "mysql" else ""
    db.run(f"CREATE TABLE codes (code VARCHAR(20) PRIMARY KEY, exact VARCHAR(20){binary}, n INT)")
    columns = {c.name: c.ignores_case for c in db.open("codes").describe()}
    assert columns == {"code": db.provider == "mysql", "exact": False, "n": False}
