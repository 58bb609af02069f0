"""Render Key Value: the simulator lists instances as Render's API reference does, and stackwatch
prices them by plan to the invoice the simulator bills from its own price fixtures."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import httpx
import pytest
from calendars import CalendarMonth
from month import Month

from exporters.simulator.render.key_value import PLANS
from exporters.simulator.world import Scale

NOV_1 = datetime(2026, 11, 1, tzinfo=timezone.utc)
CENT = 0.005
SCALE = Scale(render_services=14)  # two Key Value instances: a standard cache and a starter queue


async def test_key_value_instances_are_priced_by_plan_to_the_invoice_to_the_cent(tmp_path,
                                                                                  calendar_month: CalendarMonth):
    start = calendar_month.start
    async with Month(str(tmp_path), start, "render", step_s=10800, scale=SCALE) as month:
        await month.run_until(start + timedelta(days=2))
        render = month.sim.providers["render"]
        instances = render.key_values()
        assert {kv.plan for kv in instances} >= {"standard", "starter"}
        truth = month.truth()["month_to_date_by_project"]
        mine = month.mtd_by_project()
        now = month.world.now_ts()
        for kv in instances:
            # Worked out from render.com's list price: the whole of the 1st .. now (the instance is
            # older), per second of a month of 28, 29, 30 or 31 days.
            by_hand = ({"standard": 32, "starter": 10, "pro": 135}[kv.plan] * (now - start.timestamp())
                       / (calendar_month.days * 86400))
            assert truth[kv.name] == pytest.approx(by_hand, abs=1e-9), kv.name
            assert mine[kv.name] == pytest.approx(truth[kv.name], abs=CENT), kv.name
        records = [r for r in month.runtime.ledger.records() if r.service_name == "Key Value"]
        assert {r.resource_id for r in records} == {kv.id for kv in instances}
        assert month.mtd() == pytest.approx(month.truth()["month_to_date_usd"], abs=CENT)


async def test_the_simulated_key_value_list_pages_by_cursor_and_filters_like_renders(tmp_path):
    async with Month(str(tmp_path), NOV_1, "render", scale=SCALE) as month:
        sim = month.sim
        render = sim.providers["render"]
        headers = {"Authorization": f"Bearer {sim.tokens['render']}"}
        url = f"{sim.base_url}/render/v1/key-value"
        async with httpx.AsyncClient(headers=headers) as client:
            first = (await client.get(url, params={"limit": 1})).json()
            assert len(first) == 1 and set(first[0]) == {"cursor", "keyValue"}
            assert first[0]["keyValue"]["plan"] in PLANS
            rest = (await client.get(url, params={"limit": 100, "cursor": first[0]["cursor"]})).json()
            ids = [i["keyValue"]["id"] for i in first + rest]
            assert ids == [kv.id for kv in render.key_values()] and len(ids) == len(set(ids)) >= 2
            name = render.key_values()[1].name
            assert [i["keyValue"]["name"] for i in (await client.get(url, params={"name": name})).json()] == [name]
            assert (await client.get(url, params={"ownerId": "tea-someoneelse"})).json() == []
            assert (await client.get(url, params={"limit": 0})).status_code == 400
            assert (await client.get(url, params={"region": "mars"})).status_code == 400
