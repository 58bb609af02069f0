"""Grafana's alerting files against what Grafana publishes: the Go checker decodes each file
strictly into github.com/grafana/grafana-openapi-client-go's models and runs Validate()."""

from __future__ import annotations

import subprocess
from pathlib import Path

import yaml
from conftest import GRAFANA as GENERATED

GRAFANA_FILES = ("rules.yaml", "contact-points.yaml", "policies.yaml", "templates.yaml")


def check(checker: Path, *files: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(checker), *map(str, files)], capture_output=True, text=True, timeout=60)


def test_every_generated_grafana_file_decodes_strictly_and_validates(grafana_checker):
    done = check(grafana_checker, *(GENERATED / name for name in GRAFANA_FILES))
    assert done.returncode == 0, done.stdout + done.stderr
    assert done.stdout.count("ok ") == len(GRAFANA_FILES)


def test_only_grafana_files_sit_in_what_grafana_mounts(tmp_path):
    # Grafana reads every *.yaml/*.yml there and exits on one it cannot load: the render writes
    # Grafana's files alone in their directory (compose mounts the volume alerting-grafana).
    from alerting.channels import read_settings
    from alerting.files import render_files, write
    write(render_files(read_settings({})), tmp_path)
    loaded = sorted(p.name for p in (tmp_path / "grafana").iterdir())
    assert loaded == sorted(GRAFANA_FILES)
    assert sorted(p.name for p in GENERATED.iterdir() if p.suffix in (".yaml", ".yml", ".json")) == sorted(GRAFANA_FILES)


def mutated(tmp_path: Path, name: str, change) -> Path:
    data = yaml.safe_load((GENERATED / name).read_text())
    change(data)
    path = tmp_path / name
    path.write_text(yaml.safe_dump(data))
    return path


def test_checker_rejects_an_unknown_field(grafana_checker, tmp_path):
    path = mutated(tmp_path, "rules.yaml", lambda d: d["groups"][0]["rules"][0].update(noDataStat="OK"))
    done = check(grafana_checker, path)
    assert done.returncode == 1 and "noDataStat" in done.stdout


def test_checker_rejects_grafanalib_s_no_data_state(grafana_checker, tmp_path):
    # grafanalib 0.7.1's ALERTRULE_STATE_DATA_NODATA is "No Data"; Grafana's enum says "NoData".
    path = mutated(tmp_path, "rules.yaml", lambda d: d["groups"][0]["rules"][0].update(noDataState="No Data"))
    done = check(grafana_checker, path)
    assert done.returncode == 1 and "noDataState" in done.stdout


def test_rules_are_built_with_grafanalib_and_normalised_where_it_is_wrong():
    """alerting/grafana_form.py builds each rule with grafanalib's AlertRulev9; its raw output is the
    HTTP API's shape (what the checker rejects above), and the normalised one is what ships."""
    from grafanalib.core import AlertRulev9

    from alerting import grafana_form
    from alerting.channels import read_settings
    from alerting.model import PRODUCTION
    from alerting.rules import ALERTS
    built = grafana_form._rule(ALERTS[0], read_settings({}), PRODUCTION)
    assert isinstance(built, AlertRulev9)
    raw = built.to_json_data()
    assert "grafana_alert" in raw and raw["grafana_alert"]["data"][1]["datasourceUid"] == "-100"
    shipped = grafana_form.normalise_rule(raw)
    assert "grafana_alert" not in shipped and shipped["data"][1]["datasourceUid"] == "__expr__"
    assert shipped["data"][2]["model"] == {"refId": "C", "type": "math", "expression": "is_number($B)",
                                           "datasource": {"type": "__expr__", "uid": "__expr__"}}


def test_checker_rejects_the_http_api_nesting(grafana_checker, tmp_path):
    # The ruler HTTP API nests each rule under grafana_alert; the provisioning file does not.
    def nest(d):
        rule = d["groups"][0]["rules"][0]
        d["groups"][0]["rules"][0] = {"grafana_alert": rule}
    done = check(grafana_checker, mutated(tmp_path, "rules.yaml", nest))
    assert done.returncode == 1 and "grafana_alert" in done.stdout


def test_checker_rejects_a_mute_timing_in_the_wrong_shape(grafana_checker, tmp_path):
    path = mutated(tmp_path, "policies.yaml",
                   lambda d: d["muteTimes"][0]["time_intervals"][0].update(weekday=["sunday"]))
    done = check(grafana_checker, path)
    assert done.returncode == 1 and "weekday" in done.stdout
