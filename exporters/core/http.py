"""One HTTP client per provider: async httpx with timeouts, retries with backoff and jitter
(tenacity), rate limiting driven by the provider's own headers, bounded concurrency, and a
count of every request by status.

Errors are `ProviderError`s with a short `reason` (the label of
`stackwatch.provider.poll.errors`); messages never carry credentials. Every body is bounded in
bytes (decoded here, in steps, against `max_response_bytes`), every listing in pages, every poll
in bytes (`PollBudget`): docs/operations.md, "Bounds".
"""

from __future__ import annotations

import asyncio
import contextvars
import json
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from contextlib import asynccontextmanager
from typing import Any

import httpx
from tenacity import AsyncRetrying, retry_if_exception, stop_after_attempt, wait_random_exponential
from tenacity.wait import wait_base

from exporters.core.decoding import BoundedDecoder, TooLarge
from exporters.core.logs import REDACTOR
from exporters.core.metrics import MetricStore
from exporters.core.neterrors import describe, endpoint
from exporters.core.ratelimit import DEFAULT_MAX_WAIT_S, RateLimit, parse_rate_limit, retry_at

Params = dict[str, Any] | Sequence[tuple[str, Any]] | None

# A provider asking us to wait longer than this fails the poll; the next cycle tries again.
MAX_RATE_LIMIT_WAIT_S = 60.0
RETRYABLE = frozenset({"server_error", "timeout", "transport", "rate_limited", "malformed"})
# The largest legitimate page the simulator's large scale produces (an OpenAI costs page of
# 180 daily buckets by project and line item) is 2 MB; 8 MiB leaves room for 4 times that.
# Held at once across a client's concurrent responses: at most IN_FLIGHT_FACTOR x this.
DEFAULT_MAX_RESPONSE_BYTES = 8 * 1024 * 1024
# A listing longer than this within one poll is a provider bug (a cursor that never ends).
DEFAULT_MAX_PAGES = 1000
# Decoded JSON bytes one poll of one stream may read across all its pages. The largest legitimate
# poll at the simulator's large scale (benchmarks/poll_sizes.py: 200 Vercel projects, 90 days) is
# the Vercel deployments stream's first poll, 14.0 MB (then LlamaCloud usage 7.0 MB, OpenAI costs
# 5.8 MB); 64 MiB leaves room for 4.8 times that (a 365-day history_days at that scale is about
# 57 MB: raise max_poll_bytes with it). Without it an endless listing is stopped only by
# max_pages (1000 pages of up to 8 MiB each) or the poll deadline.
DEFAULT_MAX_POLL_BYTES = 64 * 1024 * 1024
ERROR_BODY_BYTES = 64 * 1024  # how much of an error body is read (for its excerpt)
# All responses being read at once: at most this many times max_response_bytes. 1, not 2: the
# hostile benchmark's RSS peak went 154 -> 127-131 MB (target 150); the large scale's concurrent
# pages stay far below (benchmarks/collect.py and poll_sizes.py: no failed poll).
IN_FLIGHT_FACTOR = 1
MAX_LINE_BYTES = 4 * 1024 * 1024  # one JSONL line longer than this is not a record
# A streamed (JSONL) body is parsed line by line and never held whole, so its cap bounds
# time and CPU rather than memory: this many times `max_response_bytes`.
STREAMED_BODY_FACTOR = 16


class Pages:
    """One paginated listing within one poll: a repeated cursor or more than `max_pages`
    pages ends it with a `pagination` error, so a provider that never stops paging
    cannot keep a poll (or memory) busy for ever."""

    def __init__(self, provider: str, operation: str, max_pages: int):
        self._where = f"{provider} {operation}"
        self._max_pages = max_pages
        self._seen: set[str] = set()
        self.pages = 1  # the first page is fetched without a cursor

    def follow(self, cursor: object) -> None:
        """Call before fetching the page `cursor` points to."""
        key = repr(cursor)
        if key in self._seen:
            raise ProviderError("pagination", f"{self._where}: cursor repeats after {self.pages} pages")
        if self.pages >= self._max_pages:
            raise ProviderError("pagination", f"{self._where}: more than {self._max_pages} pages in one poll")
        self._seen.add(key)
        self.pages += 1


class PollBudget:
    """Decoded bytes one poll of one stream may read, across every page and request it makes.
    The collector opens one per poll (`poll_budget`); requests made outside a poll are not charged."""

    def __init__(self, limit: int):
        self.limit = limit
        self.used = 0
        self.responses = 0

    def charge(self, where: str, size: int) -> None:
        self.used += size
        self.responses += 1
        if self.used > self.limit:
            raise ProviderError("too_large", f"{where}: this poll's {self.responses} responses passed "
                                f"{self.limit} bytes together (max_poll_bytes)")


