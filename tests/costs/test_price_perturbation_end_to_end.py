"""End to end: a +10 % change of any price the simulated world exercises makes stackwatch disagree
with the simulator's invoice (which bills from its own fixtures, not from price_tables/).

For every numeric price-table entry that the default simulated OpenAI and LlamaCloud organisations
use, the exporter runs one real cycle against the simulator with a PriceBook loaded from a copy of
the tables in which only that entry changed; the month-to-date or today's cost then differs from
the ground truth. The unchanged tables agree to 1e-6 USD. (Every other entry is covered by the pin
and the pricing comparison in test_price_tables.py.)
"""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import pytest
from simhelpers import make_runtime, running
from test_price_tables import _book_with

from exporters.costs.prices import PriceBook
from exporters.service import runtime as runtime_module
from exporters.simulator import Simulator, World
from exporters.simulator.world import Scale

NOW = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)
EXACT = 1e-6

OPENAI_ENTRIES = [
    "usd_per_million_tokens/gpt-4o-2024-08-06/input", "usd_per_million_tokens/gpt-4o-2024-08-06/cached_input",
    "usd_per_million_tokens/gpt-4o-2024-08-06/output", "usd_per_million_tokens/gpt-4o-mini-2024-07-18/input",
    "usd_per_million_tokens/gpt-4o-mini-2024-07-18/cached_input",
    "usd_per_million_tokens/gpt-4o-mini-2024-07-18/output", "usd_per_million_tokens/text-embedding-3-small/input",
    "usd_per_million_tokens/text-embedding-3-large/input", "batch_multiplier",
]
LLAMACLOUD_ENTRIES = [
    "usd_per_1000_credits", "credits_per_page/fast", "credits_per_page/cost_effective", "credits_per_page/agentic",
    "credits_per_page/agentic_plus", "plans/pay_as_you_go/usd_per_month", "plans/pay_as_you_go/included_credits",
]


async def mismatch(provider: str, book: PriceBook, monkeypatch: pytest.MonkeyPatch) -> float:
    """|stackwatch − ground truth| summed over today and month-to-date, after one cycle with `book`."""
    monkeypatch.setattr(runtime_module.PriceBook, "load", classmethod(lambda cls, *_a: book))
    # Seed 1: the organisation sends Batch API requests to priced models (so batch_multiplier matters).
    sim = Simulator(World(seed=1, scale=Scale(llamacloud_projects=2, history_days=20), start=NOW, frozen=True))
    await sim.start()
    try:
        async with running(make_runtime(sim, only=provider,
                                        overrides={"providers": {provider: {"history_days": 20}}})) as (rt, _r):
            outcomes = await rt.collector.run_cycle(force=True)
            assert all(o.ok for o in outcomes), outcomes
            truth = sim.providers[provider].ground_truth()
            summary = rt.ledger.summary(NOW)
            return abs(summary.today_by_provider[provider] - truth["today_usd"]) + \
                abs(summary.month_to_date_by_provider[provider] - truth["month_to_date_usd"])
    finally:
        await sim.stop()


@pytest.mark.parametrize("provider", ["openai", "llamacloud"])
async def test_the_unchanged_tables_agree_with_the_invoice(provider: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await mismatch(provider, PriceBook.load(), monkeypatch) < EXACT


@pytest.mark.parametrize(("provider", "key"), [("openai", k) for k in OPENAI_ENTRIES]
                         + [("llamacloud", k) for k in LLAMACLOUD_ENTRIES], ids=lambda v: str(v))
async def test_changing_a_price_the_world_uses_breaks_the_end_to_end_comparison(
        tmp_path: Path, provider: str, key: str, monkeypatch: pytest.MonkeyPatch) -> None:
    assert await mismatch(provider, _book_with(tmp_path, provider, key), monkeypatch) > EXACT
