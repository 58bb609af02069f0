"""Contract tier: the simulator answers, and the exporters ask, exactly as the
providers' published OpenAPI documents say.

A full collection cycle runs against the simulator with every exchange
recorded. Each exchange is then presented to openapi-core under the
documented host and path: the request must match a declared operation (and
use only declared query parameters), and the response body must validate
against that operation's schema for its status.
"""

from __future__ import annotations

import json
import re
from functools import lru_cache
from pathlib import Path
from typing import Any

import jsonschema
import pytest
from openapi_core import OpenAPI
from openapi_core.testing import MockRequest, MockResponse
from simhelpers import make_runtime
from werkzeug.datastructures import ImmutableMultiDict

from exporters.simulator import Simulator
from exporters.simulator.server import Exchange

# The providers' published documents, trimmed (see specs/README.md), vendored so a fresh
# clone runs offline; test_vendored_specs_equal_the_shared_ones catches drift.
SPECS = Path(__file__).resolve().parent / "specs"
SHARED_SPECS = Path(__file__).resolve().parents[3] / "shared" / "provider-specs"
SPEC_FILES = {"vercel": "vercel.openapi.json", "render": "render.openapi.json",
              "supabase": "supabase.openapi.json", "openai": "openai.openapi.json",
              "llamacloud": "llamacloud.openapi.json"}
# Where each simulator prefix stands in the real API (host, and the server URL's path).
HOSTS = {"vercel": ("https://api.vercel.com", ""), "render": ("https://api.render.com", "/v1"),
         "supabase": ("https://api.supabase.com", ""), "openai": ("https://api.openai.com", "/v1"),
         "llamacloud": ("https://api.cloud.llamaindex.ai", "")}
# Documented by the providers but absent from every published OpenAPI document (docs/providers/README.md).
# Render's `GET /key-value` (docs/providers/render.md, H) is not in the vendored render.openapi.json either: its
# exchanges are checked below against the shape Render's API reference gives (KEY_VALUE_LIST),
# not against an entry invented in the vendored copy (docs/costs.md, Render).
UNDOCUMENTED = {("vercel", "/v1/billing/charges"), ("render", "/v1/key-value"),
                ("supabase", "/v1/projects/{ref}/readonly")}
# Supabase Management API reference, "Get project's readonly mode status" (v1-get-readonly-mode-status):
# GET /v1/projects/{ref}/readonly, no query parameters, 200 with this body (docs/providers/supabase.md).
READONLY_STATUS = {
    "type": "object", "required": ["enabled", "override_enabled", "override_active_until"],
    "properties": {"enabled": {"type": "boolean"}, "override_enabled": {"type": "boolean"},
                   "override_active_until": {"type": "string"}},
}
READONLY_PATH = re.compile(r"^/v1/projects/[a-z]{20}/readonly$")


def _known_path(provider: str, path: str) -> str:
    """The path as UNDOCUMENTED names it (a Supabase project's ref as its template)."""
    return "/v1/projects/{ref}/readonly" if provider == "supabase" and READONLY_PATH.match(path) else path
# Render API reference, "List Key Value instances": query parameters and the listed item.
KEY_VALUE_PARAMS = {"cursor", "limit", "name", "region", "ownerId", "environmentId",
                    "createdBefore", "createdAfter", "updatedBefore", "updatedAfter"}
KEY_VALUE_LIST = {
    "type": "array",
    "items": {
        "type": "object", "required": ["cursor", "keyValue"],
        "properties": {
            "cursor": {"type": "string"},
            "keyValue": {
                "type": "object",
                "required": ["id", "createdAt", "updatedAt", "status", "region", "plan", "name", "owner",
                             "options", "ipAllowList", "version", "dashboardUrl"],
                "properties": {
                    "id": {"type": "string"}, "name": {"type": "string"}, "version": {"type": "string"},
                    "createdAt": {"type": "string", "format": "date-time"},
                    "updatedAt": {"type": "string", "format": "date-time"},
                    "plan": {"enum": ["free", "starter", "standard", "pro", "pro_plus", "custom"]},
                    "owner": {"type": "object", "required": ["id", "name", "email"]},
                    "options": {"type": "object"}, "ipAllowList": {"type": "array"},
                    "dashboardUrl": {"type": "string"}, "environmentId": {"type": "string"},
                },
            },
        },
    },
}


@lru_cache
def spec_dict(provider: str) -> dict[str, Any]:
    spec = json.loads((SPECS / SPEC_FILES[provider]).read_text())
    if provider == "render":
        # Render's document declares `service.serviceDetails` as a oneOf of five detail
        # schemas with no discriminator and open objects, so a real web service's details
        # (healthCheckPath, openPorts, url, …) match webServiceDetails, privateServiceDetails
        # and backgroundWorkerDetails at once and can never satisfy oneOf. "Exactly one"
        # is unsatisfiable by any real response; "at least one" is what the document means.
        details = spec["components"]["schemas"]["service"]["properties"]["serviceDetails"]
        details["anyOf"] = details.pop("oneOf")
    return spec