_POLL_BUDGET: contextvars.ContextVar[PollBudget | None] = contextvars.ContextVar("poll_budget", default=None)


@asynccontextmanager
async def poll_budget(limit: int) -> AsyncIterator[PollBudget]:
    """Charge every JSON body read in this task (and tasks it starts) to one budget of `limit` bytes."""
    budget = PollBudget(limit)
    token = _POLL_BUDGET.set(budget)
    try:
        yield budget
    finally:
        _POLL_BUDGET.reset(token)


async def all_or_none(*awaitables: Awaitable[Any]) -> list[Any]:
    """`asyncio.gather`, except that the first failure cancels the others before it is raised:
    a poll that has failed stops its other requests (and the bodies they would read) at once,
    instead of leaving them running, and holding memory, after the poll has ended."""
    tasks = [asyncio.ensure_future(a) for a in awaitables]
    try:
        return await asyncio.gather(*tasks)
    except BaseException:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        raise


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
                 transport: httpx.AsyncBaseTransport | None = None,
                 max_response_bytes: int = DEFAULT_MAX_RESPONSE_BYTES, max_pages: int = DEFAULT_MAX_PAGES,
                 max_rate_limit_wait_s: float = DEFAULT_MAX_WAIT_S,
                 max_poll_bytes: int = DEFAULT_MAX_POLL_BYTES):
        self.provider = provider
        self._store = store
        self._clock = clock or Clock()
        self._max_retries = max_retries
        self.max_response_bytes = max_response_bytes
        self.max_pages = max_pages
        self.max_poll_bytes = max_poll_bytes
        # Bodies held at once (decoded, not yet parsed) across this client's concurrent requests:
        # without it, max_concurrency hostile responses would each hold up to the per-response cap.
        self.max_bytes_in_flight = IN_FLIGHT_FACTOR * max_response_bytes
        self._bytes_in_flight = 0
        self._max_wait_s = max_rate_limit_wait_s
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

    def pages(self, operation: str) -> Pages:
        """A pagination guard for one listing in one poll."""
        return Pages(self.provider, operation, self.max_pages)

    async def get_json(self, path: str, params: Params = None, *, operation: str) -> Any:
        async def attempt() -> Any:
            response = await self._send(path, params, operation)
            try:
                content = await self._read_body(response, operation)
            finally:
                await response.aclose()
            budget = _POLL_BUDGET.get()
            if budget is not None:
                budget.charge(f"{self.provider} {operation}", len(content))
            try:
                return json.loads(content)
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
        pending = b""
        async for piece in self._decoded(response, operation, self.max_response_bytes * STREAMED_BODY_FACTOR):
            pending += piece
            *complete, pending = pending.split(b"\n")
            if len(pending) > MAX_LINE_BYTES:
                self._too_large(operation, f"a line longer than {MAX_LINE_BYTES} bytes")
            for raw in complete:
                line = raw.decode("utf-8", errors="replace").rstrip("\r")
                if line.strip():
                    yield line
        line = pending.decode("utf-8", errors="replace")
        if line.strip():
            yield line

    async def _read_body(self, response: httpx.Response, operation: str,
                         limit: int | None = None, *, truncate: bool = False) -> bytearray:
        """The decoded body, at most `limit` bytes (a `too_large` error past it, or cut when `truncate`)."""
        limit = self.max_response_bytes if limit is None else limit
        body = bytearray()
        held = 0
        try:
            async for piece in self._decoded(response, operation, limit):
                body += piece
                held += len(piece)
                self._bytes_in_flight += len(piece)
                if self._bytes_in_flight > self.max_bytes_in_flight and not truncate:
                    self._too_large(operation, f"this provider's responses in flight passed "
                                    f"{self.max_bytes_in_flight} bytes together")
        except ProviderError as exc:
            if not (truncate and exc.reason == "too_large"):
                raise
            del body[limit:]
        finally:
            self._bytes_in_flight -= held
        return body  # json.loads takes a bytearray: no copy of a large page

    async def _decoded(self, response: httpx.Response, operation: str, limit: int) -> AsyncIterator[bytes]:
        """Raw body chunks, decompressed here in bounded steps against a running cap."""
        where = f"{self.provider} {operation}"
        try:
            decoder = BoundedDecoder(response.headers.get("Content-Encoding", ""), limit)
        except ValueError as exc:
            raise ProviderError("malformed", f"{where}: {exc}") from None
        try:
            declared = int(response.headers.get("Content-Length", ""))
        except ValueError:
            declared = None
        if declared is not None and decoder.identity and declared > limit:
            self._too_large(operation, f"Content-Length {declared} is over {limit} bytes")
        try:
            async for raw in response.aiter_raw():
                for piece in decoder.feed(raw):
                    yield piece
                    await asyncio.sleep(0)  # a long body never holds the loop for more than a step
        except TooLarge as exc:
            self._too_large(operation, str(exc))
        except ValueError as exc:
            raise ProviderError("malformed", f"{where}: {exc}") from None
        except httpx.TimeoutException:
            raise ProviderError("timeout", f"{where}: {endpoint(response.url)} stopped sending the body "
                                "(read timeout)") from None
        except httpx.TransportError as exc:
            raise ProviderError("transport", f"{where}: body cut off: {describe(exc, response.url)}") from None

    def _too_large(self, operation: str, detail: str) -> None:
        raise ProviderError("too_large", f"{self.provider} {operation}: {detail}")

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
        return await self._send_request(request, operation, stream=True)

    async def _send_request(self, request: httpx.Request, operation: str, *, stream: bool) -> httpx.Response:
        await self._respect_rate_limit()
        async with self._semaphore:
            self.requests_sent += 1
            started = time.perf_counter()
            try:
                response = await self._client.send(request, stream=stream)
            except httpx.TimeoutException as exc:
                self._count(operation, "timeout", started)
                raise ProviderError("timeout", f"{self.provider} {operation}: {describe(exc, request.url)}") from None
            except httpx.TransportError as exc:
                self._count(operation, "transport_error", started)
                raise ProviderError("transport", f"{self.provider} {operation}: {describe(exc, request.url)}") from None
        self._count(operation, str(response.status_code), started)
        now = self._clock.time()
        rate = parse_rate_limit(response.headers, now, self._max_wait_s)
        if rate is not None:
            self._rate = rate
            if rate.headroom is not None:
                self._store.set_gauge("stackwatch.provider.ratelimit.remaining", self.provider,
                                      rate.headroom, {"provider": self.provider})
        if response.status_code < 400:
            return response
        try:
            error_body = await self._read_body(response, operation, ERROR_BODY_BYTES, truncate=True)
        except ProviderError:
            error_body = b""
        finally:
            await response.aclose()
        status = response.status_code
        where = f"{self.provider} {operation}: HTTP {status} from {endpoint(request.url)}"
        if status == 429:
            raise ProviderError("rate_limited", where, status=status,
                                retry_at=retry_at(response.headers, now, self._max_wait_s))
        if status in (401, 403):
            raise ProviderError("auth", f"{where} (check the API token's validity and scope)", status=status)
        if status >= 500:
            raise ProviderError("server_error", where, status=status)
        raise ProviderError("client_error", f"{where} {_short_body(error_body)}", status=status)

    async def _respect_rate_limit(self) -> None:
        rate = self._rate
        if rate is None or not rate.exhausted or rate.reset_at is None:
            return
        wait = rate.reset_at - self._clock.time()
        if wait > MAX_RATE_LIMIT_WAIT_S:
            # The reset is clamped (ratelimit.py), so this lasts at most max_rate_limit_wait_s;
            # then the next poll probes again.
            raise ProviderError("rate_limited", f"{self.provider}: rate limit exhausted for {wait:.0f} s more")
        if wait > 0:
            await self._clock.sleep(wait)
        self._rate = None

    def _count(self, operation: str, status: str, started: float) -> None:
        """One request sent: its status, and how long until its response headers (or its failure)."""
        self._store.add("stackwatch.provider.api.requests", 1,
                        {"provider": self.provider, "operation": operation, "status_code": status})
        self._store.record("stackwatch.provider.api.request.duration", time.perf_counter() - started,
                           {"provider": self.provider, "operation": operation})


def _too_long(error: ProviderError, clock: Clock) -> bool:
    return error.retry_at is not None and error.retry_at - clock.time() > MAX_RATE_LIMIT_WAIT_S


def _short_body(body: bytes) -> str:
    # Redact before cutting: a cut would leave a token's head that no longer matches it whole.
    text = REDACTOR.scrub(body.decode("utf-8", errors="replace").strip().replace("\n", " "))
    return f"({text[:200]})" if text else ""
