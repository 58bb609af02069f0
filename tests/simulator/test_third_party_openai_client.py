"""An unchanged open-source OpenAI usage report (`openai-usage-report` 0.4.1 on PyPI, MIT) reads the simulator.

It is the kind of client issue #11 saw get nothing: it sends `group_by=api_key_id,model`
comma-joined, pages `/organization/projects` with `after`, lists each project's API keys
and keeps only usage rows whose `api_key_id` is one of them. Only its hard-coded
`https://api.openai.com/...` URL constants are pointed at the simulator (as a base-URL
setting would); its code runs as published, with `requests`.
"""

from __future__ import annotations

from datetime import timedelta

import pytest
from openai_usage import api as usage_report

from exporters.simulator import Simulator, ThreadedSimulator, World


@pytest.fixture
def served(world: World, monkeypatch: pytest.MonkeyPatch):  # type: ignore[no-untyped-def]
    with ThreadedSimulator(Simulator(world, record_exchanges=True)) as simulator:
        base = simulator.base_url + "/openai/v1/organization"
        monkeypatch.setattr(usage_report, "API_BASE_URL_PROJECTS", f"{base}/projects")
        monkeypatch.setattr(usage_report, "API_BASE_URL_PROJECT_API_KEYS", f"{base}/projects/{{project_id}}/api_keys")
        monkeypatch.setattr(usage_report, "API_BASE_URL_USAGE_COMPLETIONS", f"{base}/usage/completions")
        yield simulator


def test_the_usage_report_lists_projects_and_reads_each_projects_usage_by_key_and_model(served: Simulator) -> None:
    sim = served.providers["openai"]
    token = served.tokens["openai"]
    projects = usage_report.list_projects(token, return_list=True)
    assert [p["id"] for p in projects] == sim.projects
    today = served.world.today()
    first, last = today - timedelta(days=9), today - timedelta(days=1)  # ten days: two pages of seven buckets
    for project in sim.projects:
        by_date = usage_report.fetch_project_usage(project, token, {}, first.isoformat(), last.isoformat())
        seen: dict[tuple[str, str], int] = {}
        for day, rows in by_date.items():
            for row in rows:
                key = (day, row["model"])
                seen[key] = seen.get(key, 0) + row["input_tokens"]
        expected: dict[tuple[str, str], int] = {}
        day = first
        while day <= last:
            for u in sim.usage_on(day):
                if u.project == project and not u.model.startswith("text-embedding"):
                    key = (day.isoformat(), u.model)
                    expected[key] = expected.get(key, 0) + u.input
            day += timedelta(days=1)
        assert expected and seen == expected, project
    usage_calls = [e for e in served.stats.exchanges if e.path == "/organization/usage/completions"]
    assert ("group_by", "api_key_id,model") in usage_calls[0].query  # the comma form really was sent
    assert any(name == "page" for e in usage_calls for name, _ in e.query)  # and it paged
