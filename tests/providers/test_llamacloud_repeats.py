"""LlamaCloud repeated parses: the exporter's per-project counters against the simulator's served
re-parses (its ground truth), across polls, days and a billing-cycle boundary; the bounded memory."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone

import pytest
from simhelpers import counter_value, make_runtime, running

from exporters.providers.llamacloud.repeats import DocumentMemory, Parse
from exporters.simulator import Simulator, World
from exporters.simulator.llamacloud.sim import PARSED
from exporters.simulator.world import Scale

HISTORY_DAYS = 40
NOV_18 = datetime(2026, 11, 18, 13, 30, tzinfo=timezone.utc)


async def started(start: datetime, projects: int = 6) -> Simulator:
    sim = Simulator(World(seed=5, scale=Scale(llamacloud_projects=projects, history_days=HISTORY_DAYS),
                          start=start, frozen=True))
    await sim.start()
    return sim


def runtime_on(sim: Simulator):  # type: ignore[no-untyped-def]
    return make_runtime(sim, only="llamacloud",
                        overrides={"providers": {"llamacloud": {"history_days": HISTORY_DAYS}}})


def counted(reader, project: str | None = None) -> tuple[float, float]:  # type: ignore[no-untyped-def]
    attrs = {"project": project} if project else {}
    return (counter_value(reader, "llamacloud.repeat_parses", **attrs),
            counter_value(reader, "llamacloud.repeat_parse_credits", **attrs))


def total(truth: dict[str, tuple[int, float]]) -> tuple[int, float]:
    return sum(c for c, _ in truth.values()), sum(x for _, x in truth.values())


async def test_first_poll_counts_each_projects_repeated_parses_and_their_credits_as_served() -> None:
    sim = await started(NOV_18)
    try:
        async with running(runtime_on(sim)) as (runtime, reader):
            assert all(o.ok for o in await runtime.collector.run_cycle(force=True))
            truth = sim.providers["llamacloud"].repeat_parses(NOV_18.date() - timedelta(days=HISTORY_DAYS))
            assert len(truth) == 6 and total(truth)[0] > 50  # the simulated world re-parses in every project
            for project, (parses, credits) in truth.items():
                got_parses, got_credits = counted(reader, project)
                assert got_parses == parses, project
                assert got_credits == pytest.approx(credits), project
    finally:
        await sim.stop()


async def test_files_parsed_on_earlier_days_are_remembered_across_polls_that_reread_only_today() -> None:
    sim = await started(NOV_18)
    llama = sim.providers["llamacloud"]
    first_day = NOV_18.date() - timedelta(days=HISTORY_DAYS)
    try:
        async with running(runtime_on(sim)) as (runtime, reader):
            await runtime.collector.run_cycle(force=True)
            before, truth_before = counted(reader), total(llama.repeat_parses(first_day, NOV_18.date()))
            for _ in range(8):  # two days in 6-hour steps: each poll re-reads from the last poll's day
                sim.world.advance(6 * 3600)
                await runtime.collector.run_cycle()
            after, truth_after = counted(reader), total(llama.repeat_parses(first_day, NOV_18.date()))
            # Nov 19 and 20 re-parse files first parsed the day before, which no later poll re-reads.
            assert truth_after[0] - truth_before[0] > 10
            assert after[0] - before[0] == truth_after[0] - truth_before[0]
            assert after[1] - before[1] == pytest.approx(truth_after[1] - truth_before[1])
    finally:
        await sim.stop()


async def test_a_new_billing_cycle_does_not_count_reparses_of_the_previous_cycles_files() -> None:
    sim = await started(datetime(2026, 11, 30, 18, 0, tzinfo=timezone.utc))
    llama = sim.providers["llamacloud"]
    dec_1 = date(2026, 12, 1)
    try:
        async with running(runtime_on(sim)) as (runtime, reader):
            await runtime.collector.run_cycle(force=True)
            first_day, nov_30 = dec_1 - timedelta(days=HISTORY_DAYS + 1), date(2026, 11, 30)
            before, truth_before = counted(reader), total(llama.repeat_parses(first_day, nov_30))
            for _ in range(6):  # to Dec 2, 06:00
                sim.world.advance(6 * 3600)
                await runtime.collector.run_cycle()
            after, truth_after = counted(reader), total(llama.repeat_parses(first_day, nov_30))
            assert truth_after[0] > truth_before[0]
            assert after[0] - before[0] == truth_after[0] - truth_before[0]
            assert after[1] - before[1] == pytest.approx(truth_after[1] - truth_before[1])
            # The simulator re-parses yesterday's files on Dec 1 too: those are a new cycle's first parses.
            served = [m for m in llama.visible(date(2026, 11, 1), dec_1) if m.event_type == PARSED]
            november = {(m.project, m.document) for m in served if m.day < dec_1}
            assert any((m.project, m.document) in november for m in served if m.day == dec_1)
    finally:
        await sim.stop()


# --- the memory, on hand-made parses ---

def parse(day: int, document: str, item: str, credits: float = 10.0, project: str = "p") -> Parse:
    return Parse(date(2026, 11, day), project, document, item, credits)


def test_the_first_parse_read_again_is_not_a_repeat_and_a_second_item_is() -> None:
    memory = DocumentMemory()
    first = memory.classify([parse(3, "file-a", "item-1")])
    assert first.totals == {}
    memory.remember(first.first_parses, date(2026, 11, 3))
    # The next poll re-reads item-1 and sees item-2, a re-parse of the same file, and one of another project.
    again = memory.classify([parse(3, "file-a", "item-1"), parse(4, "file-a", "item-2", 30.0),
                             parse(4, "file-a", "item-3", project="q")])
    ((key, totals),) = again.totals.items()
    assert key == (date(2026, 11, 4), "p") and (totals.parses, totals.credits) == (1, 30.0)


def test_a_poll_that_is_not_committed_leaves_the_memory_as_it_was() -> None:
    memory = DocumentMemory()
    memory.classify([parse(3, "file-a", "item-1")])  # never remembered: the poll failed
    assert len(memory) == 0
    assert memory.classify([parse(4, "file-a", "item-2")]).totals == {}  # item-2 is the first parse now


def test_the_memory_is_bounded_and_documents_beyond_it_are_not_tracked() -> None:
    memory = DocumentMemory(limit=2)
    result = memory.classify([parse(3, f"file-{i}", f"item-{i}") for i in range(5)])
    assert len(result.first_parses) == 2 and result.untracked == 3
    memory.remember(result.first_parses, date(2026, 11, 3))
    later = memory.classify([parse(4, "file-0", "item-9"), parse(4, "file-4", "item-10")])
    assert [t.parses for t in later.totals.values()] == [1]  # file-0 is remembered, file-4 is not
    assert later.untracked == 1 and len(memory) == 2


def test_a_new_cycle_forgets_the_last_cycles_documents() -> None:
    memory = DocumentMemory(anchor_day=15)
    memory.remember(memory.classify([parse(14, "file-a", "item-1")]).first_parses, date(2026, 11, 14))
    assert len(memory) == 1
    result = memory.classify([parse(15, "file-a", "item-2")])  # the 15th starts a cycle: a first parse again
    assert result.totals == {}
    memory.remember(result.first_parses, date(2026, 11, 15))
    assert len(memory) == 1
