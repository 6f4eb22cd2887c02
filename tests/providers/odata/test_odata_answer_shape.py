"""A service answer that is JSON but not the shape the Web API gives: one line naming the
request and what was wrong (a ConnectError), never a KeyError or a traceback."""

from __future__ import annotations

from operator import itemgetter

import pytest

from l2tui.errors import ConnectError

NO_VALUE = "the answer has no 'value' list (is the URL the Web API's?)"

METADATA = [
    # (path, query, body, what the error says after "GET <url>: ")
    ("/EntityDefinitions", "EntitySetName", b"null", NO_VALUE),
    ("/EntityDefinitions", "EntitySetName", b'{"value": 5}', NO_VALUE),
    ("/EntityDefinitions", "EntitySetName", b'{"value": [{"EntitySetName": "accounts"}]}',
     "an item of the answer's 'value' list has no 'LogicalName' text"),
    ("/Attributes", "AttributeType", b'{"error": "Proxy: upstream timed out"}', NO_VALUE),
    ("/Attributes", "AttributeType", b'{"value": [5]}',
     "an item of the answer's 'value' list is a number, not an object"),
    ("/Attributes", "AttributeType", b'{"value": [{"AttributeType": "String"}]}',
     "an item of the answer's 'value' list has no 'LogicalName' text"),
    ("/Attributes", "AttributeType", b'{"value": [{"LogicalName": "name"}]}',
     "an item of the answer's 'value' list has no 'AttributeType' text"),
    ("StringAttributeMetadata", None, b"[]", NO_VALUE),
    ("StringAttributeMetadata", None, b'{"value": [{"MaxLength": 100}]}',
     "an item of the answer's 'value' list has no 'LogicalName' text"),
    ("/ManyToOneRelationships", None, b'{"value": null}', NO_VALUE),
    ("/ManyToOneRelationships", None, b'{"value": [{"ReferencingAttribute": "x"}]}',
     "an item of the answer's 'value' list has no 'ReferencingEntityNavigationPropertyName' "
     "text"),
]


@pytest.mark.parametrize(("path", "query", "body", "said"), METADATA)
def test_a_metadata_answer_of_another_shape_is_one_line_naming_the_request(
        open_crm, path, query, body, said):
    open_crm.emu.faults.answer_next(1, body, path_contains=path, query_contains=query)
    with pytest.raises(ConnectError) as caught:
        open_crm.provider().describe()
    request, _, what = str(caught.value).partition(": ")
    assert request.startswith(f"GET {open_crm.emu.base_url}") and path.strip("/") in request
    assert "?" not in request  # (the query left out: it may hold a filter's values)
    assert what == said


DATA = [
    (b"null", "the answer has no 'value' list"),
    (b'{"error": {"code": "", "message": "gateway"}}', "the answer has no 'value' list"),
    (b'{"value": {"name": "x"}}', "the answer has no 'value' list"),
    (b'{"value": ["x"]}', "an item of the answer's 'value' list is a text, not an object"),
    (b'{"value": [], "@odata.nextLink": 5}', "the answer's '@odata.nextLink' is a number, not a "
                                            "link"),
    (b'{"value": [], "@odata.deltaLink": ["x"]}', "the answer's '@odata.deltaLink' is a list, not "
                                                 "a link"),
]


@pytest.mark.parametrize(("body", "said"), DATA)
def test_a_data_page_of_another_shape_is_one_line_naming_the_request(open_crm, body, said):
    provider = open_crm.provider()
    provider.describe()
    open_crm.emu.faults.answer_next(1, body, path_contains="/accounts")
    with pytest.raises(ConnectError) as caught:
        list(provider.read())
    assert str(caught.value) == f"GET {open_crm.emu.url('accounts')}: {said}"


@pytest.mark.parametrize(("body", "said"), DATA[:1] + DATA[4:5])
def test_a_later_data_page_of_another_shape_is_one_line_naming_the_request(
        open_crm, body, said):
    provider = open_crm.provider(open_crm.emu.connection_string() + "PageSize=50;")
    pages = iter(provider.read())
    next(pages)
    open_crm.emu.faults.answer_next(1, body, path_contains="/accounts")
    with pytest.raises(ConnectError) as caught:
        list(pages)
    assert str(caught.value) == f"GET {open_crm.emu.url('accounts')}: {said}"


