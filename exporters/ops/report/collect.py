"""Reads the report's inputs from Prometheus (instant queries over the window; bounded: ≤ 90 days)."""

from __future__ import annotations

import time
from datetime import date, datetime, timedelta, timezone

from exporters.ops.report.model import (
    Inputs,
    LlamaRepeats,
    OpenAIModel,
    RenderService,
    SpendRow,
    SupabaseProject,
    Usage,
    VercelCache,
)
from exporters.ops.validate.prom import Source

RIGHTSIZING_DAYS = 14  # CPU p99.5 / memory p99 over 14 days (shorter when less data exists)
CACHE_HITS = ("HIT", "STALE", "PRERENDER")


def _by(prom: Source, expr: str, label: str, at: float | None = None) -> dict[str, float]:
    return {s.labels.get(label, ""): s.value for s in prom.query(expr, at) if s.value == s.value}


def _total(prom: Source, expr: str) -> float:
    return sum(s.value for s in prom.query(expr) if s.value == s.value)


def daily_spend(prom: Source, days: int, now: float) -> list[SpendRow]:
    """Each UTC day's final cost per line: the max of stackwatch_cost_today_usd over that day.
    A line reported both billed and estimated during a day counts once (its larger figure)."""
    rows = []
    today = datetime.fromtimestamp(now, timezone.utc).date()
    for back in range(days - 1, -1, -1):
        day = today - timedelta(days=back)
        start = datetime(day.year, day.month, day.day, tzinfo=timezone.utc).timestamp()
        at = min(start + 86399, now)
        span = max(1, int(at - start))
        expr = (f"sum by (provider, service, model) (max by (provider, service, project, model) "
                f"(max_over_time(stackwatch_cost_today_usd[{span}s])))")
        for s in prom.query(expr, at):
            if s.value == s.value and s.value > 0:
                rows.append(SpendRow(day, s.labels.get("provider", ""), s.labels.get("service", ""),
                                     s.labels.get("model", ""), s.value))
    return rows


def _observed_days(prom: Source, metric: str, label: str, window: str, now: float) -> dict[str, float]:
    first = _by(prom, f"min by ({label}) (min_over_time(timestamp({metric})[{window}:5m]))", label)
    return {k: max(0.0, (now - v) / 86400) for k, v in first.items()}


def render_services(prom: Source, now: float, days: int) -> list[RenderService]:
    w = f"{min(days, RIGHTSIZING_DAYS)}d"
    info = {s.labels.get("service", ""): s.labels.get("plan", "") for s in prom.query("max by (service, plan) (render_service_info)")}
    instances = _by(prom, "max by (service) (render_service_instances)", "service")
    cpu = _by(prom, f"max by (service) (quantile_over_time(0.995, render_service_cpu_utilization_ratio[{w}]))", "service")
    memory = _by(prom, f"max by (service) (quantile_over_time(0.99, render_service_memory_utilization_ratio[{w}]))", "service")
    requests = _by(prom, f"sum by (service) (increase(render_service_http_requests_total[{days}d]))", "service")
    suspended = _by(prom, "max by (service) (render_service_suspended)", "service")
    autoscaled = _by(prom, "max by (service) (render_service_autoscaling_max_instances)", "service")
    observed = _observed_days(prom, "render_service_cpu_utilization_ratio", "service", w, now)
    return [RenderService(name, plan, instances.get(name, 1.0), cpu.get(name), memory.get(name), requests.get(name),
                          observed.get(name, 0.0), suspended.get(name, 0.0) >= 1, name in autoscaled)
            for name, plan in sorted(info.items()) if name]


def supabase_projects(prom: Source, now: float, days: int) -> list[SupabaseProject]:
    w = f"{min(days, RIGHTSIZING_DAYS)}d"
    compute = {s.labels.get("project", ""): s.labels.get("compute", "")
               for s in prom.query("max by (project, compute) (supabase_compute_info)")}
    memory = _by(prom, f"quantile_over_time(0.99, (max by (project) (node_memory_MemTotal_bytes) - "
                       f"max by (project) (node_memory_MemAvailable_bytes))[{w}:5m])", "project")
    connections = _by(prom, f"max_over_time((sum by (project) (pg_stat_database_num_backends))[{w}:5m])", "project")
    observed = _observed_days(prom, "node_memory_MemTotal_bytes", "project", w, now)
    return [SupabaseProject(name, size, memory.get(name), connections.get(name), observed.get(name, 0.0))
            for name, size in sorted(compute.items()) if name]


