"""`stackwatch check-config --probe`: can each token read what stackwatch polls?

One small authenticated read per kind of data a provider's streams poll (a list with
`limit=1`, one day of billing), with the token and base URL of the config, no retry,
a short timeout. Each read reports what the token can see, or what it cannot and why
(the status, the provider's hint for it: which scope, role or key kind is needed).
Providers implement `probe(now)` next to their polls, with `read()` below; this module
runs them and prints the outcome. No token is ever printed: messages are ProviderError
texts (host, status, a redacted excerpt of the error body) passed through the redactor.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any, TypeVar

from exporters.core.config import PROVIDER_NAMES, Config, Secrets
from exporters.core.http import ProviderError, ProviderHTTP
from exporters.core.logs import REDACTOR
from exporters.core.metrics import MetricStore

T = TypeVar("T")

PROBE_TIMEOUT_S = 15.0  # per read; a probe is interactive
PROBE_DEADLINE_S = 60.0  # per provider, all its reads


class NotVisible(Exception):
    """The read answered, but what the config names is not in it (an id the token cannot see)."""


@dataclass(frozen=True)
class Access:
    """What one read said about a token: `what` is readable (ok) or not, and why."""

    provider: str
    what: str
    ok: bool
    detail: str


async def read(provider: str, what: str, call: Awaitable[T], seen: Callable[[T], str],
               hints: dict[int, str]) -> tuple[Access, T | None]:
    """Run one read; an Access saying what it showed (`seen(result)`) or why it failed (with the hint)."""
    try:
        result = await call
    except ProviderError as error:
        hint = hints.get(error.status or 0, "")
        return Access(provider, what, False, f"{error}" + (f"; {hint}" if hint else "")), None
    try:
        detail = seen(result)
    except NotVisible as missing:
        return Access(provider, what, False, str(missing)), result
    except (AttributeError, KeyError, TypeError, ValueError):
        return Access(provider, what, False, "answered, but not in the documented shape"), None
    return Access(provider, what, True, detail), result


def count_of(items: Any, noun: str) -> str:
    """`n <noun>` on the first page (a read asks for one page only)."""
    if not isinstance(items, list):
        raise ValueError("not a list")
    if len(items) == 1 and noun.endswith("s") and " series" not in noun:
        noun = noun[:-1]
    return f"readable ({len(items)} {noun} on the first page)" if items else f"readable (no {noun})"


async def probe_provider(name: str, config: Config, secrets: Secrets, store: MetricStore,
                         now: datetime) -> list[Access]:
    from exporters.service.runtime import provider_class

    settings = config.providers.enabled()[name]
    http = ProviderHTTP(name, settings.base_url, secrets.tokens[name], store=store,
                        timeout_s=min(settings.timeout_seconds, PROBE_TIMEOUT_S), max_retries=0,
                        max_concurrency=2, max_response_bytes=settings.max_response_bytes,
                        max_pages=1, max_rate_limit_wait_s=30.0, max_poll_bytes=settings.max_poll_bytes)
    provider = provider_class(name)(settings, http)
    try:
        return await asyncio.wait_for(provider.probe(now), timeout=PROBE_DEADLINE_S)
    except asyncio.TimeoutError:
        return [Access(name, "every read", False, f"no answer within {PROBE_DEADLINE_S:.0f} s")]
    finally:
        await http.aclose()


async def probe_all(config: Config, secrets: Secrets, now: datetime | None = None) -> list[Access]:
    """Every enabled provider probed at once; the accesses in provider order."""
    from opentelemetry.sdk.metrics import MeterProvider

    from exporters.core.catalogue import all_metrics  # imports the provider modules, which import this one

    now = now or datetime.now(timezone.utc)
    meter_provider = MeterProvider()  # the reads are counted by ProviderHTTP; nothing is exported
    store = MetricStore(meter_provider.get_meter("stackwatch.probe"), all_metrics())
    try:
        enabled = [n for n in PROVIDER_NAMES if n in config.providers.enabled()]
        results = await asyncio.gather(*(probe_provider(n, config, secrets, store, now) for n in enabled))
    finally:
        meter_provider.shutdown()
    return [access for accesses in results for access in accesses]


def render(accesses: list[Access]) -> str:
    """One line per read, grouped by provider: `ok` or `CANNOT`, what, detail (redacted)."""
    lines = []
    width = max((len(a.what) for a in accesses), default=0)
    for provider in PROVIDER_NAMES:
        mine = [a for a in accesses if a.provider == provider]
        if not mine:
            continue
        verdict = "ok" if all(a.ok for a in mine) else "FAIL"
        lines.append(f"{provider}: {verdict}")
        for a in mine:
            lines.append(f"  {'can' if a.ok else 'CANNOT':6} read {a.what.ljust(width)}  {REDACTOR.scrub(a.detail)}")
    return "\n".join(lines) + "\n"
