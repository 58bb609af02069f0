"""What a drain body and its events may be, and the error that names what is wrong with one
(found by mutation testing, docs/testing.md). The receiver's answers: test_vercel_drain_receiver.py."""

from __future__ import annotations

import pytest

from exporters.providers.vercel.drains import (
    CRASH_STATUS,
    SPEED_INSIGHTS_SCHEMA,
    InvalidEvent,
    VitalEvent,
    _signature,
    parse_batch,
    parse_log_event,
    parse_vital_event,
    status_class,
)

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


SHOP = {**LOG, "projectName": "shop"}


@pytest.mark.parametrize(("event", "message"), [
    ([SHOP], "event is not an object"),
    ({**SHOP, "source": ""}, "`source` must be a non-empty string"),
    ({**SHOP, "source": 7}, "`source` must be a non-empty string"),
    ({**SHOP, "timestamp": "1800000000000"}, "`timestamp` must be a number (ms)"),
    ({**SHOP, "timestamp": True}, "`timestamp` must be a number (ms)"),
    ({**SHOP, "proxy": []}, "`proxy` must be an object"),
    ({**SHOP, "proxy": {"vercelCache": 1}}, "`proxy.vercelCache` must be a string"),
])
def test_an_invalid_log_event_is_refused_naming_the_field(event, message: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_log_event(event)
    assert str(error.value) == message


def test_a_log_events_source_cache_and_status_come_from_the_documented_fields() -> None:
    event = parse_log_event({**SHOP, "source": "edge", "statusCode": 200,
                             "proxy": {"statusCode": 404, "vercelCache": "hit"}})
    assert (event.project, event.source, event.status_class, event.cache, event.crashed) == (
        "shop", "edge", "4xx", "HIT", False)  # the proxy's status is what the client saw
    other = parse_log_event({**SHOP, "source": "somewhere-new", "statusCode": 503, "proxy": {"vercelCache": "WARM"}})
    assert (other.source, other.status_class, other.cache) == ("other", "5xx", "other")
    plain = parse_log_event({**SHOP, "source": "build", "statusCode": None})
    assert (plain.status_class, plain.cache, plain.crashed) == (None, "none", False)
    crash = parse_log_event({**SHOP, "statusCode": CRASH_STATUS})
    assert (crash.status_class, crash.crashed) == ("5xx", True)


VITAL = {"schema": SPEED_INSIGHTS_SCHEMA, "projectId": "prj_1", "metricType": "LCP", "value": 2500}


@pytest.mark.parametrize(("event", "message"), [
    ("LCP", "event is not an object"),
    ({**VITAL, "schema": "other"}, f"`schema` is not {SPEED_INSIGHTS_SCHEMA}"),
    ({**VITAL, "metricType": "XYZ"}, "`metricType` is not one of CLS, LCP, FID, FCP, TTFB, INP"),
    ({**VITAL, "value": -1}, "`value` must be a finite number >= 0"),
    ({**VITAL, "value": float("inf")}, "`value` must be a finite number >= 0"),
    ({**VITAL, "value": True}, "`value` must be a finite number >= 0"),
])
def test_an_invalid_vital_is_refused_naming_the_field(event, message: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_vital_event(event)
    assert str(error.value) == message


def test_timings_arrive_in_milliseconds_and_are_kept_in_seconds_cls_unitless() -> None:
    names = {"prj_1": "web"}.get
    assert parse_vital_event(VITAL, names) == VitalEvent(project="web", metric="LCP", value=2.5)
    assert parse_vital_event({**VITAL, "metricType": "CLS", "value": 0.25}).value == 0.25
    assert parse_vital_event({**VITAL, "value": 0}).value == 0.0  # 0 ms is a (fast) timing


@pytest.mark.parametrize("header", [None, "", "a" * 39, "a" * 41, "A" * 40, "X" * 40, "g" * 40, "é" * 40])
def test_a_signature_header_that_is_not_40_lowercase_hex_digits_is_no_signature(header) -> None:
    assert _signature(header) is None


def test_a_signature_header_is_its_40_hex_digits_around_optional_whitespace() -> None:
    digest = "0123456789abcdef" * 2 + "01234567"
    assert _signature(f" {digest}\t") == digest.encode()