def openai_models(prom: Source, spend: list[SpendRow], days: int) -> list[OpenAIModel]:
    requests: dict[tuple[str, str], float] = {}
    for s in prom.query(f"sum by (model, batch) (increase(openai_usage_requests_total[{days}d]))"):
        requests[(s.labels.get("model", ""), s.labels.get("batch", ""))] = s.value
    inputs = _by(prom, f'sum by (gen_ai_request_model) (histogram_sum(increase(gen_ai_client_token_usage'
                       f'{{gen_ai_token_type="input"}}[{days}d])))', "gen_ai_request_model")
    cached = _by(prom, f"sum by (model) (increase(openai_usage_cached_input_tokens_total[{days}d]))", "model")
    cost: dict[str, float] = {}
    for row in spend:
        if row.provider == "openai" and row.model:
            cost[row.model] = cost.get(row.model, 0.0) + row.usd * 30 / days
    models = sorted({m for m, _ in requests} | set(cost))
    return [OpenAIModel(m, cost.get(m, 0.0), requests.get((m, "true"), 0.0), requests.get((m, "false"), 0.0),
                        inputs.get(m, 0.0), cached.get(m, 0.0)) for m in models if m]


def llamacloud_repeats(prom: Source, now: float, days: int) -> list[LlamaRepeats]:
    """Per project: parses of documents already parsed in the billing cycle, and their credits."""
    parses = _by(prom, f"sum by (project) (increase(llamacloud_repeat_parses_total[{days}d]))", "project")
    credits = _by(prom, f"sum by (project) (increase(llamacloud_repeat_parse_credits_total[{days}d]))", "project")
    observed = _observed_days(prom, "llamacloud_repeat_parse_credits_total", "project", f"{days}d", now)
    return [LlamaRepeats(p, parses.get(p, 0.0), credits[p], observed.get(p, 0.0)) for p in sorted(credits) if p]


def window_coverage(prom: Source, days: int) -> dict[str, float]:
    """Per provider, the share of the window's hours with a stackwatch_provider_up sample (within the 5-minute
    lookback of each hourly step): how much of the window the report's figures rest on."""
    hours = _by(prom, f"count_over_time((max by (provider) (stackwatch_provider_up))[{days}d:1h])", "provider")
    present = _by(prom, "max by (provider) (stackwatch_provider_up)", "provider")  # less than an hour old: 0 %
    return {provider: min(1.0, hours.get(provider, 0.0) / (days * 24))
            for provider in {*hours, *present} if provider}


def collect(prom: Source, days: int, now: float | None = None) -> Inputs:
    now = time.time() if now is None else now
    spend = daily_spend(prom, days, now)
    d = f"{days}d"
    usage = Usage(
        requests=_total(prom, f"sum(increase(vercel_requests_total[{d}]))")
        + _total(prom, f"sum(increase(render_service_http_requests_total[{d}]))"),
        pages=_total(prom, f"sum(increase(llamacloud_pages_total[{d}]))"),
        tokens=_total(prom, f"sum(histogram_sum(increase(gen_ai_client_token_usage[{d}])))"))
    cache: dict[str, list[float]] = {}
    for s in prom.query(f"sum by (project, cache) (increase(vercel_cache_requests_total[{d}]))"):
        entry = cache.setdefault(s.labels.get("project", ""), [0.0, 0.0])
        entry[1] += s.value
        if s.labels.get("cache") in CACHE_HITS:
            entry[0] += s.value
    budgets = _by(prom, "max by (provider) (stackwatch_budget_monthly_usd)", "provider")
    providers = {r.provider for r in spend}
    return Inputs(
        days=days, spend=spend, usage=usage,
        render=render_services(prom, now, days), supabase=supabase_projects(prom, now, days),
        openai=openai_models(prom, spend, days),
        llamacloud_pages=_by(prom, f"sum by (mode) (increase(llamacloud_pages_total[{d}]))", "mode"),
        llamacloud_repeats=llamacloud_repeats(prom, now, days),
        vercel=[VercelCache(p, h, t) for p, (h, t) in sorted(cache.items()) if p],
        vercel_monthly_usd=sum(r.usd for r in spend if r.provider == "vercel") * 30 / days,
        budgets={p: budgets.get(p) for p in providers}, coverage=window_coverage(prom, days))


def window_start(now: float, days: int) -> date:
    return datetime.fromtimestamp(now, timezone.utc).date() - timedelta(days=days - 1)
