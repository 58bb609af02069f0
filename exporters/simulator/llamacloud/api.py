"""LlamaCloud request parsing, as `llamacloud.openapi.json` documents it (a FastAPI service).

`GET /api/v1/beta/usage-metrics` takes `organization_id` (required, a UUID), filters
`project_id`, `user_id`, `event_types` and `days` (arrays: repeated keys, as FastAPI reads
them, and also `event_types[]=` and comma-joined values, as other clients send them),
`day_on_or_after` / `day_on_or_before` (YYYY-MM-DD), `event_aggregation_type`,
`event_aggregation_key`, `credits_consumed_greater_than_or_equal`, `page_size`,
`page_token` and `include_total`. A parameter FastAPI cannot validate is a 422 with its
`HTTPValidationError` body: `{"detail": [{"loc": ["query", name], "msg", "type"}]}`.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import date

from aiohttp import web
from multidict import MultiMapping

from exporters.simulator.params import array_param, parse_bool, parse_int, scalar_param


def validation_error(field: str, message: str, kind: str) -> web.Response:
    return web.json_response({"detail": [{"loc": ["query", field], "msg": message, "type": kind}]}, status=422)


class Invalid(ValueError):
    def __init__(self, field: str, message: str, kind: str):
        super().__init__(message)
        self.response = validation_error(field, message, kind)


@dataclass(frozen=True)
class UsageQuery:
    organization_id: str
    project_id: str | None
    user_id: str | None
    event_types: frozenset[str]
    days: frozenset[str]
    first: date
    last: date
    min_credits: float | None
    aggregation_type: str | None
    aggregation_key: str | None
    page_size: int
    offset_token: str | None
    include_total: bool


def _uuid(q: MultiMapping[str], name: str, *, required: bool) -> str | None:
    value = scalar_param(q, name)
    if value is None or value == "":
        if required:
            raise Invalid(name, "Field required", "missing")
        return None
    try:
        uuid.UUID(value)
    except ValueError:
        raise Invalid(name, "Input should be a valid UUID", "uuid_parsing") from None
    return value


def _day(q: MultiMapping[str], name: str) -> date | None:
    value = scalar_param(q, name)
    if not value:
        return None
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise Invalid(name, "Input should be a valid date in the format YYYY-MM-DD", "date_from_datetime_parsing") \
            from None


def parse_usage_query(q: MultiMapping[str], default_page_size: int, max_page_size: int) -> UsageQuery:
    organization = _uuid(q, "organization_id", required=True)
    assert organization is not None
    page_size = default_page_size
    if "page_size" in q:
        parsed = parse_int(scalar_param(q, "page_size"))
        if parsed is None or parsed < 1:
            raise Invalid("page_size", "Input should be a valid positive integer", "int_parsing")
        page_size = min(parsed, max_page_size)
    min_credits = None
    if (raw := scalar_param(q, "credits_consumed_greater_than_or_equal")) is not None:
        try:
            min_credits = float(raw)
        except ValueError:
            raise Invalid("credits_consumed_greater_than_or_equal", "Input should be a valid number",
                          "float_parsing") from None
    try:
        include_total = parse_bool(scalar_param(q, "include_total")) or False
    except ValueError:
        raise Invalid("include_total", "Input should be a valid boolean", "bool_parsing") from None
    days = array_param(q, "days")
    for day in days:
        try:
            date.fromisoformat(day)
        except ValueError:
            raise Invalid("days", "Input should be a valid date in the format YYYY-MM-DD", "date_parsing") from None
    return UsageQuery(
        organization_id=organization, project_id=_uuid(q, "project_id", required=False),
        user_id=scalar_param(q, "user_id") or None, event_types=frozenset(array_param(q, "event_types")),
        days=frozenset(days), first=_day(q, "day_on_or_after") or date(1970, 1, 1),
        last=_day(q, "day_on_or_before") or date(9999, 12, 31), min_credits=min_credits,
        aggregation_type=scalar_param(q, "event_aggregation_type") or None,
        aggregation_key=scalar_param(q, "event_aggregation_key") or None,
        page_size=page_size, offset_token=scalar_param(q, "page_token") or None, include_total=include_total)


def filters_item_bodies(query: UsageQuery) -> bool:
    """Whether a filter reads fields only the item's JSON body carries."""
    return any(v is not None for v in (query.user_id, query.aggregation_type, query.aggregation_key,
                                       query.min_credits))


def body_matches(query: UsageQuery, item: dict) -> bool:
    if query.user_id is not None and item.get("user_id") != query.user_id:
        return False
    if query.aggregation_type is not None and item.get("event_aggregation_type") != query.aggregation_type:
        return False
    if query.aggregation_key is not None and item.get("event_aggregation_key") != query.aggregation_key:
        return False
    credits = item.get("credits")
    return query.min_credits is None or (credits is not None and credits >= query.min_credits)
