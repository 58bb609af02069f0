"""`stackwatch check-config --probe`: can each token read what stackwatch polls?

One small authenticated read per kind of data a provider's streams poll (a list with
`limit=1`, one day of billing), with the token and base URL of the config, no retry,
a short timeout. Each read reports what the token can see, or what it cannot and why
(the status, the provider's hint for it: which scope, role or key kind is needed).
Providers implement `probe(now)` next to their polls, with exporters/poll/access.py's
`read()`; this module runs them and prints the outcome. No token is ever printed: messages are ProviderError
texts (host, status, a redacted excerpt of the error body) passed through the redactor.
"""

from __future__ import annotations

import asyncio
from datetime import datetime, timezone

from opentelemetry.sdk.metrics import MeterProvider

from exporters.core.http import ProviderHTTP
from exporters.core.logs import REDACTOR
from exporters.core.metrics import MetricStore
from exporters.poll.access import Access
from exporters.providers.registry import BY_NAME, NAMES, all_metrics
from exporters.service.config import Config, Secrets

PROBE_TIMEOUT_S = 15.0  # per read; a probe is interactive
PROBE_DEADLINE_S = 60.0  # per provider, all its reads


async def probe_provider(name: str, config: Config, secrets: Secrets, store: MetricStore,
                         now: datetime) -> list[Access]:
    settings = config.providers.enabled()[name]
    http = ProviderHTTP(name, settings.base_url, secrets.tokens[name], store=store,
                        timeout_s=min(settings.timeout_seconds, PROBE_TIMEOUT_S), max_retries=0,
                        max_concurrency=2, max_response_bytes=settings.max_response_bytes,
                        max_pages=1, max_rate_limit_wait_s=30.0, max_poll_bytes=settings.max_poll_bytes)
    provider = BY_NAME[name].exporter(settings, http)
    try:
        return await asyncio.wait_for(provider.probe(now), timeout=PROBE_DEADLINE_S)
    except asyncio.TimeoutError:
        return [Access(name, "every read", False, f"no answer within {PROBE_DEADLINE_S:.0f} s")]
    finally:
        await http.aclose()


async def probe_all(config: Config, secrets: Secrets, now: datetime | None = None) -> list[Access]:
    """Every enabled provider probed at once; the accesses in provider order."""
    now = now or datetime.now(timezone.utc)
    meter_provider = MeterProvider()  # the reads are counted by ProviderHTTP; nothing is exported
    store = MetricStore(meter_provider.get_meter("stackwatch.probe"), all_metrics())
    try:
        enabled = [n for n in NAMES if n in config.providers.enabled()]
        results = await asyncio.gather(*(probe_provider(n, config, secrets, store, now) for n in enabled))
    finally:
        meter_provider.shutdown()
    return [access for accesses in results for access in accesses]


def render(accesses: list[Access]) -> str:
    """One line per read, grouped by provider: `ok` or `CANNOT`, what, detail (redacted)."""
    lines = []
    width = max((len(a.what) for a in accesses), default=0)
    for provider in NAMES:
        mine = [a for a in accesses if a.provider == provider]
        if not mine:
            continue
        verdict = "ok" if all(a.ok for a in mine) else "FAIL"
        lines.append(f"{provider}: {verdict}")
        for a in mine:
            lines.append(f"  {'can' if a.ok else 'CANNOT':6} read {a.what.ljust(width)}  {REDACTOR.scrub(a.detail)}")
    return "\n".join(lines) + "\n"
