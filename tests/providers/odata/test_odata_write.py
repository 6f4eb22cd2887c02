"""Writing: $batch change sets, idempotent creates, updates, deletes, lookups, resilience."""

from __future__ import annotations

import uuid
from decimal import Decimal

import pytest
import requests

from l2tui.errors import ConnectError
from l2tui.providers.base import Change, ChangeOp, Column, ColumnType, WriteStopped
from l2tui.providers.odata.entity_schema import EntitySchema
from l2tui.providers.odata.write import ChangeRejected, Writer


def create(name: str, **values) -> Change:
    return Change(ChangeOp.CREATE, {"accountid": str(uuid.uuid4())}, {"name": name, **values})


def test_5000_creates_land_once_through_429_storms_and_5xx(make_crm):
    crm = make_crm(rows=0, auth=True)
    emu = crm.emu
    provider = crm.provider()
    provider.describe()  # sign in and read the schema before the storm
    changes = [create(f"Bulk {i:05}", revenue=Decimal(f"{i}.25"), numberofemployees=i)
               for i in range(5000)]
    emu.faults.fail_next(30, status=429, path_contains="$batch")
    emu.faults.drop_next(3, path_contains="$batch")
    emu.faults.fail_rate(0.15, status=503, seed=7)
    emu.limits.set(requests_per_window=25, window_seconds=0.5, retry_after=1)
    before = emu.request_count

    outcomes = provider.write(changes)

    requests_made = emu.request_count - before
    emu.faults.clear()
    emu.limits.set()
    print(f"\n5000 creates: {requests_made} requests (batches of 100, 3 in flight)")
    assert [o.change for o in outcomes] == changes
    assert all(o.ok for o in outcomes), next(o.error for o in outcomes if not o.ok)
    rows = {r["accountid"]: r for r in emu.store.rows("accounts")}
    assert len(rows) == 5000
    for change in changes:
        row = rows[change.key["accountid"]]
        assert row["name"] == change.values["name"]
        assert Decimal(str(row["revenue"])) == change.values["revenue"]
    assert any("429" in line for line in crm.logs) and any("503" in line for line in crm.logs)


def test_a_retried_create_does_not_duplicate(crm):
    provider = crm.provider()
    change = create("Only Once")
    assert provider.write([change])[0].ok
    assert provider.write([change])[0].ok
    assert [r["name"] for r in crm.emu.store.rows("accounts")].count("Only Once") == 1


def test_a_create_without_a_key_gets_a_client_made_guid(crm):
    change = Change(ChangeOp.CREATE, {}, {"name": "Keyless"})
    [outcome] = crm.provider().write([change])
    assert outcome.ok and crm.emu.store.get("accounts", outcome.key["accountid"])["name"] == "Keyless"


def test_update_sends_only_the_changed_columns(crm):
    row = crm.emu.store.rows("accounts")[0]
    change = Change(ChangeOp.UPDATE, {"accountid": row["accountid"]}, {"telephone1": "555-0100"})
    assert crm.provider().write([change])[0].ok
    after = crm.emu.store.get("accounts", row["accountid"])
    assert after["telephone1"] == "555-0100" and after["name"] == row["name"]


def test_update_of_a_deleted_row_fails_instead_of_resurrecting_it(crm):
    guid = crm.emu.store.rows("accounts")[0]["accountid"]
    crm.emu.store.delete("accounts", guid)
    [outcome] = crm.provider().write([Change(ChangeOp.UPDATE, {"accountid": guid}, {"name": "X"})])
    assert not outcome.ok and "no longer exists" in outcome.error
    assert crm.emu.store.get("accounts", guid) is None


