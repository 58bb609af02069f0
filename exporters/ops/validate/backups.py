"""Backups: each Supabase project has a COMPLETED backup younger than the threshold (26 h) or PITR on."""

from __future__ import annotations

from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Status

GROUP = "backups"


def run(ctx: Context) -> list[Check]:
    if "supabase" not in ctx.enabled:
        return []
    projects = {s.labels.get("project") for s in ctx.prom.query("max by (project) (supabase_project_up)")}
    pitr = {s.labels.get("project"): s.value
            for s in ctx.prom.query("max by (project) (supabase_backup_pitr_enabled)")}
    age = {s.labels.get("project"): s.value for s in ctx.prom.query("min by (project) (supabase_backup_age_seconds)")}
    limit = ctx.config.thresholds.backup_age_seconds
    projects |= set(pitr) | set(age)
    if not projects:
        return [Check(GROUP, "Supabase backups", Status.UNKNOWN,
                      "no supabase_project_up / supabase_backup_* series in Prometheus",
                      "check the Supabase poller (stackwatch_provider_up{provider=\"supabase\"})")]
    checks = []
    for project in sorted(p for p in projects if p):
        name = f"Supabase {project} backup"
        if pitr.get(project) == 1:
            checks.append(Check(GROUP, name, Status.PASS, "supabase_backup_pitr_enabled=1 (point-in-time recovery on)"))
        elif project in age and age[project] <= limit:
            checks.append(Check(GROUP, name, Status.PASS,
                                f"latest COMPLETED backup {age[project] / 3600:.1f} h old (limit {limit / 3600:g} h)"))
        elif project in age:
            checks.append(Check(GROUP, name, Status.FAIL,
                                f"latest COMPLETED backup {age[project] / 3600:.1f} h old (limit {limit / 3600:g} h), PITR off",
                                "see docs/runbooks/SupabaseBackupMissing.md"))
        elif project not in pitr:
            checks.append(Check(GROUP, name, Status.UNKNOWN, "neither supabase_backup_pitr_enabled nor a backup age",
                                "check the Supabase backups stream (stackwatch_provider_poll_errors_total)"))
        else:
            checks.append(Check(GROUP, name, Status.FAIL, "no COMPLETED backup and PITR off",
                                "see docs/runbooks/SupabaseBackupMissing.md"))
    return checks
