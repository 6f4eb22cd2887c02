"""The run's fast paths give exactly what the general code gives."""

from __future__ import annotations

import hashlib
import json
import random
import sqlite3
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa

from l2tui.providers.base import ColumnType as T
from l2tui.providers.sql import types
from l2tui.sync.normalize import (
    _TEXT_VALUED,
    _encode,
    denormalize,
    digest,
    keeps_value,
    normalize,
    utc_text,
)
from l2tui.sync.side import key_json, match_values
from l2tui.sync.state import StateStore


def _moments(count: int) -> list[datetime]:
    rng = random.Random(7)
    return [datetime(rng.randrange(1, 10_000), rng.randrange(1, 13), rng.randrange(1, 29),
                     rng.randrange(24), rng.randrange(60), rng.randrange(60),
                     rng.choice([0, rng.randrange(1_000_000)]),
                     tzinfo=rng.choice([None, UTC])) for _ in range(count)]


def test_utc_text_is_the_canonical_datetime_text() -> None:
    for value in _moments(5000):
        if not value.microsecond:
            assert utc_text(value) == value.isoformat()[:19] + "Z" == normalize(value, T.DATETIME)


def test_a_single_plain_string_hashes_as_its_json() -> None:
    for text in ["2024-01-02T03:04:05Z", 'a"b', "a\\b", "é", "x\x7f", "tab\t", "", "plain"]:
        expected = hashlib.blake2b(_encode([text]).encode("utf-8"), digest_size=12).hexdigest()
        assert digest([text]) == expected


def test_match_values_reads_back_key_json() -> None:
    for values in (["abc"], ['a"b'], ["a\\b"], ["é"], [1], ["x", 2], [None], ["tab\t"]):
        assert match_values(key_json(list(values))) == json.loads(json.dumps(values))


def test_keeps_value_means_denormalize_returns_the_canonical_value() -> None:
    samples: list[Any] = ["x", "", None, 12, 12.5, "12.50", True, datetime(2024, 1, 2, 3, 4, 5),
                          "3F2504E0-4F89-11D3-9A0C-0305E82C3301", b"\x00\x01", "not a date"]
    for kind in _TEXT_VALUED:
        for target in (T.STRING, T.GUID, T.OTHER):
            assert keeps_value(kind, target)
            for sample in samples:
                canonical = normalize(sample, kind)
                assert denormalize(canonical, target) is canonical
    assert not keeps_value(T.BOOLEAN, T.STRING) and not keeps_value(T.STRING, T.INTEGER)


def test_sqlite_bind_converters_match_sqlalchemy() -> None:
    dialect = sa.create_engine("sqlite://").dialect
    for sql_type in (sa.DateTime(), sa.DateTime(timezone=True)):
        fast = types.bind_converter(sql_type, dialect)
        slow = sql_type._cached_bind_processor(dialect)
        assert fast is not None and slow is not None
        for value in _moments(5000):
            assert fast(value) == slow(value)
        assert fast("2024-01-02T03:04:05Z") == slow(datetime(2024, 1, 2, 3, 4, 5))
    flag = sa.Boolean()
    fast, slow = types.bind_converter(flag, dialect), flag._cached_bind_processor(dialect)
    assert fast is not None and slow is not None
    for value in (True, False, None, 1, 0):
        assert fast(value) == slow(value)


def test_state_lookup_mark_and_save_agree_with_the_plain_statements() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        keys = [key_json([f"k{i}"]) for i in range(1200)] + [key_json(['q"uote']),
                                                               key_json(["é"])]
        store.save([(k, k, None if i % 7 else k, f"h{i}", None, "r" if i % 5 == 0 else None, 1,
                     None, None) for i, k in enumerate(keys)])
        found = store.lookup(keys[::3] + ['["absent"]'])
        store._json_each = False
        plain = store.lookup(keys[::3] + ['["absent"]'])
        assert found == plain and len(found) == len(keys[::3])
        store._json_each = True
        store.mark(keys[:1000], 2)
        left = {row.mkey for row in store.unhandled(2)}
        assert left == set(keys[1000:])
        on_the_right = sum(1 for i in range(len(keys)) if i % 7 == 0)
        assert store.counts() == {"left": len(keys), "right": on_the_right,
                                  "both": on_the_right}
        assert store.open_conflicts() == sum(1 for i in range(len(keys)) if i % 5 == 0)
        store.close()