def test_a_create_refused_as_a_duplicate_key_under_a_filter_fails_with_the_services_message(crm):
    """Under a $filter, creates carry If-None-Match: *; a 412 for the GUID made for the create
    is success only when the record is there (an earlier try made it): an alternate key another
    record holds is the item's failure, not a success pointing at a record that does not exist."""
    taken = crm.emu.store.rows("accounts")[0]["accountnumber"]
    provider = crm.provider(select="$select=name,accountnumber&$filter=revenue ge 0")
    change = Change(ChangeOp.CREATE, {}, {"name": "Twin", "accountnumber": taken})
    [outcome] = provider.write([change])
    assert not outcome.ok and "already exists" in outcome.error and "412" in outcome.error
    assert crm.emu.store.get("accounts", outcome.key["accountid"]) is None


def test_a_create_with_a_lookup_to_a_missing_record_fails_with_the_services_message(crm):
    missing = "11111111-1111-1111-1111-111111111111"
    [outcome] = crm.provider().write([create("Orphan", _primarycontactid_value=missing)])
    assert not outcome.ok and "no longer exists" not in outcome.error
    assert f"contact With Id = {missing} Does Not Exist" in outcome.error


def test_an_update_with_a_lookup_to_a_missing_record_fails_with_the_services_message(crm):
    guid = crm.emu.store.rows("accounts")[0]["accountid"]
    missing = "11111111-1111-1111-1111-111111111111"
    change = Change(ChangeOp.UPDATE, {"accountid": guid}, {"_primarycontactid_value": missing})
    [outcome] = crm.provider().write([change])
    assert not outcome.ok and "no longer exists" not in outcome.error
    assert f"contact With Id = {missing} Does Not Exist" in outcome.error


def test_a_lookup_value_that_is_no_guid_fails_naming_the_column_and_the_value_shortened(crm):
    [outcome] = crm.provider().write([create("Odd", _primarycontactid_value="x" * 100)])
    assert not outcome.ok
    assert outcome.error == f"_primarycontactid_value: '{'x' * 56}... cannot be written as a GUID"


def test_a_key_that_is_no_guid_fails_naming_the_key_column_and_the_value(crm):
    change = Change(ChangeOp.UPDATE, {"accountid": "not-a-guid"}, {"name": "Odd"})
    [outcome] = crm.provider().write([change])
    assert not outcome.ok
    assert outcome.error == "accountid: 'not-a-guid' cannot be written as a GUID"


def test_a_guid_column_value_that_is_no_guid_fails_naming_the_column_and_the_value():
    schema = EntitySchema("things", [Column("thingid", ColumnType.GUID, key=True),
                                     Column("otherid", ColumnType.GUID)])
    writer = Writer(None, "http://x/", schema, batch_size=1, parallel=1, log=print)  # type: ignore[arg-type]
    with pytest.raises(ChangeRejected, match="^otherid: 'nope' cannot be written as a GUID$"):
        writer.body({"otherid": "nope"}, {"thingid": str(uuid.uuid4())})


def test_delete_removes_and_a_missing_row_counts_as_deleted(crm):
    guid = crm.emu.store.rows("accounts")[0]["accountid"]
    changes = [Change(ChangeOp.DELETE, {"accountid": guid}),
               Change(ChangeOp.DELETE, {"accountid": str(uuid.uuid4())})]
    assert all(o.ok for o in crm.provider().write(changes))
    assert crm.emu.store.get("accounts", guid) is None


def test_a_bad_item_fails_alone_and_the_rest_of_its_change_set_lands(crm):
    good = [create(f"Good {i}") for i in range(5)]
    bad = create("x" * 500)  # longer than name's 160 characters
    outcomes = crm.provider().write([*good[:2], bad, *good[2:]])
    assert [o.ok for o in outcomes] == [True, True, False, True, True, True]
    assert "\n" not in outcomes[2].error and outcomes[2].error
    names = {r["name"] for r in crm.emu.store.rows("accounts")}
    assert {c.values["name"] for c in good} <= names