@lru_cache
def openapi(provider: str) -> OpenAPI:
    return OpenAPI.from_dict(spec_dict(provider))


def _resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in node:
        target: Any = spec
        for part in node["$ref"].removeprefix("#/").split("/"):
            key = part.replace("~1", "/").replace("~0", "~")
            target = target[int(key)] if isinstance(target, list) else target[key]
        node = target
    return node


def _operation(provider: str, method: str, path: str) -> tuple[str, dict[str, Any], list[dict[str, Any]]] | None:
    """The declared (template, operation, parameters) matching a documented path, if any."""
    spec = spec_dict(provider)
    server_path = HOSTS[provider][1]
    relative = path.removeprefix(server_path) if server_path else path
    for template, item in spec["paths"].items():
        t_parts, p_parts = template.strip("/").split("/"), relative.strip("/").split("/")
        if len(t_parts) != len(p_parts):
            continue
        if all(t == p or (t.startswith("{") and t.endswith("}")) for t, p in zip(t_parts, p_parts, strict=True)):
            op = item.get(method.lower())
            if op is None:
                return None
            params = [_resolve(spec, p) for p in item.get("parameters", []) + op.get("parameters", [])]
            return template, op, params
    return None


def _documented(exchange: Exchange) -> tuple[str, str]:
    host, server_path = HOSTS[exchange.provider]
    return host, server_path + exchange.path


def check_exchange(exchange: Exchange, token: str) -> list[str]:
    """Every way this exchange departs from the provider's document (empty when it conforms)."""
    host, path = _documented(exchange)
    found = _operation(exchange.provider, exchange.method, path)
    if found is None:
        return [f"{exchange.method} {path}: no such operation in {SPEC_FILES[exchange.provider]}"]
    template, op, params = found
    problems = []
    declared = {p["name"] for p in params if p.get("in") == "query"}
    for name, _value in exchange.query:
        if name not in declared:
            problems.append(f"{exchange.method} {path}: query parameter {name!r} is not declared by {template}")
    request = MockRequest(host, exchange.method.lower(), path, args=ImmutableMultiDict(exchange.query),
                          headers={"Authorization": f"Bearer {token}"})
    for error in openapi(exchange.provider).iter_request_errors(request):
        problems.append(f"request {exchange.method} {path}?{exchange.query}: {error}")
    declared_statuses = set(op.get("responses", {}))
    if str(exchange.status) in declared_statuses or (200 <= exchange.status < 300):
        response = MockResponse(exchange.body, status_code=exchange.status, content_type=exchange.content_type)
        for error in openapi(exchange.provider).iter_response_errors(request, response):
            detail = getattr(error, "__cause__", None) or error
            problems.append(f"response {exchange.status} to {exchange.method} {path}: {error}: {detail}")
    return problems


@pytest.fixture
async def cycle_exchanges(simulator: Simulator) -> list[Exchange]:
    runtime, _reader = make_runtime(simulator)
    try:
        outcomes = await runtime.collector.run_cycle(force=True)
        failed = [o for o in outcomes if not o.ok]
        assert not failed, f"polls failed against the simulator: {failed}"
        simulator.world.advance(60)
        await runtime.collector.run_cycle()  # a steady-state cycle uses its own parameters (watermarks)
    finally:
        await runtime.aclose()
        runtime.meter_provider.shutdown()
    return list(simulator.stats.exchanges)


@pytest.mark.parametrize("provider", sorted(SPEC_FILES))
async def test_every_exchange_of_a_cycle_conforms_to_the_published_document(
        provider: str, simulator: Simulator, cycle_exchanges: list[Exchange]) -> None:
    mine = [e for e in cycle_exchanges if e.provider == provider]
    assert mine, f"the cycle made no {provider} requests"
    checked = [e for e in mine if (provider, _known_path(provider, _documented(e)[1])) not in UNDOCUMENTED]
    assert checked, f"no {provider} exchange is covered by its document"
    problems = [p for e in checked for p in check_exchange(e, simulator.tokens[provider])]
    assert not problems, "\n".join(problems[:20])


async def test_undocumented_endpoints_are_only_the_known_ones(cycle_exchanges: list[Exchange]) -> None:
    undeclared = {(e.provider, _known_path(e.provider, _documented(e)[1])) for e in cycle_exchanges
                  if _operation(e.provider, e.method, _documented(e)[1]) is None}
    assert undeclared <= UNDOCUMENTED