def test_settle_unchanged_splits_a_page_as_the_engine_would() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        rows = [
            ('["same"]', "a.x", "a.x", "h1.e1", None, None),    # unchanged
            ('["edited"]', "b", "b", "h2.e2", None, None),      # another hash
            ('["extra"]', "c", "c", "h3.e3", None, None),       # same two-way part only
            ('["open"]', "d", "d", "h4.e4", "h4.e4", None),     # open conflict
            ('["detached"]', None, "e", "h5.e5", None, None),   # gone on the left, kept
            ('["unread"]', "f", "f", "h6.e6", None, None),      # not on the page
        ]
        store.save([(*r, 1, None, None) for r in rows])
        page = [('["same"]', "h1.e1", None), ('["edited"]', "zz.e2", None),
                ('["extra"]', "h3.other", None), ('["open"]', "h4.e4", None),
                ('["detached"]', "h5.e5", None), ('["new"]', "n.n", None)]
        states, absent = store.settle_unchanged(page, 2, exact=True, side="left")
        assert set(states) == {'["edited"]', '["extra"]', '["open"]', '["detached"]'}
        assert states['["open"]'] == store.lookup(['["open"]'])['["open"]']
        assert absent == {'["new"]'}
        states, absent = store.settle_unchanged(page, 2, exact=False, side="left")
        assert set(states) == {'["edited"]', '["open"]', '["detached"]'}
        assert {row.mkey for row in store.unhandled(2)} == {'["unread"]'}
        store.close()


def test_staged_items_a_delta_did_not_mention_settle_only_when_unchanged() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        store.save([(*r, 1, None, None) for r in [
            ('["same"]', '["a"]', '["a"]', "h1.e1", None, None),       # unchanged: settled
            ('["edited"]', '["b"]', '["b"]', "h2.e2", None, None),     # staged hash differs
            ('["extra"]', '["c"]', '["c"]', "h3.e3", None, None),      # two-way part only
            ('["open"]', '["d"]', '["d"]', "h4.e4", "h4.e4", None),    # open conflict
            ('["detached"]', None, '["e"]', "h5.e5", None, None),      # gone on the left
            ('["deleted"]', '["f"]', '["f"]', "h6.e6", None, None),    # the delta deleted it
            ('["streamed"]', '["g"]', '["g"]', "h7.e7", None, None),   # the delta had it
        ]])
        db = store.db
        db.execute("CREATE TEMP TABLE w (mkey TEXT PRIMARY KEY, kid TEXT, vals TEXT, hash TEXT, "
                   "modified TEXT, gone INTEGER DEFAULT 0, done INTEGER DEFAULT 0, ver TEXT)")
        db.execute("CREATE TEMP TABLE gone (kid TEXT PRIMARY KEY)")
        db.executemany("INSERT INTO temp.w(mkey, hash, done) VALUES (?, ?, ?)", [
            ('["same"]', "h1.e1", 0), ('["edited"]', "zz.e2", 0), ('["extra"]', "h3.other", 0),
            ('["open"]', "h4.e4", 0), ('["detached"]', "h5.e5", 0), ('["deleted"]', "h6.e6", 0),
            ('["streamed"]', "h7.e7", 1), ('["new"]', "n.n", 0)])
        db.execute("""INSERT INTO temp.gone VALUES ('["f"]')""")
        assert store.settle_staged(2, src="left", exact=True) == 1
        left = {r[0] for r in db.execute("SELECT mkey FROM temp.w WHERE done = 0")}
        assert left == {'["edited"]', '["extra"]', '["open"]', '["detached"]', '["deleted"]',
                        '["new"]'}
        assert store.settle_staged(2, src="left", exact=False) == 1  # now '["extra"]' too
        assert {row.mkey for row in store.unhandled(2)} == {
            '["edited"]', '["open"]', '["detached"]', '["deleted"]', '["streamed"]'}
        store.close()


def test_a_seen_version_settles_an_item_without_its_values() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        store.save([
            ('["same"]', "a", "a", "h1", None, None, 1, 'W/"1"', None),
            ('["moved"]', "b", "b", "h2", None, None, 1, 'W/"2"', None),
            ('["open"]', "c", "c", "h3", "h3", None, 1, 'W/"3"', None),
            ('["unknown"]', "d", "d", "h4", None, None, 1, None, None),
        ])
        page = [('["same"]', 'W/"1"'), ('["moved"]', 'W/"9"'), ('["open"]', 'W/"3"'),
                ('["unknown"]', 'W/"4"'), ('["new"]', 'W/"5"')]
        store.commit()
        reader = store.version_reader()  # the reading thread's own connection: asks, marks not
        assert reader.same("left", page) == ['["same"]'] and reader.same("right", page) == []
        reader.close()
        assert {row.mkey for row in store.unhandled(2)} == {m for m, _ in page} - {'["new"]'}
        assert store.skip_same_versions("left", page, 2) == {'["same"]'}
        assert store.skip_same_versions("right", page, 2) == set()  # right versions unknown
        assert {row.mkey for row in store.unhandled(2)} == {
            '["moved"]', '["open"]', '["unknown"]'}
        store.close()