def test_lookup_values_are_written_through_odata_bind(crm):
    contact = crm.emu.store.rows("contacts")[0]["contactid"]
    change = create("With Contact", _primarycontactid_value=contact)
    assert crm.provider().write([change])[0].ok
    row = crm.emu.store.get("accounts", change.key["accountid"])
    assert row["_primarycontactid_value"] == contact


def test_read_only_columns_are_never_sent(crm):
    change = create("Stamped", createdon="2020-01-01T00:00:00Z")
    assert crm.provider().write([change])[0].ok
    assert any("createdon is read-only" in line for line in crm.logs)


def test_unknown_column_fails_that_item_only(crm):
    outcomes = crm.provider().write([create("Fine"), create("Odd", colour="red")])
    assert [o.ok for o in outcomes] == [True, False]
    assert "no column 'colour'" in outcomes[1].error


def test_batch_size_sets_the_change_set_size(crm):
    provider = crm.provider(crm.emu.connection_string() + "BatchSize=10;")
    provider.describe()
    before = crm.emu.request_count
    assert all(o.ok for o in provider.write([create(f"B{i}") for i in range(50)]))
    assert crm.emu.request_count - before == 5


def test_a_service_gone_mid_write_stops_the_write_instead_of_retrying_each_item(open_crm):
    """No answer any more (the service hangs or went away): the write raises one ConnectError
    after a retry cycle or two, rather than retrying each of its items alone (hours on a real
    run: ~15 s of retries per item)."""
    emu = open_crm.emu
    provider = open_crm.provider(f"URL={emu.url('accounts')};Authentication=none;Timeout=0.3",
                                 parallel=1)
    provider.describe()
    changes = [create(f"Lost {i}") for i in range(300)]
    emu.faults.delay_next(10**6, 1.0)
    before = emu.request_count

    with pytest.raises(ConnectError) as caught:
        provider.write(changes)

    requests_made = emu.request_count - before
    emu.faults.clear()
    message = str(caught.value)
    assert "\n" not in message and "gave up after" in message, message
    # per change set in flight: the $batch's tries, then its first item's alone (6 each); not
    # 6 per item (1,800 here)
    assert requests_made <= 3 * 2 * 6, requests_made


def test_a_sign_in_lost_mid_write_stops_the_write_instead_of_failing_each_item(crm):
    """The service refuses the token and it cannot be renewed (the identity provider is down):
    a 401 is no item's own failure; the write raises it once instead of one error per item."""
    emu = crm.emu
    provider = crm.provider()
    provider.describe()
    changes = [create(f"Refused {i}") for i in range(120)]
    emu.idp.revoke_all()
    emu.faults.fail_next(10**6, status=503, path_contains="/oauth2/")

    with pytest.raises(ConnectError) as caught:
        provider.write(changes)

    emu.faults.clear()
    message = str(caught.value)
    assert "401" in message and "\n" not in message, message
    assert "renewing it failed" in message and "503" in message, message  # why it is refused
    assert emu.store.count("accounts") == 200


def test_a_write_that_stops_midway_reports_what_it_wrote(open_crm):
    """A change set sent one by one (its $batch failed) whose service stops answering after two
    items: the write stops, and says which were written (a create's GUID may have been made for
    this write alone: forgetting it would create the item again next run)."""
    emu = open_crm.emu
    provider = open_crm.provider(f"URL={emu.url('accounts')};Authentication=none;Timeout=0.3",
                                 parallel=1)
    provider.describe()
    changes = [Change(ChangeOp.CREATE, {}, {"name": f"Halfway {i}"}) for i in range(10)]
    emu.faults.fail_next(6, status=500, method="POST", path_contains="$batch")
    emu.faults.delay_next(2, 0.0, method="PATCH")  # two land alone, then no answer
    emu.faults.delay_next(10**6, 1.0, method="PATCH")

    with pytest.raises(WriteStopped) as caught:
        provider.write(changes)

    emu.faults.clear()
    outcomes = caught.value.outcomes
    assert [o.change for o in outcomes] == changes
    assert [o.ok for o in outcomes] == [True, True] + [False] * 8
    for outcome in outcomes[:2]:
        assert emu.store.get("accounts", outcome.key["accountid"])["name"] == \
            outcome.change.values["name"]


