"""What Grafana's file provisioning enforces beyond the schema, and what the boards promise:
unique titles and uids, valid uids, datasources that exist, descriptions, links that resolve,
committed files equal to what the sources generate, the Overview as the home dashboard."""

from __future__ import annotations

import re

import yaml
from conftest import REPO, all_panels

from grafana.dashboards.common import DATASOURCE
from grafana.generate import OUTPUT, rendered

DATASOURCES_DIR = REPO / "grafana" / "provisioning" / "datasources"


def provisioned_datasource_uids() -> set[str]:
    uids = set()
    for path in DATASOURCES_DIR.glob("*.y*ml"):
        for source in yaml.safe_load(path.read_text()).get("datasources", []):
            uids.add(source["uid"])
    return uids


def datasource_refs(value: object) -> list[dict]:
    if isinstance(value, dict):
        found = [value["datasource"]] if isinstance(value.get("datasource"), dict) else []
        return found + [r for v in value.values() for r in datasource_refs(v)]
    if isinstance(value, list):
        return [r for v in value for r in datasource_refs(v)]
    return []


def test_titles_are_non_empty_and_unique(dashboards):
    titles = [d["title"] for d in dashboards.values()]
    assert all(t.strip() for t in titles)
    assert len(set(titles)) == len(titles)


def test_uids_are_valid_unique_and_name_their_files(dashboards):
    uids = [d["uid"] for d in dashboards.values()]
    for name, dashboard in dashboards.items():
        assert re.fullmatch(r"[a-zA-Z0-9_-]{1,40}", dashboard["uid"]), dashboard["uid"]
        assert name == f"{dashboard['uid']}.json"
    assert len(set(uids)) == len(uids)


def test_every_datasource_reference_is_a_provisioned_datasource(dashboards):
    provisioned = provisioned_datasource_uids()
    assert DATASOURCE["uid"] in provisioned
    for name, dashboard in dashboards.items():
        refs = datasource_refs(dashboard)
        assert refs, name
        for ref in refs:
            if ref.get("type") == "grafana":  # the built-in annotation source, not provisioned
                continue
            assert ref == DATASOURCE and ref["uid"] in provisioned, (name, ref)


def test_every_panel_has_a_title_and_a_description_and_ids_are_unique(dashboards):
    for name, dashboard in dashboards.items():
        panels = all_panels(dashboard)
        ids = [p["id"] for p in panels]
        assert len(set(ids)) == len(ids), name
        for panel in panels:
            assert panel["title"].strip(), (name, panel["id"])
            if panel["type"] != "row":
                assert len(panel.get("description", "")) > 40, (name, panel["title"])


def test_every_query_panel_has_a_unit(dashboards):
    for name, dashboard in dashboards.items():
        for panel in all_panels(dashboard):
            if panel.get("targets"):
                assert panel["fieldConfig"]["defaults"].get("unit"), (name, panel["title"])


def test_links_point_at_boards_that_exist(dashboards):
    uids = {d["uid"] for d in dashboards.values()}
    for name, dashboard in dashboards.items():
        for panel in all_panels(dashboard):
            for link in panel.get("links", []):
                target = re.fullmatch(r"/d/([\w-]+)", link["url"])
                assert target and target.group(1) in uids, (name, panel["title"], link)
            for target in re.findall(r"\(/d/([\w-]+)", panel.get("options", {}).get("content", "")):
                assert target in uids, (name, target)


def data_link_urls(panel: dict) -> list[str]:
    """URLs of a panel's data links (field defaults and overrides)."""
    config = panel.get("fieldConfig", {})
    links = list(config.get("defaults", {}).get("links", []))
    for override in config.get("overrides", []):
        for prop in override["properties"]:
            if prop["id"] == "links":
                links += prop["value"]
    return [link["url"] for link in links]


def test_overview_links_to_every_other_board(dashboards):
    overview = dashboards["stackwatch-overview.json"]
    linked = {link["url"].removeprefix("/d/") for p in all_panels(overview) for link in p.get("links", [])}
    assert linked == {d["uid"] for d in dashboards.values()} - {"stackwatch-overview"}


def test_data_links_point_at_boards_that_exist_and_keep_the_time_range(dashboards):
    uids = {d["uid"] for d in dashboards.values()}
    checked = 0
    for name, dashboard in dashboards.items():
        for panel in all_panels(dashboard):
            for url in data_link_urls(panel):
                if not url.startswith("/d/"):
                    continue
                target = re.match(r"/d/([\w-]+)\?", url)
                assert target and target.group(1) in uids, (name, panel["title"], url)
                assert "${__url_time_range}" in url and "${environment:queryparam}" in url, url
                checked += 1
    assert checked >= 15


def test_cost_boards_default_to_30_days(dashboards):
    assert dashboards["stackwatch-costs.json"]["time"] == {"from": "now-30d", "to": "now"}


def test_committed_dashboards_are_what_the_sources_generate_byte_for_byte():
    generated = rendered()
    committed = {p.name: p.read_text() for p in OUTPUT.glob("*.json")}
    assert committed == generated
    assert rendered() == generated  # byte-stable across runs


def test_overview_is_the_home_dashboard_in_compose():
    compose = yaml.safe_load((REPO / "docker-compose.yml").read_text())
    grafana = compose["services"]["grafana"]
    home = grafana["environment"]["GF_DASHBOARDS_DEFAULT_HOME_DASHBOARD_PATH"]
    mounts = {v.split(":")[1]: v.split(":")[0] for v in grafana["volumes"] if v.startswith("./")}
    mount_dir = "/etc/grafana/provisioning/dashboards"
    assert mounts[mount_dir] == "./grafana/provisioning/dashboards"
    assert home == f"{mount_dir}/stackwatch-overview.json"
    assert (OUTPUT / "stackwatch-overview.json").exists()
