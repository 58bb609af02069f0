"""Monitoring: every enabled provider up and fresh, every catalogued metric present, targets up."""

from __future__ import annotations

from exporters.core.catalogue import SHARED_METRICS, MetricSpec
from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Status
from exporters.providers.registry import PROVIDERS

GROUP = "monitoring"

# Metrics that exist only after an event; their absence is not a fault by itself.
EVENT_DRIVEN = {
    "stackwatch.provider.poll.errors": "only after a failed poll",
    "stackwatch.provider.invalid_items": "only after an invalid item",
    "stackwatch.provider.loop.restarts": "only after a poll loop restart",
    "stackwatch.cost.unpriced_items": "only when usage has no price",
    "stackwatch.cost.unpriced.month_to_date_usd": "only when usage has no price",
    "stackwatch.cost.unpriced.usage": "only when usage has no price",
    "stackwatch.recommendation.savings_monthly_usd": "only after `stackwatch report --push`",
    "stackwatch.budget.daily_usd": "only for configured budgets",
    "stackwatch.budget.monthly_usd": "only for configured budgets",
    "supabase.backup.age": "absent while a project has no completed backup",
    "render.datastore.connections": "only with Render datastores",
    "render.service.autoscaling.min_instances": "only for autoscaled services",
    "render.service.autoscaling.max_instances": "only for autoscaled services",
    "vercel.deployments.in_progress": "only while a deployment is queued or building",
    "llamacloud.repeat_parses": "only after a document is parsed again in its billing cycle",
    "llamacloud.repeat_parse_credits": "only after a document is parsed again in its billing cycle",
}
DRAIN_REASON = "delivered by Vercel drains: absent until a drain delivers"


def expected_metrics(enabled: list[str]) -> list[tuple[MetricSpec, str | None]]:
    """Catalogued metrics expected for the enabled providers, each with why it may be absent."""
    out: list[tuple[MetricSpec, str | None]] = [(s, EVENT_DRIVEN.get(s.name)) for s in SHARED_METRICS]
    for provider in PROVIDERS:  # an enabled provider's metrics are expected; shared ones always
        if provider.name not in enabled:
            continue
        out += [(spec, EVENT_DRIVEN.get(spec.name)) for spec in provider.metrics]
        out += [(spec, DRAIN_REASON) for spec in provider.drain_metrics]
    return out


def provider_health(ctx: Context) -> list[Check]:
    up = {s.labels.get("provider"): s.value for s in ctx.prom.query("max by (provider) (stackwatch_provider_up)")}
    age = {s.labels.get("provider"): s.value
           for s in ctx.prom.query("max by (provider) (stackwatch_provider_last_success_age_seconds)")}
    stale_after = ctx.config.thresholds.data_staleness_seconds
    checks = []
    for provider in ctx.enabled:
        name = f"{provider} up and fresh"
        if provider not in up:
            checks.append(Check(GROUP, name, Status.FAIL,
                                f"no stackwatch_provider_up{{provider=\"{provider}\"}} series in Prometheus",
                                "start `stackwatch run` with this config and check the collector pipeline "
                                "(docs/operations.md)"))
            continue
        evidence = f"stackwatch_provider_up={up[provider]:g}"
        if provider in age:
            evidence += f", last full success {age[provider]:.0f} s ago (stale after {stale_after:g} s)"
        if up[provider] < 1:
            checks.append(Check(GROUP, name, Status.FAIL, evidence,
                                f"see docs/runbooks/ProviderApiDown.md; `stackwatch_provider_poll_errors_total"
                                f"{{provider=\"{provider}\"}}` names the failing stream and reason"))
        elif provider not in age:
            checks.append(Check(GROUP, name, Status.UNKNOWN, evidence + "; no last_success_age series",
                                "check that stackwatch is recent enough to publish last_success_age"))
        elif age[provider] > stale_after:
            checks.append(Check(GROUP, name, Status.FAIL, evidence,
                                "see docs/runbooks/ProviderDataStale.md"))
        else:
            checks.append(Check(GROUP, name, Status.PASS, evidence))
    return checks


def catalogued_metrics(ctx: Context) -> list[Check]:
    present = ctx.prom.metric_names()
    missing, event_missing = [], []
    expected = expected_metrics(ctx.enabled)
    for spec, reason in expected:
        if spec.prometheus_name in present:
            continue
        (event_missing if reason else missing).append((spec.prometheus_name, reason))
    name = "catalogued metrics present"
    counts = f"{len(expected) - len(missing) - len(event_missing)}/{len(expected)} present"
    if missing:
        return [Check(GROUP, name, Status.FAIL,
                      f"{counts}; missing: {', '.join(n for n, _ in missing[:15])}"
                      + (" …" if len(missing) > 15 else ""),
                      "a provider stream never succeeded or the collector drops them: see "
                      "stackwatch_provider_poll_errors_total and docs/stack.md")]
    if event_missing:
        return [Check(GROUP, name, Status.WARN,
                      f"{counts}; absent but event-driven: "
                      + "; ".join(f"{n} ({r})" for n, r in event_missing[:15]),
                      "nothing to do unless the event should have happened")]
    return [Check(GROUP, name, Status.PASS, counts)]


def scrape_targets(ctx: Context) -> list[Check]:
    targets = ctx.prom.targets()
    name = "scrape targets up"
    if not targets:
        return [Check(GROUP, name, Status.UNKNOWN, "Prometheus lists no active scrape targets",
                      "check prometheus/prometheus.yml and prometheus/targets/")]
    down = [f"{t.get('labels', {}).get('job')}/{t.get('labels', {}).get('instance')}: "
            f"{(t.get('lastError') or 'down')[:120]}" for t in targets if t.get("health") != "up"]
    evidence = f"{len(targets) - len(down)}/{len(targets)} up"
    if down:
        return [Check(GROUP, name, Status.FAIL, evidence + "; down: " + "; ".join(down[:10]),
                      "fix the named target (address, credentials) in prometheus/targets/")]
    return [Check(GROUP, name, Status.PASS, evidence)]


def run(ctx: Context) -> list[Check]:
    return provider_health(ctx) + catalogued_metrics(ctx) + scrape_targets(ctx)
