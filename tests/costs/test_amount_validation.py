"""Provider amounts: numbers and decimal strings parse; NaN, infinities and absurd figures never reach the ledger."""

from __future__ import annotations

import math
from datetime import datetime, timedelta, timezone

import pytest

from exporters.costs.records import ABSURD_AMOUNT_USD, CostRecord, InvalidAmount, check_amount


def test_json_numbers_and_decimal_strings_parse_to_the_same_amount() -> None:
    assert check_amount(0.173915) == 0.173915
    assert check_amount("0.1739150000000000000000000000") == 0.173915
    assert check_amount(" 12.5 ") == 12.5
    assert check_amount(-20) == -20.0  # credits are negative and plausible


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf, "NaN", "inf", "-Infinity", "1e400",
                                 ABSURD_AMOUNT_USD * 1.01, -ABSURD_AMOUNT_USD * 2, "12,50", "", None, True, [1]])
def test_non_finite_absurd_or_non_numeric_amounts_are_rejected(bad: object) -> None:
    with pytest.raises(InvalidAmount):
        check_amount(bad)


def test_a_cost_record_refuses_a_non_finite_or_absurd_cost() -> None:
    start = datetime(2026, 11, 18, tzinfo=timezone.utc)
    common = dict(provider="openai", service_name="OpenAI API", service_category="AI and Machine Learning",
                  resource_id="p", resource_name="p", period_start=start, period_end=start + timedelta(days=1),
                  source="billed")
    assert CostRecord(billed_cost=1.5, **common).billed_cost == 1.5
    for bad in (math.nan, math.inf, 5e9):
        with pytest.raises(ValueError):
            CostRecord(billed_cost=bad, **common)
