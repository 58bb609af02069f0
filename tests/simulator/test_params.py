"""Array and scalar query parameters in every encoding clients use (exporters/simulator/params.py)."""

from __future__ import annotations

import pytest
from multidict import MultiDict

from exporters.simulator.params import array_param, parse_bool, parse_int, scalar_param


@pytest.mark.parametrize("pairs", [
    [("group_by", "model"), ("group_by", "project_id")],            # repeated keys
    [("group_by[]", "model"), ("group_by[]", "project_id")],        # brackets (OpenAI SDK)
    [("group_by[0]", "model"), ("group_by[1]", "project_id")],      # indexed brackets (qs "indices")
    [("group_by", "model,project_id")],                              # comma-joined (explode=false)
    [("group_by", "model"), ("group_by[]", "project_id,model")],    # mixed, with a duplicate
])
def test_every_array_encoding_gives_the_same_values_in_order(pairs: list[tuple[str, str]]) -> None:
    query = MultiDict([("start_time", "1"), ("group_byx", "nope"), *pairs])
    assert array_param(query, "group_by") == ["model", "project_id"]


def test_absent_and_empty_arrays_are_empty() -> None:
    assert array_param(MultiDict(), "models") == []
    assert array_param(MultiDict([("models", ""), ("models[]", ",")]), "models") == []


def test_scalars_integers_and_booleans_are_strict() -> None:
    query = MultiDict([("limit", "5"), ("limit", "7")])
    assert scalar_param(query, "limit") == "7" and scalar_param(query, "page") is None
    assert parse_int("31") == 31 and parse_int("-2") == -2
    assert [parse_int(v) for v in ("1e3", "7.0", "", " ", "ten", None)] == [None] * 6
    assert parse_bool("TRUE") is True and parse_bool("0") is False and parse_bool(None) is None
    with pytest.raises(ValueError):
        parse_bool("maybe")
