"""Performance baselines: record p95 latencies, error rates and daily cost; flag regressions later."""

from __future__ import annotations

import json
from datetime import datetime, timezone
from pathlib import Path

from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Status

GROUP = "baselines"
FORMAT = "stackwatch-baseline/1"
# A regression is a figure worse than baseline × (1 + tolerance) and beyond the absolute floor
# (so a 0.1 % error rate becoming 0.2 % is not a regression, nor a $0.01 day becoming $0.03).
TOLERANCE = {"latency_p95_seconds": (0.20, 0.05), "error_rate": (0.50, 0.005), "daily_cost_usd": (0.20, 1.0)}


def figures(ctx: Context) -> dict[str, dict[str, float]]:
    """Current figures, each keyed by what it describes."""
    w = ctx.window
    latency: dict[str, float] = {}
    for s in ctx.prom.query(f'max by (service) (avg_over_time(render_service_http_latency_seconds{{quantile="0.95"}}[{w}]))'):
        latency[f"render:{s.labels.get('service')}"] = s.value
    for s in ctx.prom.query(f'max by (instance) (quantile_over_time(0.95, probe_duration_seconds{{job="blackbox"}}[{w}]))'):
        latency[f"probe:{s.labels.get('instance')}"] = s.value
    errors: dict[str, float] = {}
    for s in ctx.prom.query(f'sum by (service) (rate(render_service_http_requests_total{{status_class="5xx"}}[{w}]))'
                            f' / sum by (service) (rate(render_service_http_requests_total[{w}]))'):
        errors[f"render:{s.labels.get('service')}"] = s.value
    for s in ctx.prom.query(f'sum by (project) (rate(vercel_requests_total{{status_class="5xx"}}[{w}]))'
                            f' / sum by (project) (rate(vercel_requests_total[{w}]))'):
        errors[f"vercel:{s.labels.get('project')}"] = s.value
    cost: dict[str, float] = {}
    day = max(1, datetime.now(timezone.utc).day)
    for s in ctx.prom.query("sum by (provider) (stackwatch_cost_month_to_date_usd)"):
        cost[str(s.labels.get("provider"))] = s.value / day  # mean daily cost this month
    clean = lambda d: {k: v for k, v in d.items() if v == v}  # noqa: E731 (drop NaN: 0/0 rates)
    return {"latency_p95_seconds": clean(latency), "error_rate": clean(errors), "daily_cost_usd": clean(cost)}


def record(ctx: Context, path: Path) -> dict:
    data = {"format": FORMAT, "recorded_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
            "window": ctx.window, "tolerance": {k: {"relative": r, "absolute": a} for k, (r, a) in TOLERANCE.items()},
            "figures": figures(ctx)}
    path.write_text(json.dumps(data, indent=2, sort_keys=True) + "\n", encoding="utf-8")
    return data


def regressions(baseline: dict[str, dict[str, float]], current: dict[str, dict[str, float]]) -> list[str]:
    """Every figure worse than its baseline beyond the tolerance (pure; tests give hand figures)."""
    found = []
    for kind, (relative, absolute) in TOLERANCE.items():
        for key, before in (baseline.get(kind) or {}).items():
            now = (current.get(kind) or {}).get(key)
            if now is None:
                continue
            if now > before * (1 + relative) and now - before > absolute:
                found.append(f"{kind} {key}: {before:.4g} → {now:.4g} (tolerance +{relative:.0%}, +{absolute:g})")
    return found


def run(ctx: Context) -> list[Check]:
    name = "performance baseline"
    if ctx.baseline is None:
        return [Check(GROUP, name, Status.UNKNOWN, "no baseline given",
                      "record one with `stackwatch validate --record-baseline baseline.json`, then pass "
                      "`--baseline baseline.json` on later runs")]
    current = figures(ctx)
    base = ctx.baseline.get("figures") or {}
    compared = sum(1 for k in TOLERANCE for key in (base.get(k) or {}) if key in (current.get(k) or {}))
    if compared == 0:
        return [Check(GROUP, name, Status.UNKNOWN, "no figure of the baseline is present now",
                      "record a new baseline against this Prometheus")]
    found = regressions(base, current)
    evidence = f"{compared} figures compared with the baseline of {ctx.baseline.get('recorded_at', '?')}"
    if found:
        return [Check(GROUP, name, Status.FAIL, evidence + "; regressions: " + "; ".join(found[:10]),
                      "find the deploy or traffic change behind it (dashboards), or record a new baseline "
                      "if the change is intended")]
    return [Check(GROUP, name, Status.PASS, evidence + "; none beyond tolerance")]
