"""Row JSON: the pre-serialized fast path equals the general renderer."""

from __future__ import annotations

import json

from l2tui.emulator.fragments import FragmentCache, plain_row_encoder, render_encoder
from l2tui.emulator.render import Annotations, formatted, make_renderer, selected_columns
from l2tui.emulator.schema import ACCOUNT, CONTACT
from l2tui.emulator.seed import seed_store
from l2tui.emulator.store import Store


def test_fast_encoder_matches_the_renderer_for_every_row():
    store = Store()
    seed_store(store, 300, 3)
    store.insert("accounts", {"name": 'Quote " \\ é 😀 \n\t', "revenue": 1e-7})
    for table in (ACCOUNT, CONTACT):
        columns = selected_columns(table, None)
        render = make_renderer(table, columns, Annotations(None), lambda s, g: None)
        encode = plain_row_encoder([c.prop for c in columns])
        for row in store.rows(table.entity_set):
            assert json.loads(encode(row)) == render(row)


def test_fragment_cache_reencodes_a_row_when_its_version_moves():
    store = Store()
    seed_store(store, 3, 1)
    cache = FragmentCache()
    columns = selected_columns(ACCOUNT, ["name"])
    encode = render_encoder(make_renderer(ACCOUNT, columns, Annotations(None), lambda s, g: None))
    row = store.rows("accounts")[0]
    [first] = cache.encode("shape", [row], "accountid", encode, 3)
    store.update("accounts", row["accountid"], {"name": "Changed"})
    [second] = cache.encode("shape", [store.get("accounts", row["accountid"])], "accountid",
                            encode, 3)
    assert json.loads(first)["name"] != json.loads(second)["name"] == "Changed"


def test_formatted_values():
    by = ACCOUNT.by_prop
    assert formatted(by["revenue"], 20000.0) == "$20,000.00"
    assert formatted(by["revenue"], -5) == "-$5.00"
    assert formatted(by["numberofemployees"], 1234) == "1,234"
    assert formatted(by["statecode"], 1) == "Inactive"
    assert formatted(by["creditonhold"], False) == "No"
    assert formatted(by["createdon"], "2023-04-07T21:59:01Z") == "4/7/2023 9:59 PM"
    assert formatted(CONTACT.by_prop["birthdate"], "1990-10-15") == "10/15/1990"