def test_the_checker_rejects_an_undeclared_parameter_and_a_wrong_body() -> None:
    """The contract check itself can fail (so a green run means something)."""
    bad_param = Exchange("render", "GET", "/services", [("colour", "blue")], 200, "application/json", b"[]")
    assert any("'colour' is not declared" in p for p in check_exchange(bad_param, "t"))
    bad_body = Exchange("openai", "GET", "/organization/costs", [("start_time", "1700000000")], 200,
                        "application/json", b'{"object": "page", "data": "not a list"}')
    assert any(p.startswith("response 200") for p in check_exchange(bad_body, "t"))
    unknown = Exchange("supabase", "GET", "/v1/nothing-here", [], 200, "application/json", b"{}")
    assert check_exchange(unknown, "t") == ["GET /v1/nothing-here: no such operation in supabase.openapi.json"]


def test_render_web_service_details_cannot_satisfy_the_published_one_of() -> None:
    """Why spec_dict() reads Render's serviceDetails oneOf as anyOf: a web service's
    details carry every field three of the alternatives require."""
    raw = json.loads((SPECS / SPEC_FILES["render"]).read_text())
    web = {"env": "python", "runtime": "python", "envSpecificDetails": {"buildCommand": "b", "startCommand": "s"},
           "plan": "standard", "region": "oregon", "numInstances": 1, "buildPlan": "starter",
           "healthCheckPath": "/", "openPorts": [], "url": "https://x"}
    schemas = raw["components"]["schemas"]
    assert "discriminator" not in schemas["service"]["properties"]["serviceDetails"]
    matching = [name for name in ("webServiceDetails", "privateServiceDetails", "backgroundWorkerDetails")
                if set(schemas[name]["required"]) <= set(web) and schemas[name].get("additionalProperties") is None]
    assert len(matching) == 3


# Operations vendored after the shared copies were made (each named in its file's info.x-source).
ADDED_SINCE_SHARED = {"supabase.openapi.json": ({"/v1/projects/{ref}/analytics/endpoints/logs.all"},
                                                {"AnalyticsResponse"})}


@pytest.mark.shared
def test_vendored_specs_equal_the_shared_ones() -> None:
    """Byte for byte, or (for a document that gained operations since) the shared one's every path and
    schema unchanged, and only the listed additions, each named in `info.x-source.trimmed_endpoints`."""
    for name in SPEC_FILES.values():
        if name not in ADDED_SINCE_SHARED:
            assert (SPECS / name).read_bytes() == (SHARED_SPECS / name).read_bytes(), name
            continue
        ours, shared = json.loads((SPECS / name).read_text()), json.loads((SHARED_SPECS / name).read_text())
        paths, schemas = ADDED_SINCE_SHARED[name]
        assert {k: v for k, v in ours["paths"].items() if k not in paths} == shared["paths"], name
        assert set(ours["paths"]) - set(shared["paths"]) == paths, name
        theirs = shared["components"]["schemas"]
        assert {k: v for k, v in ours["components"]["schemas"].items() if k not in schemas} == theirs, name
        assert ours["servers"] == shared["servers"] and ours["openapi"] == shared["openapi"], name
        trimmed = ours["info"]["x-source"]["trimmed_endpoints"]
        assert all(f"GET {path}" in trimmed for path in paths), name


async def test_supabase_readonly_exchanges_follow_the_management_api_reference(cycle_exchanges: list[Exchange]) -> None:
    """`GET /v1/projects/{ref}/readonly` is outside the vendored document: the exporter sends no query
    parameter and every answer validates against the reference's body."""
    exchanges = [e for e in cycle_exchanges if e.provider == "supabase" and READONLY_PATH.match(e.path)]
    assert exchanges, "the cycle did not read any project's read-only status"
    for e in exchanges:
        assert e.method == "GET" and not e.query and e.status == 200, e
        jsonschema.validate(json.loads(e.body), READONLY_STATUS)
    with pytest.raises(jsonschema.ValidationError):  # the check can fail: the flag as a string
        jsonschema.validate({**json.loads(exchanges[0].body), "enabled": "true"}, READONLY_STATUS)


async def test_render_key_value_exchanges_follow_renders_api_reference(cycle_exchanges: list[Exchange]) -> None:
    """`GET /key-value` is outside the vendored document: the exporter's requests use only the
    reference's parameters and every answer validates against the reference's list shape."""
    exchanges = [e for e in cycle_exchanges if e.provider == "render" and e.path == "/key-value"]
    assert exchanges, "the cycle did not list Key Value instances"
    for e in exchanges:
        assert {name for name, _ in e.query} <= KEY_VALUE_PARAMS, e.query
        assert e.status == 200
        body = json.loads(e.body)
        jsonschema.validate(body, KEY_VALUE_LIST, format_checker=jsonschema.FormatChecker())
        assert body, "the simulated workspace has Key Value instances"
    with pytest.raises(jsonschema.ValidationError):  # the check can fail: a plan Render does not have
        jsonschema.validate([{"cursor": "x", "keyValue": {**json.loads(exchanges[0].body)[0]["keyValue"],
                                                          "plan": "mega"}}], KEY_VALUE_LIST)