def test_the_versions_seen_come_back_in_match_key_order() -> None:
    # (the run's thread marks them handled in that order: side by side in the key index)
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        keys = [f'["{n:04d}"]' for n in range(0, 2000, 7)]
        store.save([(k, k, k, "h", None, None, 1, f'W/"{k}"', None) for k in keys])
        store.commit()
        reader = store.version_reader()
        page = [(k, f'W/"{k}"') for k in reversed(keys)]  # (a service's own order)
        assert reader.same("left", page) == keys
        reader.close()
        store.close()


def test_an_unchanged_item_with_a_new_version_is_skipped_by_it_next_time() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        store = StateStore(Path(tmp) / "s.db")
        store.save([('["k"]', "k", "k", "h1", None, None, 1, None, None)])
        states, absent = store.settle_unchanged([('["k"]', "h1", 'W/"7"')], 2, exact=True,
                                                side="left")
        assert (states, absent) == ({}, set())
        assert store.skip_same_versions("left", [('["k"]', 'W/"7"')], 3) == {'["k"]'}
        store.close()


def test_the_generated_reader_normalises_as_the_normalisers_do() -> None:
    from decimal import Decimal

    from l2tui.sync.normalize import normalizer
    from l2tui.sync.side import compile_reader

    kinds = list(T)
    read = [(f"c{i}", normalizer(k)) for i, k in enumerate(kinds)]
    reader = compile_reader(read, kinds)
    samples: list[Any] = [
        None, "", "x", " y ", "ABCDEFAB-1234-1234-1234-ABCDEFABCDEF",
        "abcdefab-1234-1234-1234-abcdefabcdef", "abcdefab_1234-1234-1234-abcdefabcdef", True,
        False, 0, 1, -5, 10**20, Decimal("1.50"), Decimal("2.5"), Decimal("1E+3"), 1.5, "12",
        "2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", "2024-01-01 00:00:00Z",
        datetime(2024, 1, 1, tzinfo=UTC), datetime(2024, 1, 1, 12, 30), b"\x00x"]
    rng = random.Random(7)
    for _ in range(2000):
        record = {f"c{i}": rng.choice(samples) for i in range(len(kinds)) if rng.random() < 0.95}
        expected = [fn(record.get(name)) for name, fn in read]
        got = reader(record.get)
        assert got == expected
        assert [type(v) for v in got] == [type(v) for v in expected]


def test_a_sqlite_entity_never_asks_for_a_secret(tmp_path: Path) -> None:
    from l2tui.providers.base import ProviderContext
    from l2tui.providers.sql.provider import SqlProvider

    class Entity:
        provider = "sqlite"
        connection_string = f"Data Source={tmp_path / 'x.db'};"
        select = "t"

    def secret() -> str:
        raise AssertionError("the secret was asked for")

    provider = SqlProvider(Entity(), ProviderContext(secret=secret))
    assert provider.target.provider == "sqlite"


def test_a_state_from_before_versions_gains_them_and_keeps_its_pairs() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "old.db"
        old = sqlite3.connect(path)
        old.execute("CREATE TABLE items (mkey TEXT PRIMARY KEY, lkey TEXT, rkey TEXT, hash TEXT "
                    "NOT NULL, lhash TEXT, rhash TEXT, seen INTEGER)")
        old.execute("""INSERT INTO items VALUES ('["k"]', '["k"]', '["k"]', 'h', NULL, NULL, 1)""")
        old.commit()
        old.close()
        store = StateStore(path)
        assert [row.mkey for row in store.all_items()] == ['["k"]']
        store.save([('["n"]', '["n"]', '["n"]', "h2", None, None, 2, 'W/"1"', None)])
        assert store.skip_same_versions("left", [('["n"]', 'W/"1"'), ('["k"]', 'W/"1"')],
                                        3) == {'["n"]'}
        store.close()


def _side(left: list[Any], right: list[Any], keys: tuple[str, str]) -> Any:
    from l2tui.config.model import Connection
    from l2tui.providers.base import Column
    from l2tui.sync.mapping import build_mapping
    from l2tui.sync.side import SideInfo

    plan = build_mapping(Connection(title="t"), [Column(n, k) for n, k in left],
                         [Column(n, k) for n, k in right], [keys[0]], [keys[1]])
    return SideInfo("right", plan)


