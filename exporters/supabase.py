"""Supabase (Management API): projects, service health, backups, add-ons as estimated
cost, API request counts and disk utilisation. The per-project Prometheus endpoint
is scraped by Prometheus itself, not re-exported here.

STUB — to be implemented (see the helper brief). The metric catalogue below is final.
"""

from __future__ import annotations

from .catalogue import Kind, MetricSpec

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("supabase.project.up", Kind.GAUGE, "{status}",
               "1 when the project's status is ACTIVE_HEALTHY, else 0 (status in the label).",
               ("project", "status")),
    MetricSpec("supabase.service.healthy", Kind.GAUGE, "{status}",
               "1 when the project's service (auth, db, pooler, realtime, rest, storage) reports healthy.",
               ("project", "service")),
    MetricSpec("supabase.backup.age", Kind.GAUGE, "s",
               "Seconds since the latest COMPLETED backup; absent when there is none.", ("project",)),
    MetricSpec("supabase.backup.pitr_enabled", Kind.GAUGE, "{status}",
               "1 when point-in-time recovery is on.", ("project",)),
    MetricSpec("supabase.api.requests", Kind.COUNTER, "{request}",
               "API requests by service (rest, auth, storage, realtime), from usage.api-counts.",
               ("project", "service")),
    MetricSpec("supabase.disk.utilization", Kind.GAUGE, "1", "Database disk used / disk size.", ("project",)),
    MetricSpec("supabase.disk.usage", Kind.GAUGE, "By", "Database disk used.", ("project",)),
    MetricSpec("supabase.compute.info", Kind.GAUGE, "{project}",
               "1 per project, with its compute add-on size.", ("project", "compute")),
)
