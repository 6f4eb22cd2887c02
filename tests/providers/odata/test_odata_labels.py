"""`<x>name` columns: a choice's label and a lookup's related name, read-only, read from the
base column's FormattedValue annotation (the emulator over loopback HTTP)."""

from __future__ import annotations

from operator import itemgetter

import pytest

from l2tui.errors import ConfigError

LABELS = "$select=name,statecode,statecodename,_primarycontactid_value,primarycontactidname"
ONLY_LABELS = "$select=statecodename,primarycontactidname"  # their bases not selected
FILTERED = "$select=statecodename,primarycontactidname&$filter=statecode eq 0"  # keys first
ANNOTATIONS = 'odata.include-annotations="OData.Community.Display.V1.FormattedValue"'


def expected(crm, row: dict) -> tuple[str, str | None]:
    """The label and the contact's full name the emulator holds for an account."""
    contact = row["_primarycontactid_value"]
    name = crm.emu.store.get("contacts", contact)["fullname"] if contact else None
    return ("Active" if row["statecode"] == 0 else "Inactive"), name


def labels_by_id(records: list[dict]) -> dict[str, tuple[str, str | None]]:
    return {r["accountid"]: (r["statecodename"], r["primarycontactidname"]) for r in records}


def stored(crm, active_only: bool = False) -> dict[str, tuple[str, str | None]]:
    return {r["accountid"]: expected(crm, r) for r in crm.emu.store.rows("accounts")
            if not active_only or r["statecode"] == 0}


def reads(crm) -> list[str]:
    return [r for r in crm.emu.recent_requests if r.startswith("GET /api/data/v9.2/accounts?")]


def test_describe_offers_name_columns_as_read_only_text(open_crm):
    columns = {c.name: c for c in open_crm.provider(select=LABELS).describe()}
    for name in ("statecodename", "primarycontactidname"):
        assert columns[name].read_only and columns[name].type == "string"
    assert not columns["statecode"].read_only


def test_every_column_leaves_the_name_columns_out(open_crm):
    names = [c.name for c in open_crm.provider().describe()]
    assert "statecode" in names and "_primarycontactid_value" in names
    assert not [n for n in names if n.endswith("name") and n not in ("name",)]


def test_a_name_column_of_a_column_that_has_none_is_a_select_error_naming_it(open_crm):
    with pytest.raises(ConfigError, match=r"^select: 'revenuename' is not a column of accounts: "
                                          r"only a choice or a lookup has a name column, and "
                                          r"revenue is neither$"):
        open_crm.provider(select="$select=name,revenuename").describe()


def test_a_read_fills_the_labels_and_sends_the_bases_instead(open_crm):
    open_crm.emu.recent_requests.clear()
    records = [r for p in open_crm.provider(select=ONLY_LABELS).read() for r in p.records]
    assert labels_by_id(records) == stored(open_crm)
    assert {None} < {name for _, name in labels_by_id(records).values()}  # (some have none)
    assert set(records[0]) == {"accountid", "statecodename", "primarycontactidname"}
    assert reads(open_crm)[0].startswith(
        "GET /api/data/v9.2/accounts?$select=statecode,_primarycontactid_value")


def test_a_null_base_gives_a_null_name(open_crm):
    key = open_crm.emu.store.rows("accounts")[0]["accountid"]
    open_crm.emu.store.update("accounts", key, {"statecode": None})
    records = [r for p in open_crm.provider(select=LABELS).read() for r in p.records]
    assert next(r for r in records if r["accountid"] == key)["statecodename"] is None


def test_a_change_tracking_read_fills_the_labels_of_the_changes(open_crm):
    provider = open_crm.provider(select=LABELS)
    first = provider.read()
    list(first)
    key = open_crm.emu.store.rows("accounts")[0]["accountid"]
    open_crm.emu.store.update("accounts", key, {"statecode": 1, "statuscode": 2})
    delta = provider.read(first.cursor)
    records = [r for p in delta for r in p.records]
    assert delta.is_delta
    assert labels_by_id(records) == {key: expected(open_crm, open_crm.emu.store.get("accounts", key))}
    assert records[0]["statecodename"] == "Inactive"


def test_a_read_keys_first_fills_the_labels_of_the_rows_read_by_key(open_crm):
    unseen = sorted(stored(open_crm, active_only=True))[:3]
    pages = list(open_crm.provider(select=FILTERED).read(
        seen=lambda keys, versions: {i for i, (k,) in enumerate(keys) if k not in unseen}))
    assert any("then 3 changed rows by key" in line for line in open_crm.logs)
    records = [r for p in pages for r in p.records]
    assert labels_by_id(records) == {k: stored(open_crm)[k] for k in unseen}


def test_rows_read_by_key_fill_the_labels(open_crm):
    keys = sorted(stored(open_crm))[:5]
    pages = open_crm.provider(select=ONLY_LABELS).read_keys([(k,) for k in keys])
    assert pages is not None
    assert labels_by_id([r for p in pages for r in p.records]) == \
        {k: stored(open_crm)[k] for k in keys}


def test_a_long_read_fills_the_labels_in_the_second_process(make_crm):
    crm = make_crm(rows=3000, auth=False)
    provider = crm.provider(crm.emu.connection_string() + "PageSize=1000;", select=ONLY_LABELS)
    fields = itemgetter("accountid", "statecodename", "primarycontactidname")
    items = [item for page in provider.read(transform=fields) for item in page.items]
    assert "decoding the pages in a second process" in crm.logs
    assert {key: (label, name) for key, label, name in items} == stored(crm)


def test_a_read_without_name_columns_asks_for_no_annotations(open_crm):
    provider = open_crm.provider(select="$select=name,statecode")
    plan = provider._plan()
    assert plan.with_labels(provider.schema().labels) is plan
    assert "include-annotations" not in plan.prefer(True)
    labelled = open_crm.provider(select=LABELS)._plan().with_labels(provider.schema().labels)
    assert labelled.prefer(True) == f"odata.maxpagesize=5000,odata.track-changes,{ANNOTATIONS}"
