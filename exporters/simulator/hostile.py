"""Hostile responses for the fault tier and `benchmarks/hostile.py`: what a broken or
malicious provider can send that a plain status code cannot express.

In detail: exporters/simulator/README.md, "Hostile answers — `hostile.py`".
"""

from __future__ import annotations

import asyncio
import itertools
import json
import zlib
from collections.abc import Awaitable, Callable
from functools import lru_cache
from typing import Any

from aiohttp import web

KINDS = frozenset({"trickle", "oversized", "gzip_bomb", "endless", "repeat_cursor"})
TRICKLE_INTERVAL_S = 0.2
TRICKLE_MAX_S = 120.0  # the simulator gives up on a trickle eventually, so nothing lingers
DEFAULT_OVERSIZED_BYTES = 40 * 1024 * 1024
DEFAULT_BOMB_BYTES = 1024 * 1024 * 1024
CHUNK = 1024 * 1024
REPEATED_CURSOR = "cursor-that-repeats"

_fresh = itertools.count(1)


# Query parameters that carry a continuation cursor, per provider; the real handler
# would reject the made-up cursors, so it answers the first page instead.
CURSOR_PARAMS = frozenset({"from", "until", "cursor", "page", "page_token"})


async def hostile_response(kind: str, size: int, request: web.Request,
                           handler: Callable[[web.Request], Awaitable[web.StreamResponse]]) -> web.StreamResponse:
    """The hostile variant of what `handler` answers to `request`."""
    if kind in ("endless", "repeat_cursor"):
        query = [(k, v) for k, v in request.query.items() if k not in CURSOR_PARAMS]
        real = await handler(request.clone(rel_url=request.rel_url.with_query(query)))
    elif kind == "trickle":
        real = await handler(request)
    else:
        real = web.Response()
    if kind == "oversized":
        return await _stream(request, _oversized_chunks(size or DEFAULT_OVERSIZED_BYTES))
    if kind == "gzip_bomb":
        return await _stream(request, [gzip_bomb(size or DEFAULT_BOMB_BYTES)], {"Content-Encoding": "gzip"})
    body = bytes(real.body or b"") if isinstance(real, web.Response) else b""
    if kind == "trickle":
        return await _trickle(request, body)
    cursor = REPEATED_CURSOR if kind == "repeat_cursor" else f"cursor-{next(_fresh)}"
    try:
        data = json.loads(body)
    except ValueError:
        return real
    limit = int(request.query.get("limit", "20") or 20)
    until = int(float(request.query.get("until", "") or 4_000_000_000_000))
    return web.json_response(with_cursor(data, cursor, limit, until), status=real.status)


def with_cursor(data: Any, cursor: str, limit: int, until_ms: int) -> Any:
    """A page whose continuation cursor is `cursor`, in the provider's own form."""
    if isinstance(data, dict) and isinstance(data.get("pagination"), dict):  # Vercel
        if isinstance(data.get("deployments"), list):
            # Deployments page by a timestamp that must move back: 1 ms per page is endless enough.
            number = until_ms if cursor == REPEATED_CURSOR else until_ms - 1
            return {**data, "pagination": {**data["pagination"], "next": number}}
        return {**data, "pagination": {**data["pagination"], "next": cursor}}
    if isinstance(data, dict) and "has_more" in data:  # OpenAI
        return {**data, "has_more": True, "next_page": cursor}
    if isinstance(data, dict) and "items" in data:  # LlamaCloud
        return {**data, "next_page_token": cursor}
    if isinstance(data, list) and data and isinstance(data[-1], dict):  # Render
        page = [dict(item) for item in itertools.islice(itertools.cycle(data), max(limit, len(data)))]
        page[-1]["cursor"] = cursor
        return page
    return data


@lru_cache(maxsize=4)
def gzip_bomb(inflated_bytes: int) -> bytes:
    """A gzip member of `inflated_bytes` zeros (about 1/1000 of that compressed), built once."""
    compressor = zlib.compressobj(9, zlib.DEFLATED, 16 + zlib.MAX_WBITS)
    zeros = bytes(CHUNK)
    out = []
    for _ in range(inflated_bytes // CHUNK):
        out.append(compressor.compress(zeros))
    out.append(compressor.compress(bytes(inflated_bytes % CHUNK)))
    out.append(compressor.flush())
    return b"".join(out)


def _oversized_chunks(size: int) -> list[bytes] | Any:
    head, tail = b'{"data": [], "padding": "', b'"}'
    filler = size - len(head) - len(tail)
    yield head
    while filler > 0:
        step = min(CHUNK, filler)
        yield b"x" * step
        filler -= step
    yield tail


async def _stream(request: web.Request, chunks: Any, headers: dict[str, str] | None = None) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json", **(headers or {})})
    await response.prepare(request)
    try:
        for chunk in chunks:
            await response.write(chunk)
    except (ConnectionResetError, ConnectionError):
        pass  # the client gave up, as it should
    return response


async def _trickle(request: web.Request, body: bytes) -> web.StreamResponse:
    response = web.StreamResponse(status=200, headers={"Content-Type": "application/json"})
    response.content_length = len(body)
    await response.prepare(request)
    loop = asyncio.get_running_loop()
    give_up = loop.time() + TRICKLE_MAX_S
    try:
        for index in range(len(body)):
            if loop.time() > give_up:
                break
            await response.write(body[index:index + 1])
            await asyncio.sleep(TRICKLE_INTERVAL_S)
    except (ConnectionResetError, ConnectionError):
        pass
    return response