def test_a_created_key_text_is_the_match_key_where_the_shortcut_says_so() -> None:
    cases = [  # (left columns, right columns, key names, whether the shortcut applies)
        ([("id", T.GUID), ("name", T.STRING)], [("id", T.GUID), ("name", T.STRING)],
         ("id", "id"), True),
        ([("id", T.GUID), ("name", T.STRING)], [("id", T.STRING), ("name", T.STRING)],
         ("id", "id"), True),
        ([("code", T.STRING), ("name", T.STRING)], [("code", T.STRING), ("name", T.STRING)],
         ("code", "code"), True),
        ([("n", T.INTEGER), ("name", T.STRING)], [("n", T.INTEGER), ("name", T.STRING)],
         ("n", "n"), False),  # an integer key is converted back from its canonical text
    ]
    samples = ["ABCDEFAB-1234-1234-1234-ABCDEFABCDEF", 'quote " and \\ slash', "naïve",
               "tab\there", "plain", "12", "0042"]
    for left, right, keys, applies in cases:
        side = _side(left, right, keys)
        assert side.created_kid_is_mkey is applies, (left, right)
        split = len(side.create_names[0])
        for raw in samples:
            record = {left[0][0]: raw, "name": "x"}
            item = _side(left, left, (keys[0], keys[0])).item(record)
            if item.mkey is None:
                continue
            row = side.create_row(item.mkey, item.values)
            if applies:
                assert key_json(list(row[:split])) == item.mkey


def test_a_new_state_gets_the_larger_pages_and_an_old_one_keeps_its_own(tmp_path: Path) -> None:
    from l2tui.sync.state import PAGE_SIZE

    fresh = StateStore(tmp_path / "new.db")
    assert fresh.db.execute("PRAGMA page_size").fetchone()[0] == PAGE_SIZE != 4096
    fresh.close()
    old = sqlite3.connect(tmp_path / "old.db")
    old.execute("PRAGMA page_size=4096")
    old.execute("CREATE TABLE kept (x)")
    old.close()
    store = StateStore(tmp_path / "old.db")
    assert store.db.execute("PRAGMA page_size").fetchone()[0] == 4096
    store.save([('["n"]', '["n"]', '["n"]', "h", None, None, 1, None, None)])
    store.commit()
    assert [row.mkey for row in store.all_items()] == ['["n"]']
    store.close()


def test_a_batch_of_creates_saves_the_pairs_one_at_a_time_would(tmp_path: Path) -> None:
    from l2tui.sync.apply import Counts, Writer
    from l2tui.sync.side import SideInfo

    plan = _side([("id", T.STRING), ("name", T.STRING)], [("id", T.STRING), ("name", T.STRING)],
                 ("id", "id")).plan
    items = [('["a"]', "h1", '["x"]', 'W/"1"'), ('["b"]', "h2", None, None)]
    for side in ("left", "right"):
        state = StateStore(tmp_path / f"{side}.db")
        writer = Writer(SideInfo(side, plan), None, state, 7, batch=10,  # type: ignore[arg-type]
                        dry=True, sink=lambda event: None, counts=Counts())
        assert writer._created_pairs(items) == \
            [writer._pair(m, m, src, h, v) for m, h, src, v in items]
        state.close()


def _queued(path: Path, made: list[Any], versions: list[str | None], bulk: bool) -> Any:
    """What a dry writer (batches of 3) sends and saves for one create and then ``made``,
    queued by ``create_all`` (``bulk``) or by ``create`` per item."""
    from l2tui.providers.base import RowBatch
    from l2tui.sync.apply import Counts, Writer
    from l2tui.sync.side import SideInfo

    plan = _side([("id", T.STRING), ("name", T.STRING)], [("id", T.STRING), ("name", T.STRING)],
                 ("id", "id")).plan
    state = StateStore(path)
    sent: list[RowBatch] = []
    writer = Writer(SideInfo("right", plan), None, state, 7,  # type: ignore[arg-type]
                    batch=3, dry=True, sink=lambda event: None, counts=Counts())
    keep = writer._save_rows
    writer._save_rows = lambda batch, *rest: (sent.append(batch),  # type: ignore[method-assign]
                                              keep(batch, *rest))
    writer.create('["first"]', "h", ["first", "x"], '["f"]')
    if bulk:
        writer.create_all(made, versions)
    else:
        for index, (mkey, kid, values, hsh, _) in enumerate(made):
            writer.create(mkey, hsh, values, kid, versions[index] if versions else None)
    writer.close()
    saved = state.db.execute("SELECT * FROM items ORDER BY mkey").fetchall()
    state.close()
    return [b.rows for b in sent], saved, writer.counts.created


