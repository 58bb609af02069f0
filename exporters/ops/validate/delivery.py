"""CI/CD and deployment: recent deploy success rate, a ready production deployment to roll back to."""

from __future__ import annotations

from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Status

GROUP = "delivery"
WINDOW = "7d"
PASS_RATE, WARN_RATE = 0.9, 0.75
RENDER_FAILED = "build_failed|update_failed|pre_deploy_failed"


def _recent(counter: str) -> str:
    # Deploys during the window; a series younger than the window counts from its start.
    return f"({counter} - ({counter} offset {WINDOW})) or {counter}"


def _rate_check(name: str, ok: float, failed: float) -> Check:
    total = ok + failed
    if total == 0:
        return Check(GROUP, name, Status.UNKNOWN, f"no finished deploys in {WINDOW}", "")
    rate = ok / total
    evidence = (f"{ok:,.0f} succeeded, {failed:,.0f} failed in {WINDOW} or since the series began "
                f"({rate:.0%}; pass ≥ {PASS_RATE:.0%})")
    if rate >= PASS_RATE:
        return Check(GROUP, name, Status.PASS, evidence)
    status = Status.WARN if rate >= WARN_RATE else Status.FAIL
    return Check(GROUP, name, status, evidence, "see docs/runbooks/DeployFailed.md")


def _total(ctx: Context, expr: str) -> float:
    return sum(s.value for s in ctx.prom.query(f"sum({expr})"))


def run(ctx: Context) -> list[Check]:
    checks = []
    if "vercel" in ctx.enabled:
        ok = _total(ctx, _recent('vercel_deployments_total{state="READY"}'))
        bad = _total(ctx, _recent('vercel_deployments_total{state="ERROR"}'))
        checks.append(_rate_check("Vercel deploy success rate", ok, bad))
        ready = {s.labels.get("project"): s.value for s in ctx.prom.query(
            'sum by (project) (vercel_deployments_total{target="production", state="READY"})')}
        projects = {s.labels.get("project") for s in ctx.prom.query("sum by (project) (vercel_deployments_total)")}
        checks.append(_rollback("Vercel production rollback target", projects, ready, "project"))
    if "render" in ctx.enabled:
        ok = _total(ctx, _recent('render_deploys_total{status="live"}'))
        bad = _total(ctx, _recent(f'render_deploys_total{{status=~"{RENDER_FAILED}"}}'))
        checks.append(_rate_check("Render deploy success rate", ok, bad))
        live = {s.labels.get("service"): s.value for s in ctx.prom.query(
            'sum by (service) (render_deploys_total{status="live"})')}
        services = {s.labels.get("service") for s in ctx.prom.query("sum by (service) (render_deploys_total)")}
        checks.append(_rollback("Render rollback target", services, live, "service"))
    return checks


def _rollback(name: str, owners: set, ready: dict, what: str) -> Check:
    owners = {o for o in owners if o}
    if not owners:
        return Check(GROUP, name, Status.UNKNOWN, "no deploy series", "check the provider's deployments stream")
    without = sorted(o for o in owners if ready.get(o, 0) < 1)
    if without:
        return Check(GROUP, name, Status.FAIL, f"no successful production deploy seen for {what}(s): {', '.join(without)}",
                     "deploy a known-good build so a rollback target exists")
    return Check(GROUP, name, Status.PASS, f"every {what} ({len(owners)}) has a successful production deploy")
