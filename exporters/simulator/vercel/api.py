"""Vercel request rules that apply across endpoints (scope, array filters), as vercel.openapi.json documents.

- Scope: every call may name the team by `teamId` or by `slug`; naming a team the
  token cannot see is a 403 `{"error": {"code": "forbidden", "message"}}`. With
  neither, the simulator serves the team (the token is a team token).
- `/v6/deployments`: `projectId` (id or name) or `projectIds` (comma-joined or repeated;
  not both), `app` (deployment name), `target`, `state` (comma-joined, validated),
  `since`/`until` in ms, and their deprecated aliases `from`/`to`.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from aiohttp import web
from multidict import MultiMapping

from exporters.simulator.params import array_param, scalar_param

STATES = ("BUILDING", "ERROR", "INITIALIZING", "QUEUED", "READY", "CANCELED")
SEARCH_MAX_LENGTH = 100  # /v10/projects `search`: maxLength in the document

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error(status: int, code: str, message: str) -> web.Response:
    return web.json_response({"error": {"code": code, "message": message}}, status=status)


def scoped(handler: Handler, team_id: str, team_slug: str) -> Handler:
    """`handler` behind Vercel's team-scope check (`teamId` or `slug`)."""
    async def check(request: web.Request) -> web.StreamResponse:
        team = scalar_param(request.query, "teamId")
        slug = scalar_param(request.query, "slug")
        if (team is not None and team != team_id) or (slug is not None and slug != team_slug):
            return error(403, "forbidden", "Not authorized: the token has no access to this team")
        return await handler(request)
    return check


def deployment_states(query: MultiMapping[str]) -> set[str] | None:
    """The `state` filter (comma-joined or repeated, any case); ValueError for an unknown state."""
    states = {s.upper() for s in array_param(query, "state")}
    unknown = sorted(states - set(STATES))
    if unknown:
        raise ValueError(f"`state` {unknown[0]!r} is not one of {', '.join(STATES)}")
    return states or None


def project_filter(query: MultiMapping[str]) -> set[str] | None:
    """Project ids or names from `projectId` or `projectIds`; ValueError when both are given."""
    single = scalar_param(query, "projectId")
    several = array_param(query, "projectIds")
    if single and several:
        raise ValueError("`projectIds` cannot be used when `projectId` is specified")
    if single:
        return {single}
    return set(several) or None


def since_until(query: MultiMapping[str]) -> tuple[str | None, str | None]:
    """`since`/`until`, or the deprecated `from`/`to` when those are absent."""
    return (scalar_param(query, "since") or scalar_param(query, "from"),
            scalar_param(query, "until") or scalar_param(query, "to"))


def project_search(query: MultiMapping[str]) -> str | None:
    search = scalar_param(query, "search")
    if search is not None and len(search) > SEARCH_MAX_LENGTH:
        raise ValueError(f"`search` must be at most {SEARCH_MAX_LENGTH} characters")
    return search.lower() if search else None


def drains(query: MultiMapping[str], team_id: str, project_ids: list[str], created_ms: int) -> web.Response:
    """`GET /v1/drains`: the team's log, Speed Insights and trace drains (the ones stackwatch receives),
    optionally only those covering `projectId`."""
    include = scalar_param(query, "includeMetadata")
    if include is not None and include.lower() not in ("true", "false"):
        return error(400, "bad_request", "`includeMetadata` must be true or false")
    items = []
    for n, (name, schema, encoding) in enumerate((("stackwatch logs", "log", "ndjson"),
                                                  ("stackwatch speed insights", "speed_insights", "json"),
                                                  ("stackwatch traces", "trace", "json"))):
        items.append({
            "id": f"drn_sim{n:021d}", "ownerId": team_id, "teamId": team_id, "name": name,
            "createdAt": created_ms, "updatedAt": created_ms, "createdFrom": "self-served",
            "source": {"kind": "self-served"}, "projectIds": list(project_ids), "schemas": {schema: {}},
            "delivery": {"type": "http", "endpoint": "https://stackwatch.example.com/drains/vercel",
                         "encoding": encoding, "compression": "none", "headers": {}},
            "status": "enabled"})
    if project := scalar_param(query, "projectId"):
        items = [d for d in items if project in d["projectIds"]]
    return web.json_response({"drains": items})
