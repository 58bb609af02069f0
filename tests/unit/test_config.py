"""Config validation: every problem names the file, the key path and what is expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporters.config import ConfigError, Secrets, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "stackwatch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    return info.value.problems


def test_committed_example_is_valid_and_has_the_documented_defaults() -> None:
    config = load_config(ROOT / "stackwatch.example.yaml")
    t = config.thresholds
    assert (t.response_time_seconds.frontend, t.response_time_seconds.backend, t.response_time_seconds.database) == (3, 2, 0.5)
    assert (t.error_rate_ratio, t.cpu_utilization_ratio, t.memory_utilization_ratio, t.availability_ratio) == (0.01, 0.8, 0.85, 0.99)


def test_defaults_apply_when_thresholds_are_omitted() -> None:
    config = parse_config({}, "x.yaml")
    assert config.thresholds.response_time_seconds.backend == 2.0
    assert config.thresholds.availability_ratio == 0.99
    assert config.providers.enabled() == {}


def test_unknown_key_is_named_with_its_full_path(tmp_path: Path) -> None:
    found = problems("providers:\n  vercel:\n    team_idd: team_1\n", tmp_path)
    assert found == ["providers.vercel.team_idd: unknown key (check the spelling; see stackwatch.example.yaml)"]


def test_wrong_type_names_the_key_and_the_expected_type(tmp_path: Path) -> None:
    found = problems("providers:\n  render:\n    poll_interval_seconds: soon\n", tmp_path)
    assert len(found) == 1
    assert found[0].startswith("providers.render.poll_interval_seconds: expected a valid number")
    assert "'soon'" in found[0]


def test_out_of_range_ratio_is_rejected(tmp_path: Path) -> None:
    found = problems("thresholds:\n  error_rate_ratio: 5\n", tmp_path)
    assert found == ["thresholds.error_rate_ratio: expected less than or equal to 1 (got 5)"]


def test_list_items_are_addressed_by_index(tmp_path: Path) -> None:
    found = problems("providers:\n  supabase:\n    project_refs: [abc, 3]\n", tmp_path)
    assert found[0].startswith("providers.supabase.project_refs[1]: expected a valid string")


def test_missing_required_value_when_enabled(tmp_path: Path) -> None:
    found = problems("providers:\n  llamacloud:\n    enabled: true\n", tmp_path)
    assert found == ["providers.llamacloud: organization_id is required when llamacloud is enabled"]


def test_several_problems_are_reported_together(tmp_path: Path) -> None:
    found = problems("environment: 3\nbogus: 1\nservice:\n  listen_port: 99999\n", tmp_path)
    assert len(found) == 3
    assert any(p.startswith("bogus: unknown key") for p in found)
    assert any(p.startswith("service.listen_port: expected") for p in found)


def test_invalid_yaml_names_line_and_column(tmp_path: Path) -> None:
    found = problems("providers:\n  vercel: [unclosed\n", tmp_path)
    assert found[0].startswith("line ") and "not valid YAML" in found[0]


def test_top_level_must_be_a_mapping(tmp_path: Path) -> None:
    assert problems("- a\n- b\n", tmp_path) == ["(top level): expected a mapping of keys to values"]


def test_missing_file_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as info:
        load_config(tmp_path / "nope.yaml")
    assert "file not found" in info.value.problems[0]


def test_enabled_provider_without_its_secret_names_the_variable() -> None:
    config = parse_config({"providers": {"openai": {"enabled": True}}}, "s.yaml")
    with pytest.raises(ConfigError) as info:
        Secrets.from_env(config, "s.yaml", {})
    assert "OPENAI_ADMIN_KEY" in info.value.problems[0]


def test_secrets_repr_never_shows_values() -> None:
    config = parse_config({"providers": {"openai": {"enabled": True}}}, "s.yaml")
    secrets = Secrets.from_env(config, "s.yaml", {"OPENAI_ADMIN_KEY": "sk-admin-verysecret", "VERCEL_DRAIN_SECRET": "drainy"})
    assert "verysecret" not in repr(secrets) and "drainy" not in repr(secrets)
    assert secrets.tokens == {"openai": "sk-admin-verysecret"}


def test_check_config_exits_2_without_a_traceback(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text("providers:\n  vercel:\n    enabled: yes-please\n")
    result = subprocess.run([sys.executable, "-m", "exporters", "check-config", "--config", str(path)],
                            capture_output=True, text=True, cwd=ROOT)
    assert result.returncode == 2
    assert "Traceback" not in result.stderr
    assert f"invalid configuration in {path}" in result.stderr
    assert "providers.vercel.enabled: expected" in result.stderr


def test_check_config_accepts_the_example_with_secrets_from_env(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", "VERCEL_TOKEN": "v-token-123", "RENDER_API_KEY": "r-key-123",
           "SUPABASE_ACCESS_TOKEN": "sbp_123456", "OPENAI_ADMIN_KEY": "sk-admin-123456"}
    result = subprocess.run([sys.executable, "-m", "exporters", "check-config", "--config",
                             str(ROOT / "stackwatch.example.yaml")], capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "v-token-123" not in result.stdout + result.stderr
