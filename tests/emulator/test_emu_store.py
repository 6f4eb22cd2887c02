"""Seeded data and the out-of-band data API."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

from l2tui.emulator import Emulator
from l2tui.emulator.errors import ODataError
from l2tui.emulator.seed import seed_store
from l2tui.emulator.store import Store


def seeded(rows: int, seed: int) -> Store:
    store = Store()
    seed_store(store, rows, seed)
    return store


def test_same_seed_same_rows():
    assert seeded(30, 7).rows("accounts") == seeded(30, 7).rows("accounts")


def test_other_seed_other_rows():
    assert seeded(30, 7).rows("accounts") != seeded(30, 8).rows("accounts")


def test_row_count_and_contacts():
    store = seeded(120, 1)
    assert store.count("accounts") == 120
    assert store.count("contacts") == 12


def test_insert_update_delete_move_the_version():
    store = seeded(5, 1)
    v0 = store.version
    guid = store.insert("accounts", {"name": "New", "revenue": 10})
    assert store.get("accounts", guid)["versionnumber"] == v0 + 1
    store.update("accounts", guid, {"name": "Newer"})
    assert store.get("accounts", guid)["versionnumber"] == v0 + 2
    store.delete("accounts", guid)
    assert store.get("accounts", guid) is None
    assert store.version == v0 + 3


def test_out_of_band_api_accepts_lookup_ids():
    store = seeded(5, 1)
    contact = store.rows("contacts")[0]["contactid"]
    guid = store.insert("accounts", {"name": "x", "_primarycontactid_value": contact})
    assert store.get("accounts", guid)["_primarycontactid_value"] == contact


def test_out_of_band_api_refuses_unknown_columns():
    with pytest.raises(ODataError):
        seeded(5, 1).insert("accounts", {"nosuch": 1})


def test_rows_are_copies():
    store = seeded(5, 1)
    store.rows("accounts")[0]["name"] = "mutated"
    assert store.rows("accounts")[0]["name"] != "mutated"


def test_emulator_exposes_urls(emu: Emulator):
    assert emu.root_url == f"http://127.0.0.1:{emu.port}"
    assert emu.base_url == emu.root_url + "/api/data/v9.2/"
    assert emu.url("accounts") == emu.base_url + "accounts"


def test_emulator_imports_nothing_else_from_l2tui():
    package = Path(__file__).resolve().parents[2] / "l2tui" / "emulator"
    for path in package.glob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                assert not node.module.startswith("l2tui"), (path.name, node.module)
            if isinstance(node, ast.Import):
                assert not any(a.name.startswith("l2tui") for a in node.names), path.name
