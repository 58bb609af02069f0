"""Parsing logs.all's answer to the auth outcomes query: all rows or nothing."""

from __future__ import annotations

import pytest

from exporters.providers.supabase.exporter import parse_auth_outcomes


def test_rows_sum_by_kind_and_outcome() -> None:
    body = {"result": [{"kind": "sign_in", "outcome": "failure", "count": 3},
                       {"kind": "sign_in", "outcome": "failure", "count": 2},
                       {"kind": "token_refresh", "outcome": "success", "count": 40}]}
    assert parse_auth_outcomes(body) == {("sign_in", "failure"): 5, ("token_refresh", "success"): 40}
    assert parse_auth_outcomes({"result": []}) == {}  # a quiet minute: nothing to add, not an error


@pytest.mark.parametrize("body", [
    {"result": [], "error": "Query timed out"},  # the document's error, as a string
    {"error": {"code": 400, "errors": [], "message": "bad sql", "status": "INVALID_ARGUMENT"}},
    {"result": [{"kind": "sign_in", "outcome": "failure", "count": 3}, {"kind": "magic", "outcome": "success",
                                                                       "count": 1}]},
    {"result": [{"kind": "sign_in", "outcome": "maybe", "count": 1}]},
    {"result": [{"kind": "sign_in", "outcome": "success", "count": -1}]},
    {"result": [{"kind": "sign_in", "outcome": "success", "count": "7"}]},
    {"result": [{"kind": "sign_in", "outcome": "success", "count": True}]},
    {"result": ["sign_in"]},
    {"result": None},
    [],
])
def test_an_error_or_any_bad_row_rejects_the_whole_answer(body: object) -> None:
    assert parse_auth_outcomes(body) is None