def test_a_page_of_new_items_queues_the_creates_one_at_a_time_would(tmp_path: Path) -> None:
    """Writer.create_all (a first run's page) against create per item, across batch ends, with
    versions and without: the same batches go out and the same pairs are saved."""
    made = [(f'["k{i}"]', f'["s{i}"]', [f"k{i}", f"name {i}"], f"h{i}", None) for i in range(8)]
    for versions in ([f'W/"{i}"' for i in range(8)], []):
        one_at_a_time = _queued(tmp_path / f"one{len(versions)}.db", made, versions, False)
        assert _queued(tmp_path / f"all{len(versions)}.db", made, versions, True) == \
            one_at_a_time
        assert [len(rows) for rows in one_at_a_time[0]] == [3, 3, 3]


def _raw_samples() -> list[Any]:
    """Raw JSON values of every shape a service may send, the awkward ones included."""
    from decimal import Decimal

    return [
        None, "", "x", " y ", "ABCDEFAB-1234-1234-1234-ABCDEFABCDEF",
        "abcdefab-1234-1234-1234-abcdefabcdef", "abcdefab_1234-1234-1234-abcdefabcdef",
        "{abcdefab-1234-1234-1234-abcdefabcdef}", True, False, 0, 1, -5, 10**20, Decimal("1.50"),
        Decimal("2.5"), Decimal("1E+3"), 1.5, "12", "true", "2024-01-01T00:00:00Z",
        "0999-12-31T23:59:59Z", "2024-13-01T00:00:00Z", "2023-W36-5T09:11:21Z",
        "2023-09-08T091121.5Z", "2024-01-01T00:00:00.5Z", "2024-01-01T01:00:00+01:00",
        "2024-01-01 00:00:00Z", " 2024-01-01T00:00:00Z", "2024-01-01", "2024-01-01T00:00:00",
        "AAEC", 20230908, [1], {"a": 1}]


def test_a_side_reads_raw_entries_as_it_reads_their_records() -> None:
    """EntryTransform: the items of raw entries equal those of the records the OData decoder
    would make of them, column types and pairings of every kind, with a select or without."""
    from l2tui.config.model import Connection, Entity
    from l2tui.providers.base import Column
    from l2tui.providers.odata.entity_schema import EntitySchema
    from l2tui.providers.odata.pages import PageDecoder
    from l2tui.sync.mapping import build_mapping
    from l2tui.sync.side import SideInfo

    left = [("id", T.GUID), ("s", T.STRING), ("i", T.INTEGER), ("d", T.DECIMAL), ("f", T.FLOAT),
            ("b", T.BOOLEAN), ("t", T.DATETIME), ("td", T.DATETIME), ("dt", T.DATE),
            ("g", T.GUID), ("ib", T.INTEGER), ("modifiedon", T.DATETIME), ("stamp", T.DATETIME),
            ("blob", T.BINARY)]
    right = [("id", T.GUID), ("s", T.STRING), ("i", T.INTEGER), ("d", T.DECIMAL),
             ("f", T.FLOAT), ("b", T.BOOLEAN), ("t", T.DATETIME), ("td", T.DATE), ("dt", T.DATE),
             ("g", T.STRING), ("ib", T.BOOLEAN), ("modifiedon", T.DATETIME), ("blob", T.BINARY)]
    columns = [Column(n, k, key=n == "id") for n, k in left]
    schema = EntitySchema("things", columns)
    samples = _raw_samples()
    rng = random.Random(11)
    for modified in (None, "stamp"):  # read as a mapped column, or apart
        conn = Connection(title="t", entity1=Entity(modified_column=modified))
        plan = build_mapping(conn, columns, [Column(n, k) for n, k in right], ["id"], ["id"])
        side = SideInfo("left", plan)
        for selected in (frozenset(n for n, _ in left[:-1]) | {"other"}, None):
            decoder = PageDecoder(schema, selected, side)
            made, convert = decoder.transformer(), decoder.converter()
            for _ in range(1500):
                entry = {n: rng.choice(samples) for n, _ in left if rng.random() < 0.95}
                entry.update({"@odata.etag": 'W/"1"', "other": rng.choice(samples)})
                assert made(entry) == side.fields(convert(entry)), entry
