"""Error bodies in each provider's own documented form.

In detail: exporters/simulator/README.md, "Error bodies — `errors.py`".
"""

from __future__ import annotations

import json
from collections.abc import Awaitable

from aiohttp import web

# OpenAI's error `type` and `code` by status (what api.openai.com sends).
_OPENAI = {400: ("invalid_request_error", None), 401: ("invalid_request_error", "invalid_api_key"),
           403: ("invalid_request_error", "insufficient_permissions"), 404: ("invalid_request_error", None),
           405: ("invalid_request_error", None), 429: ("requests", "rate_limit_exceeded")}
_OPENAI_MESSAGES = {401: "Incorrect API key provided. You can find your API key at "
                         "https://platform.openai.com/account/api-keys.",
                    429: "Rate limit reached for requests. Please try again later."}


def provider_body(provider: str, status: int, code: str, message: str, *, method: str = "GET",
                  path: str = "") -> dict:
    """The body `provider` sends for an error of this status."""
    if provider == "openai":
        kind, openai_code = _OPENAI.get(status, ("server_error", None))
        if status in (404, 405) and code in ("not_found", "method_not_allowed"):
            message = f"Invalid URL ({method} /v1{path})"
        elif status in _OPENAI_MESSAGES:
            message = _OPENAI_MESSAGES[status]
        return {"error": {"message": message, "type": kind, "param": None, "code": openai_code}}
    if provider == "render":
        return {"id": code, "message": message}
    if provider == "supabase":
        return {"message": message}
    if provider == "llamacloud":
        return {"detail": message}
    return {"error": {"code": code, "message": message}}


def _generic(body: bytes) -> tuple[str, str] | None:
    """(code, message) of the middleware's generic error body, None for any other body."""
    try:
        data = json.loads(body)
    except ValueError:
        return None
    inner = data.get("error") if isinstance(data, dict) and set(data) == {"error"} else None
    if isinstance(inner, dict) and set(inner) == {"code", "message"}:
        return str(inner["code"]), str(inner["message"])
    return None


async def in_provider_form(provider: str, request: web.Request, path: str,
                           call: Awaitable[web.StreamResponse]) -> web.StreamResponse:
    """Await a provider request's response, with any error body rewritten into the provider's form."""
    try:
        response = await call
    except web.HTTPException as exc:
        if exc.status < 400:
            raise
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status, "error")
        headers = {k: v for k, v in exc.headers.items() if k.lower() == "allow"}
        return web.json_response(provider_body(provider, exc.status, code, exc.reason, method=request.method,
                                               path=path), status=exc.status, headers=headers)
    if provider == "vercel" or response.status < 400 or not isinstance(response, web.Response) or not response.body:
        return response
    generic = _generic(bytes(response.body))  # type: ignore[arg-type]
    if generic is None:
        return response
    reshaped = web.json_response(provider_body(provider, response.status, *generic, method=request.method,
                                               path=path), status=response.status)
    for key, value in response.headers.items():
        if key.lower() not in ("content-type", "content-length"):
            reshaped.headers[key] = value
    return reshaped
