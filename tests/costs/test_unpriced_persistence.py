"""Unpriced usage lives in the state file and follows the billing cycle: a restart mid-cycle keeps
the cycle's unpriced count and amount; the cycle's anchor day starts them afresh."""

from __future__ import annotations

from datetime import date, datetime, timezone

from month import Month
from simhelpers import metric_points

from exporters.costs.state.store import StateStore
from exporters.costs.unpriced import UnpricedBook, UnpricedUsage

ANCHOR = 15  # a cycle from the 15th: Oct 15 .. Nov 14, then Nov 15 .. Dec 14


def book(path) -> tuple[StateStore, UnpricedBook]:  # type: ignore[no-untyped-def]
    store = StateStore.in_directory(path)
    return store, UnpricedBook(store, {"llamacloud": ANCHOR})


def test_a_restart_mid_cycle_keeps_the_cycles_unpriced_count_and_amount(tmp_path):
    store, before = book(tmp_path)
    before.replace("llamacloud", date(2026, 11, 3), date(2026, 11, 4), [
        UnpricedUsage(date(2026, 11, 3), "event:pages_verified", "credits", 400.0, 0.5),
        UnpricedUsage(date(2026, 11, 4), "event:pages_verified", "credits", 800.0, 1.0),
        UnpricedUsage(date(2026, 11, 4), "mode:legacy_premium", "pages", 12.0)])
    expected = {("llamacloud", "event:pages_verified", "credits"): (1200.0, 1.5),
                ("llamacloud", "mode:legacy_premium", "pages"): (12.0, None)}
    assert before.month_to_date(date(2026, 11, 4)) == expected
    store.close()
    store, after = book(tmp_path)  # a new process on the same file
    assert after.month_to_date(date(2026, 11, 4)) == expected
    # A re-read of a day replaces it, in the file too: figures never double across a restart.
    after.replace("llamacloud", date(2026, 11, 4), date(2026, 11, 4), [
        UnpricedUsage(date(2026, 11, 4), "event:pages_verified", "credits", 900.0, 1.125)])
    store.close()
    store, again = book(tmp_path)
    assert again.month_to_date(date(2026, 11, 4)) == {
        ("llamacloud", "event:pages_verified", "credits"): (1300.0, 1.625)}
    store.close()


def test_the_unpriced_figures_reset_on_the_cycle_anchor_not_on_the_first(tmp_path):
    store, unpriced = book(tmp_path)
    unpriced.replace("llamacloud", date(2026, 10, 20), date(2026, 11, 14), [
        UnpricedUsage(date(2026, 10, 20), "event:pages_verified", "credits", 100.0, 0.125),
        UnpricedUsage(date(2026, 11, 14), "event:pages_verified", "credits", 300.0, 0.375)])
    key = ("llamacloud", "event:pages_verified", "credits")
    # The 1st of November is inside the cycle that began on October 15th: nothing resets.
    assert unpriced.month_to_date(date(2026, 11, 1))[key] == (100.0, 0.125)
    assert unpriced.month_to_date(date(2026, 11, 14))[key] == (400.0, 0.5)
    # The 15th starts a new cycle, also after a restart.
    assert unpriced.month_to_date(date(2026, 11, 15)) == {}
    store.close()
    store, restarted = book(tmp_path)
    assert restarted.month_to_date(date(2026, 11, 15)) == {}
    assert restarted.month_to_date(date(2026, 11, 14))[key] == (400.0, 0.5)
    # A provider without an anchor follows the calendar month.
    restarted.replace("openai", date(2026, 10, 31), date(2026, 11, 1), [
        UnpricedUsage(date(2026, 10, 31), "gpt-x", "tokens", 10.0),
        UnpricedUsage(date(2026, 11, 1), "gpt-x", "tokens", 5.0)])
    assert restarted.month_to_date(date(2026, 11, 1))[("openai", "gpt-x", "tokens")] == (5.0, None)
    store.close()


def gauges(reader, name: str, provider: str) -> dict[str, float]:  # type: ignore[no-untyped-def]
    return {p.attributes["item"]: p.value for p in metric_points(reader, name) if p.attributes["provider"] == provider}


async def test_the_running_exporter_reports_the_stored_unpriced_usage_after_a_restart(tmp_path):
    start = datetime(2026, 11, 10, 0, 0, tzinfo=timezone.utc)
    async with Month(str(tmp_path), start, "llamacloud") as month:
        await month.run_until(datetime(2026, 11, 12, 6, 0, tzinfo=timezone.utc))
        amounts = gauges(month.reader, "stackwatch.cost.unpriced.month_to_date_usd", "llamacloud")
        usage = gauges(month.reader, "stackwatch.cost.unpriced.usage", "llamacloud")
        truth = month.truth()["unpriced"]["items"]
        assert amounts and usage  # the world has unpriced LlamaCloud items
        await month.restart()  # no poll yet: whatever is reported comes from the state file
        assert gauges(month.reader, "stackwatch.cost.unpriced.month_to_date_usd", "llamacloud") == amounts
        assert gauges(month.reader, "stackwatch.cost.unpriced.usage", "llamacloud") == usage
        for item, usd in amounts.items():
            assert abs(usd - truth[item]) < 1e-9, item