def test_a_service_failing_every_write_with_5xx_stops_the_write_after_a_few_items(open_crm):
    """Every request answered 503: after the change sets' retries, a few items sent alone (each
    retried) fail, and the write stops with one line instead of retrying each of its items alone
    (a day on a real run: ~15 s of retries per item)."""
    emu = open_crm.emu
    provider = open_crm.provider(emu.connection_string())
    provider.describe()
    changes = [create(f"Refused {i}") for i in range(300)]
    emu.faults.fail_next(10**6, status=503)
    before = emu.request_count

    with pytest.raises(WriteStopped) as caught:
        provider.write(changes)

    requests_made = emu.request_count - before
    emu.faults.clear()
    message = str(caught.value)
    assert "\n" not in message and "503" in message and "stopped" in message, message
    assert not any(o.ok for o in caught.value.outcomes)
    # 3 change sets in flight, 6 tries each; then 3 items in a row alone (plus those the other
    # change sets had under way), 6 tries each: not 6 per item (1,800 here)
    assert requests_made <= 3 * 6 + 5 * 6, requests_made
    assert emu.store.count("accounts") == 200


def test_an_item_failing_alone_with_5xx_among_items_that_land_does_not_stop_the_write(open_crm):
    """Records the service fails (500, every retry), one and then two in a row, while the others
    land alone: each is that item's error, not a service that fails every write."""
    emu = open_crm.emu
    provider = open_crm.provider(emu.connection_string(), parallel=1)
    provider.describe()
    changes = [create(f"Alone {i}") for i in range(10)]
    emu.faults.fail_next(6, status=500, method="POST", path_contains="$batch")
    emu.faults.fail_next(6, status=500, method="PATCH")  # the first item's every try
    emu.faults.delay_next(2, 0.0, method="PATCH")  # the next two land
    emu.faults.fail_next(12, status=500, method="PATCH")  # the fourth's and the fifth's

    outcomes = provider.write(changes)

    emu.faults.clear()
    assert [o.ok for o in outcomes] == [False, True, True, False, False] + [True] * 5
    assert "500" in outcomes[0].error and "\n" not in outcomes[0].error
    assert emu.store.count("accounts") == 207



def test_an_update_by_version_its_own_lost_try_made_is_done_not_changed_meanwhile(open_crm):
    """A change set Dataverse carried out is answered 504: each update by version sent again
    meets 412 (its own first try changed the ETag). The record holds every value sent, a lookup
    (its GUID in another case) and a decimal too: the update is done. One edited meanwhile is
    still not written over."""
    emu = open_crm.emu
    ids = [row["accountid"] for row in emu.store.rows("accounts")[:2]]
    etags = [requests.get(f"{emu.url('accounts')}({i})").json()["@odata.etag"] for i in ids]
    contact = emu.store.rows("contacts")[0]["contactid"]
    changes = [Change(ChangeOp.UPDATE, {"accountid": i},
                      {"name": "Renamed", "revenue": Decimal("12.5"),
                       "_primarycontactid_value": contact.upper()}, version=etag)
               for i, etag in zip(ids, etags, strict=True)]
    provider = open_crm.provider()
    provider.describe()
    emu.faults.fail_after_next(1, status=504, method="POST", path_contains="$batch")
    assert [(o.ok, o.changed) for o in provider.write(changes)] == [(True, False)] * 2

    emu.store.update("accounts", ids[0], {"name": "Edited meanwhile"})
    [outcome] = provider.write(changes[:1])
    assert not outcome.ok and outcome.changed
    assert emu.store.get("accounts", ids[0])["name"] == "Edited meanwhile"
