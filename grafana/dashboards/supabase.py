"""Supabase: project health and backups (Management API) and the database itself (metrics endpoint)."""

from __future__ import annotations

from .common import ENV, ENVIRONMENT, SCRAPED_MIN_INTERVAL, SUPABASE, Board, Panel, Query, Row, project_variable

API = f'{ENV}, project=~"$project"'
# Series Prometheus scrapes from each project's metrics endpoint: labelled by the
# `project` of prometheus/targets/*/supabase.yml, no deployment_environment.
SCRAPED = 'project=~"$project"'
RATE = "$__rate_interval"


def board() -> Board:
    health = Row("Health and backups (Management API)", [
        Panel("stat", "Project status", "1 when the project's status is ACTIVE_HEALTHY (status in the "
              "label). 0: open the project in Supabase; INACTIVE means paused.",
              (Query(f"max by (project, status) (supabase_project_up{{{API}}})", "{{project}} {{status}}"),),
              unit="none", width=8, height=6, steps=(("red", None), ("green", 1))),
        Panel("table", "Unhealthy services", "Services (auth, db, pooler, realtime, rest, storage) not "
              "reporting healthy, per project. Any row: check Supabase's status page and the project's logs.",
              (Query(f"min by (project, service) (supabase_service_healthy{{{API}}}) < 1", "",
                     instant=True, table=True),),
              unit="none", width=8, height=6),
        Panel("stat", "Latest backup age", "Time since the latest completed backup per project. Over a day: "
              "backups are failing; with PITR off, a day of data is at risk.",
              (Query(f"max by (project) (supabase_backup_age_seconds{{{API}}})", "{{project}}"),),
              unit="s", width=5, height=6, steps=(("green", None), ("orange", 93600), ("red", 172800))),
        Panel("stat", "PITR", "Point-in-time recovery per project (1 on). Off on a production project: "
              "recovery is only to the last daily backup.",
              (Query(f"max by (project) (supabase_backup_pitr_enabled{{{API}}})", "{{project}}"),),
              unit="none", width=3, height=6, steps=(("orange", None), ("green", 1)),
              mappings=({"type": "value", "options": {"0": {"text": "off", "index": 0},
                                                      "1": {"text": "on", "index": 1}}},)),
    ])
    database = Row("Database (metrics endpoint)", [
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
              "Management API's figure. Above 90 %: the disk auto-grows once per 6 h; plan for it.",
              (Query(f"1 - max by (project) (node_filesystem_avail_bytes{{{SCRAPED}, mountpoint=\"/data\"}}) / "
                     f"max by (project) (node_filesystem_size_bytes{{{SCRAPED}, mountpoint=\"/data\"}})",
                     "{{project}}"),
               Query(f"max by (project) (supabase_disk_utilization_ratio{{{API}}})", "api {{project}}")),
              unit="percentunit", width=8, height=8, max=1),
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
    return Board(SUPABASE.uid, "stackwatch · Supabase",
                 "Supabase project health, backups and PITR (Management API) and the database's connections, "
                 "CPU, memory, disk, size, replication lag and statement time (metrics endpoint).",
                 "now-24h", [health, database], (ENVIRONMENT, project_variable("supabase_project_up")))
