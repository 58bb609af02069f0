"""Rate-limit headers in every form the providers send."""

from __future__ import annotations

import pytest

from exporters.core.ratelimit import (
    DEFAULT_MAX_WAIT_S,
    clamp_reset,
    parse_duration,
    parse_rate_limit,
    parse_reset,
    parse_retry_after,
    retry_at,
)

NOW = 1_800_000_000.0  # 2027-01-15T08:00:00Z


def test_vercel_reset_is_epoch_seconds() -> None:
    rate = parse_rate_limit({"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0",
                             "X-RateLimit-Reset": str(int(NOW) + 30)}, NOW)
    assert rate is not None and rate.exhausted
    assert rate.reset_at == NOW + 30
    assert rate.headroom == 0.0


def test_render_reset_as_seconds_remaining() -> None:
    rate = parse_rate_limit({"Ratelimit-Limit": "400", "Ratelimit-Remaining": "100", "Ratelimit-Reset": "42"}, NOW)
    assert rate is not None
    assert rate.reset_at == NOW + 42
    assert rate.headroom == 0.25


def test_render_reset_as_epoch_is_read_as_epoch() -> None:
    rate = parse_rate_limit({"ratelimit-reset": str(int(NOW) + 5)}, NOW)
    assert rate is not None and rate.reset_at == NOW + 5


def test_header_names_are_case_insensitive() -> None:
    rate = parse_rate_limit({"x-ratelimit-limit": "10", "x-ratelimit-remaining": "9"}, NOW)
    assert rate is not None and rate.headroom == 0.9


def test_no_rate_limit_headers_gives_none() -> None:
    assert parse_rate_limit({"Content-Type": "application/json"}, NOW) is None


def test_garbage_values_are_ignored_not_fatal() -> None:
    rate = parse_rate_limit({"X-RateLimit-Limit": "lots", "X-RateLimit-Remaining": "3", "X-RateLimit-Reset": "-1"}, NOW)
    assert rate is not None
    assert rate.limit is None and rate.remaining == 3 and rate.reset_at is None and rate.headroom is None


def test_retry_after_delta_seconds() -> None:
    assert parse_retry_after("7", NOW) == NOW + 7


def test_retry_after_http_date() -> None:
    # 2027-01-15T08:00:20Z
    assert parse_retry_after("Fri, 15 Jan 2027 08:00:20 GMT", NOW) == NOW + 20


def test_retry_after_wins_over_reset_on_429() -> None:
    headers = {"Retry-After": "3", "X-RateLimit-Reset": str(int(NOW) + 50)}
    assert retry_at(headers, NOW) == NOW + 3


def test_retry_at_falls_back_to_reset() -> None:
    assert retry_at({"Ratelimit-Reset": "12"}, NOW) == NOW + 12
    assert retry_at({}, NOW) is None


def test_reset_boundary_between_delay_and_epoch() -> None:
    assert parse_reset("999999999", NOW, max_wait_s=1e12) == NOW + 999_999_999
    assert parse_reset("1000000000", NOW) == 1_000_000_000


def test_openai_request_limits_with_a_duration_reset() -> None:
    rate = parse_rate_limit({"x-ratelimit-limit-requests": "5000", "x-ratelimit-remaining-requests": "4999",
                             "x-ratelimit-reset-requests": "6m0s"}, NOW)
    assert rate is not None
    assert rate.headroom == 4999 / 5000
    assert rate.reset_at == NOW + 360


@pytest.mark.parametrize(("text", "seconds"), [("1s", 1.0), ("20ms", 0.02), ("6m0s", 360.0), ("1h2m3s", 3723.0),
                                               ("1.5s", 1.5), ("2m", 120.0)])
def test_durations_in_openai_reset_headers(text: str, seconds: float) -> None:
    assert parse_duration(text) == pytest.approx(seconds)


@pytest.mark.parametrize("text", ["", "soon", "5", "m", "1x"])
def test_unreadable_durations_are_none(text: str) -> None:
    assert parse_duration(text) is None


YEAR_5138 = 99_999_999_999  # epoch seconds: a reset in the year 5138


@pytest.mark.parametrize("headers", [
    {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(YEAR_5138)},
    # epoch milliseconds where seconds are documented
    {"X-RateLimit-Limit": "100", "X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) * 1000)},
    {"Ratelimit-Limit": "400", "Ratelimit-Remaining": "0", "Ratelimit-Reset": "999999999"},
    {"x-ratelimit-limit-requests": "5", "x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "9999h"},
])
def test_a_reset_far_in_the_future_is_clamped_to_the_maximum_wait(headers: dict[str, str]) -> None:
    rate = parse_rate_limit(headers, NOW)
    assert rate is not None and rate.reset_at == NOW + DEFAULT_MAX_WAIT_S
    assert DEFAULT_MAX_WAIT_S == 15 * 60
    assert retry_at(headers, NOW) == NOW + DEFAULT_MAX_WAIT_S


@pytest.mark.parametrize("value", ["86400000", "Fri, 31 Dec 5138 23:59:59 GMT"])
def test_a_retry_after_far_in_the_future_is_clamped(value: str) -> None:
    assert parse_retry_after(value, NOW) == NOW + DEFAULT_MAX_WAIT_S
    assert parse_retry_after(value, NOW, max_wait_s=60) == NOW + 60


def test_a_near_reset_is_not_clamped() -> None:
    assert parse_reset(str(int(NOW) + 30), NOW) == NOW + 30


@pytest.mark.parametrize("value", ["inf", "nan", "1e400"])
def test_non_finite_reset_values_are_ignored(value: str) -> None:
    assert parse_reset(value, NOW) is None
    assert parse_retry_after(value, NOW) is None


# Found by mutation testing (docs/testing.md): the edges and the caller's maximum wait.


def test_no_reset_stays_no_reset_when_clamped() -> None:
    assert clamp_reset(None, NOW) is None


@pytest.mark.parametrize(("value", "reset_at"), [("0", NOW), ("0.5", NOW + 0.5)])
def test_a_reset_of_zero_or_under_a_second_is_read_as_now_plus_that(value: str, reset_at: float) -> None:
    assert parse_reset(value, NOW) == reset_at


@pytest.mark.parametrize("value", ["0", "-5"])
def test_a_retry_after_of_zero_or_less_means_retry_now(value: str) -> None:
    assert parse_retry_after(value, NOW) == NOW


@pytest.mark.parametrize("headers", [
    {"X-RateLimit-Remaining": "0", "X-RateLimit-Reset": str(int(NOW) + 3600)},
    {"x-ratelimit-remaining-requests": "0", "x-ratelimit-reset-requests": "1h"},
])
def test_the_callers_maximum_wait_bounds_a_rate_limit_reset(headers: dict[str, str]) -> None:
    rate = parse_rate_limit(headers, NOW, max_wait_s=60)
    assert rate is not None and rate.reset_at == NOW + 60
    assert retry_at(headers, NOW, max_wait_s=60) == NOW + 60


def test_the_callers_maximum_wait_bounds_retry_after_on_a_429() -> None:
    assert retry_at({"Retry-After": "3600"}, NOW, max_wait_s=60) == NOW + 60
