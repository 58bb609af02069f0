"""Observed states become intervals; changes, gaps and provider-attested times are kept apart."""

from __future__ import annotations

from exporters.costs.state.history import Interval, Observation, StateHistory, advance, canonical, unobserved_seconds
from exporters.costs.state.store import StateStore

A = canonical({"plan": "starter"})
B = canonical({"plan": "standard"})
GAP = 600.0


def test_the_same_state_seen_again_extends_the_interval():
    intervals, _ = advance(Interval(0, 100, A), 160, A, None, GAP)
    assert intervals == [Interval(0, 160, A)]


def test_a_change_starts_a_new_interval_at_the_observation_and_the_old_state_holds_until_then():
    intervals, affected = advance(Interval(0, 100, A), 160, B, None, GAP)
    assert intervals == [Interval(0, 160, A), Interval(160, 160, B)]
    assert affected == 100


def test_a_provider_attested_change_time_moves_the_boundary_back():
    # Render's updatedAt says the new plan holds since 70, although it was last seen as A at 100.
    intervals, affected = advance(Interval(0, 100, A), 160, B, 70, GAP)
    assert intervals == [Interval(0, 70, A), Interval(70, 160, B)]
    assert affected == 70


def test_an_observation_after_a_long_silence_leaves_a_gap_not_a_fill():
    intervals, _ = advance(Interval(0, 100, A), 100 + GAP + 1, A, None, GAP)
    assert intervals == [Interval(0, 100, A), Interval(100 + GAP + 1, 100 + GAP + 1, A)]
    assert unobserved_seconds(intervals, 0, 100 + GAP + 1) == GAP + 1


def test_an_attested_unchanged_state_bridges_a_gap():
    intervals, _ = advance(Interval(0, 100, A), 5000, A, 50, GAP)
    assert intervals == [Interval(0, 5000, A)]


def test_the_first_observation_starts_at_the_attested_time_or_now():
    assert advance(None, 500, A, 200, GAP)[0] == [Interval(200, 500, A)]
    assert advance(None, 500, A, None, GAP)[0] == [Interval(500, 500, A)]


def test_history_is_stored_and_a_new_history_on_the_same_file_resumes_it(tmp_path):
    store = StateStore(tmp_path / "s.sqlite3")
    history = StateHistory("render", store, GAP, now=1000)
    for at, plan in ((100, "starter"), (160, "starter"), (220, "standard")):
        history.apply(history.plan([Observation("srv-1", {"plan": plan})], at))
    store.close()
    resumed = StateHistory("render", StateStore(tmp_path / "s.sqlite3"), GAP, now=1000)
    assert resumed.intervals("srv-1") == [Interval(100, 220, A), Interval(220, 220, B)]
    resumed.apply(resumed.plan([Observation("srv-1", {"plan": "standard"})], 280))
    assert resumed.intervals("srv-1")[-1] == Interval(220, 280, B)


def test_a_planned_update_changes_nothing_until_applied():
    history = StateHistory("render", None, GAP, now=0)
    history.apply(history.plan([Observation("srv-1", {"plan": "starter"})], 100))
    update = history.plan([Observation("srv-1", {"plan": "standard"})], 160)
    assert history.intervals("srv-1") == [Interval(100, 100, A)]
    assert history.intervals("srv-1", update) == [Interval(100, 160, A), Interval(160, 160, B)]
