"""`stackwatch simulate --openai-costs-today` serves OpenAI's costs for the current, partial day."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from exporters import cli


@pytest.mark.parametrize(("flag", "expected"), [([], False), (["--openai-costs-today"], True)])
def test_openai_costs_today_flag_reaches_the_simulator(monkeypatch: pytest.MonkeyPatch, flag: list[str],
                                                       expected: bool) -> None:
    served = []

    async def capture(simulator, *_args) -> int:  # type: ignore[no-untyped-def]
        served.append(simulator)
        return 0

    monkeypatch.setattr(cli, "_simulate", capture)
    # Logging stays as the suite configured it: simulate would bind it to CliRunner's stream, closed afterwards.
    monkeypatch.setattr(cli, "configure", lambda *_args: None)
    result = CliRunner().invoke(cli.app, ["simulate", *flag])
    assert result.exit_code == 0, result.output
    assert served and served[0].providers["openai"].api.costs_include_today is expected


def test_incident_flags_make_standing_conditions_and_condition_scenarios_are_accepted(
        monkeypatch: pytest.MonkeyPatch) -> None:
    served = []

    async def capture(simulator, *_args) -> int:  # type: ignore[no-untyped-def]
        served.append(simulator)
        return 0

    monkeypatch.setattr(cli, "_simulate", capture)
    monkeypatch.setattr(cli, "configure", lambda *_args: None)
    result = CliRunner().invoke(cli.app, ["simulate", "--scenario", "deploy-failure",
                                          "--incident", "saturation", "--incident", "unpriced-usage"])
    assert result.exit_code == 0, result.output
    world = served[0].world
    assert world.scenario == "deploy-failure" and world.incidents == {"saturation", "unpriced-usage"}
    assert CliRunner().invoke(cli.app, ["simulate"]).exit_code == 0 and served[1].world.incidents == frozenset()
    refused = CliRunner().invoke(cli.app, ["simulate", "--incident", "meltdown"])
    assert refused.exit_code == 2 and "--incident: expected one of saturation" in refused.output
