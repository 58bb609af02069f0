"""Restore drill: the operator recorded a Supabase restore carried out recently
(`providers.supabase.last_restore_drill`). A backup never restored is a hope, not a backup: missing
or older than `restore_drill_max_age_days` is a warning, and a failure when gold is required."""

from __future__ import annotations

from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Level, Status

GROUP = "restore drill"
NAME = "Supabase restore drill"
PROCEDURE = "docs/operations.md, \"Restoring Supabase\""


def run(ctx: Context) -> list[Check]:
    if "supabase" not in ctx.enabled:
        return []
    supabase = ctx.config.providers.supabase
    limit = supabase.restore_drill_max_age_days
    short = Status.FAIL if ctx.required is Level.GOLD else Status.WARN
    fix = (f"carry out a restore drill ({PROCEDURE}), then record its date as "
           "providers.supabase.last_restore_drill: YYYY-MM-DD in the config file")
    last = supabase.last_restore_drill
    if last is None:
        return [Check(GROUP, NAME, short, "providers.supabase.last_restore_drill is not set: no restore drill "
                      "recorded", fix)]
    age = (ctx.now.date() - last).days
    if age < 0:
        return [Check(GROUP, NAME, Status.FAIL, f"providers.supabase.last_restore_drill {last} is in the future "
                      f"(today is {ctx.now.date()} UTC)", "record the date the drill was carried out")]
    if age > limit:
        return [Check(GROUP, NAME, short, f"last restore drill {last}, {age} days ago (limit "
                      f"{limit} days: providers.supabase.restore_drill_max_age_days)", fix)]
    return [Check(GROUP, NAME, Status.PASS, f"last restore drill {last}, {age} days ago (limit {limit} days)")]
