"""Scaling: Render autoscaling or CPU/memory headroom at the observed peak; Supabase connections headroom."""

from __future__ import annotations

from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Status

GROUP = "scaling"


def render_headroom(ctx: Context) -> list[Check]:
    w = ctx.window
    autoscaled = {s.labels.get("service"): s.value
                  for s in ctx.prom.query("max by (service) (render_service_autoscaling_max_instances)")}
    cpu = {s.labels.get("service"): s.value
           for s in ctx.prom.query(f"max by (service) (max_over_time(render_service_cpu_utilization_ratio[{w}]))")}
    mem = {s.labels.get("service"): s.value
           for s in ctx.prom.query(f"max by (service) (max_over_time(render_service_memory_utilization_ratio[{w}]))")}
    services = sorted(s for s in set(cpu) | set(mem) | set(autoscaled) if s)
    if not services:
        return [Check(GROUP, "Render headroom", Status.UNKNOWN, "no render_service_* utilisation series",
                      "check the Render poller")]
    cpu_limit = ctx.config.thresholds.cpu_utilization_ratio
    mem_limit = ctx.config.thresholds.memory_utilization_ratio
    checks = []
    for service in services:
        name = f"Render {service} scaling"
        if service in autoscaled:
            checks.append(Check(GROUP, name, Status.PASS, f"autoscaling up to {autoscaled[service]:g} instances"))
            continue
        if service not in cpu or service not in mem:
            checks.append(Check(GROUP, name, Status.UNKNOWN, "CPU or memory utilisation series missing",
                                "check the Render metrics stream"))
            continue
        evidence = (f"peak over {w}: CPU {cpu[service]:.0%} (limit {cpu_limit:.0%}), "
                    f"memory {mem[service]:.0%} (limit {mem_limit:.0%}); no autoscaling")
        if cpu[service] > cpu_limit or mem[service] > mem_limit:
            checks.append(Check(GROUP, name, Status.FAIL, evidence,
                                "enable autoscaling or move to a larger plan (stackwatch report rightsizes)"))
        else:
            checks.append(Check(GROUP, name, Status.PASS, evidence))
    return checks


def supabase_connections(ctx: Context) -> list[Check]:
    if "supabase" not in ctx.enabled:
        return []
    w = ctx.window
    used = ctx.prom.query(
        f"max_over_time((sum by (project) (pg_stat_database_num_backends)"
        f" / max by (project) (max_connections_connection_count))[{w}:])")
    if not used:
        return [Check(GROUP, "Supabase connections headroom", Status.UNKNOWN,
                      "no pg_stat_database_num_backends / max_connections_connection_count series "
                      "(Supabase metrics endpoint not scraped?)",
                      "check the supabase job in prometheus/targets/")]
    limit = ctx.config.thresholds.connections_utilization_ratio
    checks = []
    for sample in sorted(used, key=lambda s: s.labels.get("project", "")):
        project = sample.labels.get("project", "?")
        evidence = f"peak over {w}: {sample.value:.0%} of max_connections (limit {limit:.0%})"
        status = Status.FAIL if sample.value > limit else Status.PASS
        checks.append(Check(GROUP, f"Supabase {project} connections headroom", status, evidence,
                            "use the pooler (port 6543) or a larger compute size" if status is Status.FAIL else ""))
    return checks


def run(ctx: Context) -> list[Check]:
    checks = []
    if "render" in ctx.enabled:
        checks += render_headroom(ctx)
    return checks + supabase_connections(ctx)