def test_verify_says_a_metadata_answer_of_another_shape_in_one_line(open_crm):
    open_crm.emu.faults.answer_next(1, b"null", path_contains="/Attributes",
                                    query_contains="AttributeType")
    result = open_crm.provider().verify()
    assert not result.ok and result.message.endswith(NO_VALUE), result.message


def test_an_attribute_whose_required_level_is_no_object_is_read_as_not_required(open_crm):
    body = b'{"value": [{"LogicalName": "accountid", "AttributeType": "Uniqueidentifier", ' \
        b'"IsPrimaryId": true}, {"LogicalName": "name", "AttributeType": "String", ' \
        b'"IsValidForCreate": true, "RequiredLevel": "SystemRequired"}]}'
    open_crm.emu.faults.answer_next(1, body, path_contains="/Attributes",
                                    query_contains="AttributeType")
    columns = {c.name: c for c in open_crm.provider().describe()}
    assert list(columns) == ["accountid", "name"] and columns["name"].nullable


def test_a_by_key_page_of_another_shape_is_one_line_naming_the_request(open_crm):
    """Keys first (a seen filter, no change tracking): the request for the rows not seen."""
    provider = open_crm.provider(select="$select=name,statecode&$filter=statecode eq 0")
    open_crm.emu.faults.answer_next(1, b'{"value": 3}',
                                    query_contains="Microsoft.Dynamics.CRM.In")
    with pytest.raises(ConnectError) as caught:
        list(provider.read(seen=lambda keys, versions: set(range(1, len(keys)))))
    assert str(caught.value) == f"GET {open_crm.emu.url('accounts')}: the answer has no 'value' list"


def test_a_page_of_another_shape_is_one_line_when_decoded_in_the_second_process(make_crm):
    crm = make_crm(rows=10_000, auth=False)
    pages = iter(crm.provider(crm.emu.connection_string() + "PageSize=1000;")
                 .read(transform=itemgetter("accountid")))
    next(pages), next(pages)  # (the first decoded here, the second there)
    crm.emu.faults.answer_next(1, b'{"value": 7}', method="GET", path_contains="/accounts")
    with pytest.raises(ConnectError) as caught:
        list(pages)
    assert str(caught.value) == f"GET {crm.emu.url('accounts')}: the answer has no 'value' list"
    assert "decoding the pages in a second process" in crm.logs


def test_a_lookups_targets_given_as_a_text_is_read_as_the_one_table_name(open_crm):
    open_crm.emu.faults.answer_next(
        1, b'{"value": [{"LogicalName": "primarycontactid", "Targets": "contact"}]}',
        path_contains="LookupAttributeMetadata")
    columns = {c.name: c for c in open_crm.provider().describe()}
    assert columns["_primarycontactid_value"].lookup_target == "contacts"
    assert not [line for line in open_crm.logs if "no entity set found" in line], open_crm.logs


@pytest.mark.parametrize(("targets", "said"), [
    (b"5", "a number as its 'Targets', not a list of table names"),
    (b'{"name": "contact"}', "an object as its 'Targets', not a list of table names"),
    (b'["contact", 5]', "a number in its 'Targets' list, not a table name"),
    (b"[null]", "null in its 'Targets' list, not a table name"),
])
def test_a_lookups_targets_of_another_shape_is_one_line_naming_the_request(open_crm, targets,
                                                                            said):
    open_crm.emu.faults.answer_next(
        1, b'{"value": [{"LogicalName": "primarycontactid", "Targets": ' + targets + b"}]}",
        path_contains="LookupAttributeMetadata")
    with pytest.raises(ConnectError) as caught:
        open_crm.provider().describe()
    url = open_crm.emu.url("EntityDefinitions(LogicalName='account')/Attributes/"
                           "Microsoft.Dynamics.CRM.LookupAttributeMetadata")
    assert str(caught.value) == f"GET {url}: an item of the answer's 'value' list has {said}"
