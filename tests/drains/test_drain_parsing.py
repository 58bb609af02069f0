"""What a drain body and its events may be, and the error that names what is wrong with one
(found by mutation testing, docs/testing.md). The receiver's answers: test_vercel_drain_receiver.py."""

from __future__ import annotations

import pytest

from exporters.providers.vercel.drains import CRASH_STATUS, InvalidEvent, parse_batch, parse_log_event, status_class

DEEP = b"[" * 100_000  # far past the JSON parser's recursion limit


@pytest.mark.parametrize(("body", "message"), [
    (b"\xff\xfe[]", "body is not UTF-8"),
    (b" \n\t ", "empty body"),
    (b"[1, 2", "body is not a JSON array"),
    (b"[1] [2]", "body is not a JSON array"),
    (DEEP, "body is nested too deeply"),
    (b'{"a": 1}\n\nnot json', "NDJSON line 3 is not JSON"),
    (b'{"a": 1}\n' + DEEP, "NDJSON line 2 is nested too deeply"),
])
def test_an_unreadable_body_is_refused_naming_what_is_wrong(body: bytes, message: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_batch(body)
    assert str(error.value) == message


def test_ndjson_skips_blank_lines_and_reads_every_line_after_them() -> None:
    assert parse_batch(b'{"a": 1}\n\n  \n{"b": 2}\n') == [{"a": 1}, {"b": 2}]


LOG = {"source": "lambda", "timestamp": 1_800_000_000_000, "statusCode": 200}


def test_a_project_is_named_by_projectName_else_by_its_id_through_the_lookup_else_by_the_id() -> None:
    names = {"prj_1": "web"}.get
    assert parse_log_event({**LOG, "projectName": "shop", "projectId": "prj_1"}, names).project == "shop"
    assert parse_log_event({**LOG, "projectId": "prj_1"}, names).project == "web"
    assert parse_log_event({**LOG, "projectId": "prj_2"}, names).project == "prj_2"
    assert parse_log_event({**LOG, "projectId": "prj_1"}).project == "prj_1"
    # a name that is not a string is no name
    assert parse_log_event({**LOG, "projectName": 123, "projectId": "prj_1"}, names).project == "web"


@pytest.mark.parametrize("fields", [{}, {"projectName": ""}, {"projectName": "", "projectId": 5}])
def test_an_event_without_a_project_name_or_id_string_is_invalid(fields: dict) -> None:
    with pytest.raises(InvalidEvent, match="^neither `projectName` nor `projectId` is a non-empty string$"):
        parse_log_event({**LOG, **fields})


@pytest.mark.parametrize(("fields", "key"), [({"statusCode": "200"}, "statusCode"),
                                             ({"proxy": {"statusCode": 2.5}}, "proxy.statusCode"),
                                             ({"statusCode": True}, "statusCode")])
def test_a_status_code_that_is_not_an_integer_is_invalid_naming_its_key(fields: dict, key: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_log_event({**LOG, "projectName": "shop", **fields})
    assert str(error.value) == f"`{key}` must be an integer"


@pytest.mark.parametrize(("code", "expected"), [(CRASH_STATUS, "5xx"), (99, "other"), (100, "1xx"), (101, "1xx"),
                                                (404, "4xx"), (598, "5xx"), (599, "5xx"), (600, "other")])
def test_status_classes_cover_100_to_599_and_a_crash_is_a_5xx(code: int, expected: str) -> None:
    assert status_class(code) == expected
