"""One HTTP client per provider: async httpx with timeouts, retries with
backoff and jitter (tenacity), rate limiting driven by the provider's own
headers, bounded concurrency, and a count of every request by status.

Errors are `ProviderError`s with a short `reason` (the label of
`stackwatch.provider.poll.errors`); messages never carry credentials.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from tenacity.wait import wait_base

from .metrics import MetricStore
from .ratelimit import RateLimit, parse_rate_limit, retry_at

Params = dict[str, Any] | Sequence[tuple[str, Any]] | None

# A provider asking us to wait longer than this fails the poll; the next cycle tries again.
MAX_RATE_LIMIT_WAIT_S = 60.0
RETRYABLE = frozenset({"server_error", "timeout", "transport", "rate_limited", "malformed"})


class ProviderError(Exception):
    def __init__(self, reason: str, message: str, *, status: int | None = None,
                 retry_at: float | None = None):
        super().__init__(message)
        self.reason = reason
        self.status = status
        self.retry_at = retry_at


class Clock:
    """Wall time and sleeping, replaceable in tests and benchmarks."""

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


class _WaitForProvider(wait_base):
    """Wait as long as the provider's headers ask, else exponential backoff with full jitter."""

    def __init__(self, clock: Clock):
        self._clock = clock
        self._backoff = wait_random_exponential(multiplier=0.25, max=8)

    def __call__(self, retry_state) -> float:  # type: ignore[no-untyped-def]
        error = retry_state.outcome.exception() if retry_state.outcome else None
        if isinstance(error, ProviderError) and error.retry_at is not None:
            return max(0.0, error.retry_at - self._clock.time())
        return self._backoff(retry_state)


class ProviderHTTP:
    def __init__(self, provider: str, base_url: str, token: str, *, store: MetricStore,
                 timeout_s: float = 10.0, max_retries: int = 4, max_concurrency: int = 8,
                 clock: Clock | None = None, headers: dict[str, str] | None = None,
                 transport: httpx.AsyncBaseTransport | None = None):
        self.provider = provider
        self._store = store
        self._clock = clock or Clock()
        self._max_retries = max_retries
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._rate: RateLimit | None = None
        self.requests_sent = 0
        self._client = httpx.AsyncClient(
            base_url=base_url.rstrip("/"),
            headers={"Authorization": f"Bearer {token}", "Accept-Encoding": "gzip",
                     "User-Agent": "stackwatch", **(headers or {})},
            timeout=httpx.Timeout(timeout_s),
            limits=httpx.Limits(max_connections=max_concurrency, max_keepalive_connections=max_concurrency),
            transport=transport,
        )

    async def aclose(self) -> None:
        await self._client.aclose()

    # --- public calls ---

    async def get_json(self, path: str, params: Params = None, *, operation: str) -> Any:
        async def attempt() -> Any:
            response = await self._send(path, params, operation)
            try:
                return json.loads(response.content)
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                raise ProviderError("malformed", f"{self.provider} {operation}: body is not JSON "
                                    f"({exc.__class__.__name__} at byte {getattr(exc, 'pos', '?')})") from None
        return await self._with_retries(attempt)

    @asynccontextmanager
    async def stream_lines(self, path: str, params: Params = None, *, operation: str,
                           headers: dict[str, str] | None = None) -> AsyncIterator[AsyncIterator[str]]:
        """Stream a line-oriented body (JSONL). Retries cover getting the response, not the body."""
        async def open_stream() -> httpx.Response:
            request = self._client.build_request("GET", path, params=params, headers=headers)
            return await self._send_request(request, operation, stream=True)

        response = await self._with_retries(open_stream)
        try:
            yield self._lines(response, operation)
        finally:
            await response.aclose()

    async def _lines(self, response: httpx.Response, operation: str) -> AsyncIterator[str]:
        try:
            async for line in response.aiter_lines():
                if line.strip():
                    yield line
        except httpx.TimeoutException:
            raise ProviderError("timeout", f"{self.provider} {operation}: body timed out") from None
        except (httpx.TransportError, httpx.DecodingError) as exc:
            raise ProviderError("transport", f"{self.provider} {operation}: body cut off "
                                f"({exc.__class__.__name__})") from None

    @property
    def rate_limit(self) -> RateLimit | None:
        return self._rate

    # --- internals ---

    async def _with_retries(self, attempt: Callable[[], Awaitable[Any]]) -> Any:
        retrying = AsyncRetrying(
            stop=stop_after_attempt(self._max_retries + 1),
            wait=_WaitForProvider(self._clock),
            retry=retry_if_exception(lambda e: isinstance(e, ProviderError) and e.reason in RETRYABLE
                                     and not _too_long(e, self._clock)),
            sleep=self._clock.sleep,
            reraise=True,
        )
        return await retrying(attempt)

    async def _send(self, path: str, params: Params, operation: str) -> httpx.Response:
        request = self._client.build_request("GET", path, params=params)
        return await self._send_request(request, operation, stream=False)

    async def _send_request(self, request: httpx.Request, operation: str, *, stream: bool) -> httpx.Response:
        await self._respect_rate_limit()
        async with self._semaphore:
            self.requests_sent += 1
            try:
                response = await self._client.send(request, stream=stream)
            except httpx.TimeoutException:
                self._count(operation, "timeout")
                raise ProviderError("timeout", f"{self.provider} {operation}: timed out") from None
            except httpx.TransportError as exc:
                self._count(operation, "transport_error")
                raise ProviderError("transport", f"{self.provider} {operation}: "
                                    f"{exc.__class__.__name__}") from None
        self._count(operation, str(response.status_code))
        now = self._clock.time()
        rate = parse_rate_limit(response.headers, now)
        if rate is not None:
            self._rate = rate
            if rate.headroom is not None:
                self._store.set_gauge("stackwatch.provider.ratelimit.remaining", self.provider,
                                      rate.headroom, {"provider": self.provider})
        if response.status_code < 400:
            return response
        if stream:
            await response.aread()
            await response.aclose()
        status = response.status_code
        where = f"{self.provider} {operation}: HTTP {status}"
        if status == 429:
            raise ProviderError("rate_limited", where, status=status, retry_at=retry_at(response.headers, now))
        if status in (401, 403):
            raise ProviderError("auth", f"{where} (check the API token's validity and scope)", status=status)
        if status >= 500:
            raise ProviderError("server_error", where, status=status)
        raise ProviderError("client_error", f"{where} {_short_body(response)}", status=status)

    async def _respect_rate_limit(self) -> None:
        rate = self._rate
        if rate is None or not rate.exhausted or rate.reset_at is None:
            return
        wait = rate.reset_at - self._clock.time()
        if wait > MAX_RATE_LIMIT_WAIT_S:
            raise ProviderError("rate_limited", f"{self.provider}: rate limit exhausted for {wait:.0f} s more")
        if wait > 0:
            await self._clock.sleep(wait)
        self._rate = None

    def _count(self, operation: str, status: str) -> None:
        self._store.add("stackwatch.provider.api.requests", 1,
                        {"provider": self.provider, "operation": operation, "status_code": status})


def _too_long(error: ProviderError, clock: Clock) -> bool:
    return error.retry_at is not None and error.retry_at - clock.time() > MAX_RATE_LIMIT_WAIT_S


def _short_body(response: httpx.Response) -> str:
    text = response.text.strip().replace("\n", " ")
    return f"({text[:200]})" if text else ""
