"""What the boards promise the on-call seat, beyond colours (test_colours.py): the Overview answers "is
anything broken" first, every value there links to the board of its cause with its object in the URL,
the error budget is the 30-day one, the burn-rate panels say what pages and what tickets as the alert
rules do, and deploys are marked where a deploy explains a change."""

from __future__ import annotations

import re

from conftest import REPO, all_panels

from exporters.ops.dashboards_diff import collect
from exporters.ops.semantic_diff import RULES
from grafana.dashboards.common import Board
from grafana.dashboards.slo import BURN_RATES


def board(boards: list[Board], uid: str) -> Board:
    return next(b for b in boards if b.uid == uid)


def test_overview_rows_go_from_broken_to_spend_to_the_monitoring_itself(boards):
    rows = [r.title for r in board(boards, "stackwatch-overview").rows]
    assert rows[:2] == ["Is anything broken?", "Alerts firing"]
    assert rows.index("Spend against budget") > rows.index("Errors and saturation (worst five)")
    assert rows.index("Is the monitoring itself working?") > rows.index("Spend against budget")
    first = [p.title for p in board(boards, "stackwatch-overview").rows[0].panels]
    assert first == ["Tiers up", "Frontend response time", "Backend response time", "Database response time",
                     "Error budget left (30 d)"]


def test_overview_tiers_cover_frontend_backend_and_database_and_a_dead_source_is_down(boards):
    tiers = next(p for p in board(boards, "stackwatch-overview").panels() if p.title == "Tiers up")
    probes, database = (q.expr for q in tiers.queries)
    assert "probe_success" in probes and 'up{job="blackbox"} * 0' in probes
    assert "pg_up" in database and 'up{job="supabase"} * 0' in database and '"tier", "database"' in database
    assert 'status="INACTIVE"' in database  # paused on purpose is not broken


def test_error_budgets_are_over_30_days_not_the_dashboard_range(boards):
    found = 0
    for uid in ("stackwatch-overview", "stackwatch-slo"):
        for panel, query in board(boards, uid).queries():
            if "budget left" in panel.title.lower():
                assert "$__range" not in query.expr
                assert [r.record for r in query.recordings] == ["stackwatch:probe_success:avg_over_time30d"]
                assert "[30d]" in query.recordings[0].expr
                found += 1
    assert found == 2


def data_link_urls(panel: dict) -> list[str]:
    urls = [link["url"] for link in panel["fieldConfig"]["defaults"].get("links", [])]
    for override in panel["fieldConfig"].get("overrides", []):
        urls += [link["url"] for prop in override["properties"] if prop["id"] == "links" for link in prop["value"]]
    return urls


def test_every_overview_value_links_to_a_board_and_per_object_series_carry_their_object(boards, dashboards):
    spec = board(boards, "stackwatch-overview")
    labelled = re.compile(r"(by|topk)\s*\(|\{\{\w+\}\}")
    for panel in spec.panels():
        for query in panel.queries:
            if query.threshold or query.table:
                continue
            assert query.links, (panel.title, query.expr)
            per_object = re.findall(r"\{\{(\w+)\}\}", query.legend)
            if per_object and labelled.search(query.expr):
                # The object the series stands for travels in the URL as the target board's variable.
                assert any(f"${{__field.labels.{label}}}" in link.url for link in query.links
                           for label in per_object), (panel.title, query.legend, query.links)
    table = next(p for p in all_panels(dashboards["stackwatch-overview.json"]) if p["title"] == "Firing alerts")
    urls = data_link_urls(table)
    assert "${runbook_base}/${__data.fields.alertname}.md" in urls
    assert any(u.startswith("/alerting/list?search=${__data.fields.alertname}") for u in urls)


def test_the_firing_alerts_read_alerts_prometheus_evaluates(boards):
    overview = board(boards, "stackwatch-overview")
    reads = [q.expr for p in overview.panels() for q in p.queries if "ALERTS" in q.expr]
    assert len(reads) == 2 and all('alertstate="firing"' in e for e in reads)


def alert_rules() -> list[dict]:
    found = collect(REPO)
    return [r for document in found.of(RULES).values() for g in document["groups"] for r in g["rules"] if "alert" in r]


def test_burn_rate_panels_say_what_pages_and_what_tickets_as_the_alert_rules_do(boards, dashboards):
    """Each burn-rate panel's windows and factor are those of an alert rule of the generated Prometheus rules
    (found by structure, wherever the alerting layout puts them), and its title says pages for a critical
    rule, tickets for a warning one."""
    rules = alert_rules()
    titles = [p["title"] for p in all_panels(dashboards["stackwatch-slo.json"])]
    for rate in BURN_RATES:
        matching = [r for r in rules if f"[{rate.long}]" in r["expr"] and f"[{rate.short}]" in r["expr"]
                    and re.search(rf"\(\s*{re.escape(f'{rate.factor:g}')}\s*\*", r["expr"])]
        assert matching, rate
        assert {r["labels"]["severity"] for r in matching} == {rate.severity}, rate
        assert rate.action == {"critical": "pages", "warning": "tickets"}[rate.severity]
        assert f"{rate.action.capitalize()}: {rate.factor:g}× over {rate.long} and {rate.short}" in titles


DEPLOY_MARKED = ("stackwatch-overview", "stackwatch-vercel", "stackwatch-render", "stackwatch-supabase",
                 "stackwatch-ai", "stackwatch-slo")


def test_deploys_are_marked_on_the_overview_the_provider_boards_and_probes(dashboards):
    for uid in DEPLOY_MARKED:
        names = {a["name"] for a in dashboards[f"{uid}.json"]["annotations"]["list"]}
        assert {"Vercel deploys", "Render deploys"} <= names, uid
    vercel = next(a for a in dashboards["stackwatch-vercel.json"]["annotations"]["list"] if a["name"] == "Vercel deploys")
    assert 'project=~"$project"' in vercel["target"]["expr"]  # the board's project filter applies
    render = next(a for a in dashboards["stackwatch-render.json"]["annotations"]["list"] if a["name"] == "Render deploys")
    assert 'service=~"$service"' in render["target"]["expr"]
