"""Supabase: project health and backups (Management API) and the database itself (the project's metrics
endpoint): up, read-only mode, connections, CPU, memory, disk and its IO, OOM kills, replication lag."""

from __future__ import annotations

from .common import (
    ENV,
    ENVIRONMENT,
    SCRAPED_MIN_INTERVAL,
    SUPABASE,
    Board,
    Panel,
    Query,
    Row,
    project_variable,
)
from .deploys import render_deploys, vercel_deploys

API = f'{ENV}, project=~"$project"'
# Series Prometheus scrapes from each project's metrics endpoint: labelled by the
# `project` of prometheus/targets/*/supabase.yml, no deployment_environment.
SCRAPED = 'project=~"$project"'
RATE = "$__rate_interval"
UP = {"type": "value", "options": {"0": {"text": "DOWN", "color": "red", "index": 0},
                                    "1": {"text": "UP", "color": "green", "index": 1}}}


def board() -> Board:
    health = Row("Health and backups (Management API)", [
        Panel("stat", "Project status", "1 when the project's status is ACTIVE_HEALTHY (status in the "
              "label). 0: open the project in Supabase; INACTIVE means paused.",
              (Query(f"max by (project, status) (supabase_project_up{{{API}}})", "{{project}} {{status}}"),),
              unit="none", width=8, height=6, steps=(("red", None), ("green", 1)), better="higher"),
        Panel("table", "Unhealthy services", "Services (auth, db, pooler, realtime, rest, storage) not "
              "reporting healthy, per project. Any row: check Supabase's status page and the project's logs.",
              (Query(f"min by (project, service) (supabase_service_healthy{{{API}}}) < 1", "",
                     instant=True, table=True),),
              unit="none", width=8, height=6, no_value="All services healthy"),
        Panel("stat", "Latest backup age", "Time since the latest completed backup per project, against the "
              "backup-age threshold (from config). Above it: backups are failing; with PITR off, that much "
              "data is at risk.",
              (Query(f"max by (project) (supabase_backup_age_seconds{{{API}}})", "{{project}}"),
               Query(f"max(stackwatch_threshold_backup_age_seconds{{{ENV}}})", "threshold", threshold=True)),
              unit="s", width=5, height=6, better="lower"),
        Panel("stat", "PITR", "Point-in-time recovery per project (1 on). Off on a production project: "
              "recovery is only to the last daily backup.",
              (Query(f"max by (project) (supabase_backup_pitr_enabled{{{API}}})", "{{project}}"),),
              unit="none", width=3, height=6, steps=(("orange", None), ("green", 1)), better="higher",
              mappings=({"type": "value", "options": {"0": {"text": "off", "index": 0},
                                                      "1": {"text": "on", "index": 1}}},)),
    ])
    state = Row("Database state (metrics endpoint)", [
        Panel("stat", "Database up", "Whether Postgres answers the project's metrics exporter (pg_up; a failed "
              "scrape counts as down). DOWN on an ACTIVE project: the database is unreachable; a paused "
              "project (Project status INACTIVE) is down on purpose.",
              (Query(f"min by (project) (pg_up{{{SCRAPED}}} or on (project) (up{{job=\"supabase\", {SCRAPED}}} * 0))",
                     "{{project}}", scenario="outage"),),
              unit="none", width=8, height=5, mappings=(UP,), steps=(("red", None), ("green", 1)), better="higher"),
        Panel("stat", "Read-only mode", "Whether the database runs in read-only mode "
              "(default_transaction_read_only; Supabase turns it on when the disk is nearly full, 95 %). "
              "READ-ONLY: writes fail; grow the disk or free space, then turn it off (Supabase docs, "
              "'Disabling read-only mode').",
              (Query(f"max by (project) (pg_settings_default_transaction_read_only{{{SCRAPED}}})", "{{project}}"),),
              unit="none", width=8, height=5, better="lower", steps=(("green", None), ("red", 1)),
              mappings=({"type": "value", "options": {"0": {"text": "writable", "index": 0},
                                                      "1": {"text": "READ-ONLY", "index": 1}}},)),
        Panel("timeseries", "OOM kills", "Processes the database host's kernel killed for lack of memory, per "
              "hour (node_vmstat_oom_kill). Any: Postgres backends were killed; lower work_mem or raise the "
              "compute size.",
              (Query(f"sum by (project) (increase(node_vmstat_oom_kill{{{SCRAPED}}}[1h]))", "{{project}}"),),
              unit="short", width=8, height=5, bars=True, interval="1h", steps=(("green", None), ("red", 1))),
    ])
    database = Row("Database load (metrics endpoint)", [
        Panel("timeseries", "Connections vs max", "Postgres backends per project and its max_connections "
              "(dashed). Near the maximum new connections fail: route clients through the pooler.",
              (Query(f"sum by (project) (pg_stat_database_num_backends{{{SCRAPED}}})", "{{project}}"),
               Query(f"max by (project) (supavisor_connections_active{{{SCRAPED}}})", "pooler {{project}}"),
               Query(f"max(max_connections_connection_count{{{SCRAPED}}})", "max_connections", threshold=True)),
              unit="short", width=8, height=8),
        Panel("timeseries", "CPU", "Database host CPU busy share per project against the CPU threshold. "
              "Sustained above it: slow queries (see statement time) or an undersized compute add-on.",
              (Query(f"1 - avg by (project) (rate(node_cpu_seconds_total{{{SCRAPED}, mode=\"idle\"}}[{RATE}]))",
                     "{{project}}"),
               Query(f"max(stackwatch_threshold_cpu_utilization_ratio{{{ENV}}})", "threshold", threshold=True)),
              unit="percentunit", width=8, height=8, interval=SCRAPED_MIN_INTERVAL),
        Panel("timeseries", "Memory", "Database host memory in use per project against the memory "
              "threshold. Near 100 %: Postgres starts swapping or is OOM-killed.",
              (Query(f"1 - max by (project) (node_memory_MemAvailable_bytes{{{SCRAPED}}}) / "
                     f"max by (project) (node_memory_MemTotal_bytes{{{SCRAPED}}})", "{{project}}"),
               Query(f"max(stackwatch_threshold_memory_utilization_ratio{{{ENV}}})", "threshold", threshold=True)),
              unit="percentunit", width=8, height=8),
        Panel("timeseries", "Disk used", "Data filesystem used / size per project (metrics endpoint) and the "
              "Management API's figure. At 95 % Supabase puts the database in read-only mode; the disk "
              "auto-grows once per 6 h, so plan for it.",
              (Query(f"1 - max by (project) (node_filesystem_avail_bytes{{{SCRAPED}, mountpoint=\"/data\"}}) / "
                     f"max by (project) (node_filesystem_size_bytes{{{SCRAPED}, mountpoint=\"/data\"}})",
                     "{{project}}"),
               Query(f"max by (project) (supabase_disk_utilization_ratio{{{API}}})", "api {{project}}")),
              unit="percentunit", width=8, height=8, max=1, steps=(("green", None), ("red", 0.95))),
        Panel("timeseries", "Disk IO", "Bytes read from and written to the database host's disks per second "
              "(node_disk_*). Sustained near the compute size's IO limit: queries wait on disk; add indexes, "
              "cache more, or raise the compute size (its IO bandwidth).",
              (Query(f"sum by (project) (rate(node_disk_read_bytes_total{{{SCRAPED}}}[{RATE}]))", "read {{project}}"),
               Query(f"sum by (project) (rate(node_disk_written_bytes_total{{{SCRAPED}}}[{RATE}]))",
                     "write {{project}}")),
              unit="Bps", width=8, height=8, interval=SCRAPED_MIN_INTERVAL),
        Panel("timeseries", "Disk busy time", "Share of time the busiest disk of each project had IO in "
              "progress (node_disk_io_time_seconds_total). Near 100 %: the disk is saturated.",
              (Query(f"max by (project) (rate(node_disk_io_time_seconds_total{{{SCRAPED}}}[{RATE}]))", "{{project}}"),),
              unit="percentunit", width=8, height=8, max=1, interval=SCRAPED_MIN_INTERVAL),
        Panel("timeseries", "Database size", "Size of each project's postgres database. Growing faster than "
              "expected: a table without retention, or bloat (VACUUM).",
              (Query(f"sum by (project) (pg_database_size_bytes{{{SCRAPED}}})", "{{project}}"),),
              unit="bytes", width=8, height=8),
        Panel("timeseries", "Replication lag", "Physical replication lag of read replicas (either name "
              "Supabase's sources give the series). Growing: replicas serve stale reads; check write volume "
              "and the replica's size.",
              (Query(f"max by (project) (physical_replication_lag_physical_replica_lag_seconds{{{SCRAPED}}} "
                     f"or physical_replication_lag_physical_replication_lag_seconds{{{SCRAPED}}})",
                     "{{project}}"),),
              unit="s", width=8, height=8),
        Panel("timeseries", "Replication slot lag", "WAL the slowest replication slot of each project has not "
              "consumed yet (replication_slots_max_lag_bytes; Realtime and logical replication use slots). "
              "Growing without bound: a consumer stopped, and the retained WAL fills the disk.",
              (Query(f"max by (project) (replication_slots_max_lag_bytes{{{SCRAPED}}})", "{{project}}"),),
              unit="bytes", width=8, height=8),
        Panel("timeseries", "Mean statement time", "Mean execution time of statements (pg_stat_statements) "
              "against the database response-time threshold. Above it: find the slow queries in the project's "
              "Query Performance report.",
              (Query(f"sum by (project) (rate(pg_stat_statements_total_time_seconds{{{SCRAPED}}}[{RATE}])) / "
                     f"sum by (project) (rate(pg_stat_statements_total_queries{{{SCRAPED}}}[{RATE}]))",
                     "{{project}}"),
               Query(f"max(stackwatch_threshold_response_time_seconds{{{ENV}, tier=\"database\"}})", "threshold",
                     threshold=True)),
              unit="s", width=12, height=8, interval=SCRAPED_MIN_INTERVAL),
        Panel("timeseries", "API requests by service", "Requests per minute to the project's REST, auth, "
              "storage and realtime APIs (Management API usage counts).",
              (Query(f"sum by (service) (rate(supabase_api_requests_total{{{API}}}[{RATE}])) * 60", "{{service}}"),),
              unit="short", width=12, height=8, interval=SCRAPED_MIN_INTERVAL),
    ])
    auth = Row("Authentication (auth logs, Management API)", [
        Panel("timeseries", "Authentication outcomes", "Sign-ins, sign-ups and token refreshes per minute, "
              "succeeded and failed, counted from the projects' auth logs in whole minutes (a minute shows up "
              "at the poll after it ends).",
              (Query(f"sum by (kind, outcome) (rate(supabase_auth_events_total{{{API}}}[{RATE}])) * 60",
                     "{{kind}} {{outcome}}"),),
              unit="short", width=12, height=8, interval=SCRAPED_MIN_INTERVAL),
        Panel("timeseries", "Authentication failure share", "Failed / all authentication attempts per project "
              "over 15 minutes. SupabaseAuthFailuresHigh warns above 25 % with at least 20 attempts: an attack, "
              "or a broken sign-in flow.",
              (Query(f'sum by (project) (increase(supabase_auth_events_total{{{API}, outcome="failure"}}[15m])) '
                     f"/ sum by (project) (increase(supabase_auth_events_total{{{API}}}[15m]))", "{{project}}"),),
              unit="percentunit", width=12, height=8, max=1, interval=SCRAPED_MIN_INTERVAL,
              steps=(("green", None), ("orange", 0.25))),
    ])
    return Board(SUPABASE.uid, "stackwatch · Supabase",
                 "Supabase project health, backups and PITR (Management API); the database's state (up, "
                 "read-only mode, OOM kills) and load (connections, CPU, memory, disk and its IO, size, "
                 "replication and slot lag, statement time) from the project's metrics endpoint; authentication "
                 "outcomes (auth logs).",
                 "now-24h", [health, state, database, auth], (ENVIRONMENT, project_variable("supabase_project_up")),
                 annotations=(vercel_deploys(f'{ENV}, target="production"'), render_deploys(ENV)))
