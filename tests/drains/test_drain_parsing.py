"""What a drain body and its events may be, and the error that names what is wrong with one
(found by mutation testing, docs/testing.md). The receiver's answers: test_vercel_drain_receiver.py."""

from __future__ import annotations

import json

import pytest

from exporters.providers.vercel.drains import (
    CRASH_STATUS,
    OTHER_ROUTE,
    ROUTES_PER_PROJECT,
    SPEED_INSIGHTS_SCHEMA,
    FunctionSpan,
    InvalidEvent,
    VitalEvent,
    _attributes,
    _bounded_route,
    _signature,
    parse_batch,
    parse_log_event,
    parse_trace_export,
    parse_trace_span,
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


# --- trace drains (OTLP/HTTP trace exports) ---

def otlp(*resource_spans: object) -> bytes:
    return json.dumps({"resourceSpans": list(resource_spans)}).encode()


def attrs(**values: object) -> list[dict]:
    return [{"key": k, "value": {"stringValue": v} if isinstance(v, str) else {"intValue": v}} for k, v in values.items()]


SPAN = {"name": "GET /api/users", "kind": "server", "startTimeUnixNano": "1000000000", "endTimeUnixNano": "1150000000"}
RESOURCE = {"vercel.projectId": "prj_1"}


def test_a_json_trace_export_becomes_resource_attributes_and_span_pairs() -> None:
    body = otlp({"resource": {"attributes": attrs(**{"vercel.projectId": "prj_1", "n": 3})},
                 "scopeSpans": [{"spans": [SPAN, {**SPAN, "name": "GET /b"}]}, {"spans": [SPAN]}]},
                {"scopeSpans": [{"spans": [SPAN]}]})  # no resource: no attributes
    assert parse_trace_export(body, "application/json") == [
        ({"vercel.projectId": "prj_1", "n": 3}, SPAN), ({"vercel.projectId": "prj_1", "n": 3}, {**SPAN, "name": "GET /b"}),
        ({"vercel.projectId": "prj_1", "n": 3}, SPAN), ({}, SPAN)]


def test_an_export_without_resource_spans_is_empty_not_malformed() -> None:
    assert parse_trace_export(b"{}", "application/json") == []
    assert parse_trace_export(otlp({"resource": {}}), "") == []  # a resource without scopeSpans: no span


@pytest.mark.parametrize(("resource_spans", "expected"), [
    ("not an object", [(None, None)]),
    (["not an object", {"scopeSpans": [{"spans": [SPAN]}]}], [(None, None), ({}, SPAN)]),  # and the rest is read
    ({"resource": "not an object", "scopeSpans": [{"spans": [SPAN]}]}, [({}, SPAN)]),
    ({"resource": {"attributes": "not a list"}, "scopeSpans": [{"spans": [SPAN]}]}, [(None, SPAN)]),
    ({"scopeSpans": ["not an object"]}, [({}, None)]),
    ({"scopeSpans": [{"spans": "not a list"}]}, [({}, None)]),
    ({"scopeSpans": [{}]}, [({}, None)]),
])
def test_each_malformed_part_of_an_export_becomes_one_invalid_item(resource_spans: object, expected: list) -> None:
    parts = resource_spans if isinstance(resource_spans, list) else [resource_spans]
    assert parse_trace_export(otlp(*parts), "application/json") == expected


@pytest.mark.parametrize(("body", "content_type", "message"), [
    (b"\xff\xfe", "application/json", "body is not an OTLP JSON trace export"),
    (b"{not json", "", "body is not an OTLP JSON trace export"),
    (b"[1]", "application/json", "body has no `resourceSpans` list"),
    (b'{"resourceSpans": {}}', "application/json", "body has no `resourceSpans` list"),
    (b"\xff\x00not protobuf", "application/x-protobuf", "body is not an OTLP protobuf trace export"),
    (b"\xff\x00not protobuf", "Application/X-Protobuf; charset=binary", "body is not an OTLP protobuf trace export"),
])
def test_an_unreadable_trace_export_is_refused_naming_the_encoding_tried(body: bytes, content_type: str,
                                                                         message: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_trace_export(body, content_type)
    assert str(error.value) == message


def test_a_protobuf_export_is_read_whatever_the_media_types_case_and_parameters() -> None:
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest
    from opentelemetry.proto.common.v1.common_pb2 import AnyValue, KeyValue
    from opentelemetry.proto.trace.v1.trace_pb2 import ResourceSpans, ScopeSpans, Span

    export = ExportTraceServiceRequest(resource_spans=[ResourceSpans(
        resource={"attributes": [KeyValue(key="vercel.projectId", value=AnyValue(string_value="prj_9"))]},
        scope_spans=[ScopeSpans(spans=[Span(name="GET /", kind=Span.SPAN_KIND_SERVER, start_time_unix_nano=10**18,
                                            end_time_unix_nano=10**18 + 300_000_000)])])]).SerializeToString()
    for content_type in ("application/x-protobuf", " APPLICATION/X-PROTOBUF ; proto=x"):
        [(resource, span)] = parse_trace_export(export, content_type)
        assert resource == {"vercel.projectId": "prj_9"}
        assert parse_trace_span((resource, span)) == FunctionSpan("prj_9", "/", 0.3)


@pytest.mark.parametrize(("items", "expected"), [
    (None, {}),
    ([], {}),
    (attrs(a="x", b=2), {"a": "x", "b": 2}),
    ([{"key": "a", "value": {}}], {"a": None}),  # no value: known key, no value
    ([{"key": "a", "value": {"stringValue": "x", "intValue": 1}}], {"a": None}),  # two values: neither
    ("not a list", None),
    (["not an object"], None),
    ([{"key": 1, "value": {"stringValue": "x"}}], None),
    ([{"key": "a", "value": "x"}], None),
    ([*attrs(a="x"), {"value": {"stringValue": "y"}}], None),
])
def test_otlp_attributes_become_a_mapping_or_none_when_malformed(items: object, expected: object) -> None:
    assert _attributes(items) == expected


def test_a_server_spans_time_is_its_end_minus_start_in_seconds_labelled_by_project_and_route() -> None:
    names = {"prj_1": "web"}.get
    assert parse_trace_span((RESOURCE, SPAN), names) == FunctionSpan("web", "/api/users", 0.15)
    assert parse_trace_span(({"vercel.projectId": "prj_2"}, SPAN), names) == FunctionSpan("prj_2", "/api/users", 0.15)
    assert parse_trace_span((RESOURCE, SPAN)) == FunctionSpan("prj_1", "/api/users", 0.15)
    numbers = {**SPAN, "startTimeUnixNano": 5, "endTimeUnixNano": 5}  # integers accepted; 0 s is a time
    assert parse_trace_span((RESOURCE, numbers)).seconds == 0.0


@pytest.mark.parametrize("kind", [2, "SPAN_KIND_SERVER", "server"])
def test_every_form_of_the_server_kind_is_an_invocation(kind: object) -> None:
    assert parse_trace_span((RESOURCE, {**SPAN, "kind": kind})).seconds == pytest.approx(0.15)


@pytest.mark.parametrize("kind", [3, "SPAN_KIND_CLIENT", "client", 1, "internal", None])
def test_a_span_of_another_kind_is_accepted_but_no_invocation(kind: object) -> None:
    assert parse_trace_span((RESOURCE, {**SPAN, "kind": kind})) == FunctionSpan("prj_1", "/api/users", None)


@pytest.mark.parametrize(("span", "route"), [
    ({**SPAN, "attributes": attrs(**{"http.route": "/api/users/[id]"})}, "/api/users/[id]"),  # http.route wins
    ({**SPAN, "attributes": attrs(**{"http.route": ""})}, "/api/users"),  # empty: the name's path
    ({**SPAN, "attributes": attrs(**{"http.route": 7})}, "/api/users"),
    ({**SPAN, "name": "GET /a b"}, "/a b"),  # the name after the method, spaces and all
    ({**SPAN, "name": "GET api/users"}, "other"),  # not a path
    ({**SPAN, "name": "/api/users"}, "other"),  # no method
    ({**SPAN, "name": "GET\t/api/users"}, "other"),  # OTel's name is `{method} {target}`: one space
    ({**SPAN, "name": "GET  /api/users"}, "other"),
    ({**SPAN, "name": 7}, "other"),
    ({k: v for k, v in SPAN.items() if k != "name"}, "other"),
    ({**SPAN, "name": "GET /" + "a" * 127}, "/" + "a" * 127),  # 128 characters: kept
    ({**SPAN, "name": "GET /" + "a" * 128}, "other"),  # 129: `other`
])
def test_a_spans_route_is_http_route_else_the_path_in_its_name_else_other(span: dict, route: str) -> None:
    assert parse_trace_span((RESOURCE, span)).route == route


@pytest.mark.parametrize(("item", "message"), [
    ("not a pair", "resource attributes are malformed"),
    ((RESOURCE, SPAN, None), "resource attributes are malformed"),
    ((None, SPAN), "resource attributes are malformed"),
    ((RESOURCE, None), "span is not an object"),
    (({}, SPAN), "resource attribute `vercel.projectId` is missing"),
    (({"vercel.projectId": ""}, SPAN), "resource attribute `vercel.projectId` is missing"),
    (({"vercel.projectId": 7}, SPAN), "resource attribute `vercel.projectId` is missing"),
    ((RESOURCE, {**SPAN, "startTimeUnixNano": "soon"}), "`startTimeUnixNano` must be an integer (ns)"),
    ((RESOURCE, {**SPAN, "startTimeUnixNano": 1.5}), "`startTimeUnixNano` must be an integer (ns)"),
    ((RESOURCE, {**SPAN, "startTimeUnixNano": True}), "`startTimeUnixNano` must be an integer (ns)"),
    ((RESOURCE, {**SPAN, "endTimeUnixNano": None}), "`endTimeUnixNano` must be an integer (ns)"),
    ((RESOURCE, {**SPAN, "endTimeUnixNano": "999999999"}), "span ends before it starts"),
    ((RESOURCE, {**SPAN, "attributes": "not a list"}), "span attributes are malformed"),
])
def test_an_invalid_span_is_refused_naming_what_is_wrong(item: object, message: str) -> None:
    with pytest.raises(InvalidEvent) as error:
        parse_trace_span(item)
    assert str(error.value) == message


def test_a_project_keeps_its_first_routes_and_counts_later_ones_as_other() -> None:
    routes: dict[str, set[str]] = {}
    assert _bounded_route(routes, "web", OTHER_ROUTE) == OTHER_ROUTE  # `other` takes no place
    kept = [f"/r{n}" for n in range(ROUTES_PER_PROJECT)]
    assert [_bounded_route(routes, "web", r) for r in kept] == kept
    assert _bounded_route(routes, "web", "/late") == OTHER_ROUTE
    assert _bounded_route(routes, "web", kept[0]) == kept[0]  # a kept route stays kept
    assert _bounded_route(routes, "shop", "/late") == "/late"  # each project has its own routes
    assert routes["web"] == set(kept)
