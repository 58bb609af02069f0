"""Config validation: every problem names the file, the key path and what is expected."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from exporters.core.config import ConfigError
from exporters.service.config import Secrets, load_config, parse_config

ROOT = Path(__file__).resolve().parents[2]


def problems(text: str, tmp_path: Path) -> list[str]:
    path = tmp_path / "stackwatch.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        load_config(path)
    assert info.value.source == str(path)
    return info.value.problems


def example_with_real_ids(tmp_path: Path) -> Path:
    """The committed example with its placeholder ids replaced, as an operator leaves it."""
    text = (ROOT / "stackwatch.example.yaml").read_text()
    path = tmp_path / "stackwatch.yaml"
    path.write_text(text.replace("team_XXXXXXXXXXXXXXXXXXXXXXXX", "team_a1B2c3D4e5F6g7H8i9J0k1L2"))
    return path


def test_the_example_as_committed_is_refused_for_its_placeholder_ids(tmp_path: Path) -> None:
    with pytest.raises(ConfigError) as caught:
        load_config(ROOT / "stackwatch.example.yaml")
    # Only the enabled providers' ids matter (llamacloud is disabled in the example); each names
    # the key, what it expects and where to find it, never the value.
    assert len(caught.value.problems) == 1
    problem = caught.value.problems[0]
    assert problem.startswith("providers.vercel.team_id: still the example's placeholder; expected your Vercel "
                              "team id") and "Team ID" in problem and "XXXX" not in problem
    for placeholder in ("proj_XXXXXXXXXXXXXXXXXXXX", "00000000-0000-0000-0000-000000000000", "<your-org-id>"):
        data = {"providers": {"openai": {"enabled": True, "project_ids": [placeholder]},
                              "llamacloud": {"enabled": True, "organization_id": placeholder}}}
        with pytest.raises(ConfigError) as caught:
            parse_config(data, "x.yaml")
        assert {p.split(":")[0] for p in caught.value.problems} == {
            "providers.openai.project_ids", "providers.llamacloud.organization_id"}


def test_committed_example_is_valid_and_has_the_documented_defaults(tmp_path: Path) -> None:
    config = load_config(example_with_real_ids(tmp_path))
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


EXAMPLE_TOKENS = {"VERCEL_TOKEN": "v-token-123", "RENDER_API_KEY": "r-key-123",
                  "SUPABASE_ACCESS_TOKEN": "sbp_123456", "OPENAI_ADMIN_KEY": "sk-admin-123456"}


def test_check_config_accepts_the_example_with_secrets_from_env(tmp_path: Path) -> None:
    env = {"PATH": "/usr/bin:/bin", **EXAMPLE_TOKENS}
    result = subprocess.run([sys.executable, "-m", "exporters", "check-config", "--config",
                             str(example_with_real_ids(tmp_path))], capture_output=True, text=True, cwd=ROOT, env=env)
    assert result.returncode == 0, result.stderr
    assert "valid" in result.stdout and "v-token-123" not in result.stdout + result.stderr


def test_check_config_reads_the_compose_env_file_as_compose_does(tmp_path: Path) -> None:
    """Tokens in .env (where docs/stack.md puts them) are read with --env-file; the shell's variables win
    over the file's, as in compose; the file's STACKWATCH_CONFIG_FILE names the config, from its directory."""
    config = example_with_real_ids(tmp_path)
    env_file = tmp_path / ".env"
    lines = [f"{k}={v}" for k, v in EXAMPLE_TOKENS.items()]
    env_file.write_text("# comment\nCOMPOSE_PROFILES=\n" + "\n".join(lines) + f"\nSTACKWATCH_CONFIG_FILE=./{config.name}\n")
    without = check_config_cli("--config", str(config))
    assert without.returncode == 2 and "VERCEL_TOKEN is not set" in without.stderr
    done = check_config_cli("--env-file", str(env_file), cwd=ROOT)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith(f"{tmp_path / config.name}: valid (environment and {env_file})")
    assert "v-token-123" not in done.stdout + done.stderr
    shell_wins = check_config_cli("--env-file", str(env_file), env={"VERCEL_TOKEN": "bad token"})
    assert shell_wins.returncode == 2 and "VERCEL_TOKEN: expected a printable ASCII token" in shell_wins.stderr
    env_file.write_text("VERCEL_TOKEN=abc\nthis is not a setting\n")
    broken = check_config_cli("--env-file", str(env_file), "--config", str(config))
    assert broken.returncode == 2 and f"{env_file}: line 2: expected KEY=VALUE" in broken.stderr
    assert "this is not" not in broken.stderr
    missing = check_config_cli("--env-file", str(tmp_path / "nothing.env"), "--config", str(config))
    assert missing.returncode == 2 and "nothing.env: file not found" in missing.stderr


def test_the_config_variable_is_the_one_compose_uses_and_the_old_name_still_works(tmp_path: Path) -> None:
    config = example_with_real_ids(tmp_path)
    compose = (ROOT / "docker-compose.yml").read_text()
    assert "${STACKWATCH_CONFIG_FILE:-" in compose
    done = check_config_cli(env={"STACKWATCH_CONFIG_FILE": str(config), **EXAMPLE_TOKENS})
    assert done.returncode == 0 and done.stdout.startswith(f"{config}: valid"), done.stderr
    legacy = check_config_cli(env={"STACKWATCH_CONFIG": str(config), **EXAMPLE_TOKENS})
    assert legacy.returncode == 0 and legacy.stdout.startswith(f"{config}: valid"), legacy.stderr
    assert "STACKWATCH_CONFIG is deprecated: set STACKWATCH_CONFIG_FILE" in legacy.stderr


def test_version_prints_the_package_version() -> None:
    from exporters import __version__

    done = subprocess.run([sys.executable, "-m", "exporters", "--version"], capture_output=True, text=True, timeout=60)
    assert done.returncode == 0 and done.stdout == f"stackwatch {__version__}\n", done


# --- hostile or broken files: one line naming file, key and expectation; exit 2; no traceback ---

def check_config_cli(*args: str, env: dict[str, str] | None = None, cwd: Path = ROOT) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "exporters", "check-config", *args], capture_output=True,
                          text=True, cwd=cwd, env={"PATH": "/usr/bin:/bin", **(env or {})}, timeout=60)


def assert_one_line_config_error(result: subprocess.CompletedProcess, path: Path, *expected: str) -> str:
    assert result.returncode == 2, result
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith(f"invalid configuration in {path}: ")
    for text in expected:
        assert text in lines[0]
    return lines[0]


def test_binary_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stackwatch.yaml"
    path.write_bytes(b"\x7fELF\x02\x01\x01\x00" + bytes(range(256)) * 8)
    assert_one_line_config_error(check_config_cli(str(path)), path, "binary file", "expected YAML text")


def test_non_utf8_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "stackwatch.yaml"
    path.write_bytes(b"environment: caf\xe9\n")
    assert_one_line_config_error(check_config_cli(str(path)), path, "not UTF-8")


def test_huge_file_is_refused_without_reading_it_whole(tmp_path: Path) -> None:
    path = tmp_path / "stackwatch.yaml"
    path.write_text("# padding\n" * 200_000)  # 2 MB of valid YAML comments
    assert_one_line_config_error(check_config_cli(str(path)), path, "larger than 1024 KiB")


def test_duplicate_key_is_refused_naming_it_and_both_lines(tmp_path: Path) -> None:
    path = tmp_path / "stackwatch.yaml"
    path.write_text("providers:\n  vercel:\n    enabled: false\n    team_id: t\n    enabled: true\n")
    assert_one_line_config_error(check_config_cli(str(path)), path, "line 5", "duplicate key 'enabled'",
                                 "first given on line 3")


def test_empty_file_is_refused_not_taken_as_defaults(tmp_path: Path) -> None:
    for text in ("", "\n\n", "# only a comment\n"):
        path = tmp_path / "stackwatch.yaml"
        path.write_text(text)
        assert_one_line_config_error(check_config_cli(str(path)), path, "file is empty")


def test_base_url_that_is_not_a_url_is_refused(tmp_path: Path) -> None:
    found = problems("providers:\n  render:\n    enabled: true\n    base_url: api.render.com/v1\n", tmp_path)
    assert found == ["providers.render.base_url: expected an https:// URL such as the default; plain http:// "
                     "only on loopback (or with `simulator: true`) (got a value that is not an http(s) URL)"]


def test_plain_http_base_url_is_refused_for_a_real_provider(tmp_path: Path) -> None:
    found = problems("providers:\n  openai:\n    enabled: true\n    base_url: http://api.openai.com/v1\n", tmp_path)
    assert len(found) == 1 and found[0].startswith("providers.openai.base_url: expected an https:// URL")
    assert "plain http:// to api.openai.com" in found[0]


def test_plain_http_is_fine_on_loopback_and_in_simulator_mode() -> None:
    for url in ("http://127.0.0.1:8900/openai/v1", "http://localhost:8900/openai/v1", "http://[::1]:8900/v1"):
        parse_config({"providers": {"openai": {"enabled": True, "base_url": url}}}, "x.yaml")
    parse_config({"simulator": True, "providers": {"openai": {"enabled": True,
                                                              "base_url": "http://simulator:8080/openai/v1"}}}, "x.yaml")


def test_credentials_in_a_base_url_are_refused_and_not_echoed(tmp_path: Path) -> None:
    found = problems("providers:\n  vercel:\n    enabled: true\n    base_url: https://user:hunter2hunter2@api.vercel.com\n",
                     tmp_path)
    assert found == ["providers.vercel.base_url: credentials in the URL are not allowed (tokens come from the environment)"]


def test_non_finite_interval_is_refused(tmp_path: Path) -> None:
    for value in (".inf", ".nan", "-.inf"):
        found = problems(f"providers:\n  render:\n    poll_interval_seconds: {value}\n", tmp_path)
        assert len(found) == 1 and found[0].startswith("providers.render.poll_interval_seconds: expected a finite number")


def test_a_token_pasted_at_a_wrongly_typed_key_is_not_echoed(tmp_path: Path) -> None:
    token = "sk-admin-PASTEDTOKEN0123456789abcdef"
    path = tmp_path / "stackwatch.yaml"
    path.write_text(f"providers:\n  openai:\n    max_retries: {token}\n    project_ids: {token}\n")
    result = check_config_cli(str(path))
    assert result.returncode == 2 and "Traceback" not in result.stderr
    assert "providers.openai.max_retries: expected a valid integer" in result.stderr
    runs = {token[i:i + 8] for i in range(len(token) - 7)}
    assert not any(run in result.stdout + result.stderr for run in runs)


SIM_ENV = {"VERCEL_TOKEN": "sim-vc-4e7d21a9c0b3"}


def test_a_non_ascii_token_is_refused_naming_the_variable_without_echoing_it(tmp_path: Path) -> None:
    path = tmp_path / "stackwatch.yaml"
    path.write_text("providers:\n  vercel:\n    enabled: true\n")
    result = check_config_cli(str(path), env={"VERCEL_TOKEN": "vcp_tok\u00e9nSECRETVALUE1234"})
    line = assert_one_line_config_error(result, path, "VERCEL_TOKEN", "printable ASCII", "position 8")
    assert "SECRETVA" not in line


def test_missing_token_for_a_real_provider_exits_2_naming_the_variable(tmp_path: Path) -> None:
    path = tmp_path / "stackwatch.yaml"
    path.write_text("providers:\n  render:\n    enabled: true\n")
    assert_one_line_config_error(check_config_cli(str(path)), path, "RENDER_API_KEY is not set")


def test_the_simulators_token_is_refused_for_a_real_provider(tmp_path: Path) -> None:
    # docker compose fills an unset VERCEL_TOKEN with the simulator's value: that must not pass.
    path = tmp_path / "stackwatch.yaml"
    path.write_text("providers:\n  vercel:\n    enabled: true\n")
    assert_one_line_config_error(check_config_cli(str(path), env=SIM_ENV), path,
                                 "providers.vercel: VERCEL_TOKEN holds the simulator's demo token")
    simulated = tmp_path / "sim.yaml"
    simulated.write_text("simulator: true\nproviders:\n  vercel:\n    enabled: true\n"
                         "    base_url: http://simulator:8080/vercel\n")
    assert check_config_cli(str(simulated), env=SIM_ENV).returncode == 0


def test_the_committed_demo_config_is_valid_with_the_simulators_tokens() -> None:
    from exporters.simulator import simulator_env

    result = check_config_cli(str(ROOT / "stackwatch.demo.yaml"), env=simulator_env())
    assert result.returncode == 0, result.stderr


def test_check_config_takes_the_file_as_a_positional_argument(tmp_path: Path) -> None:
    path = tmp_path / "positional.yaml"
    path.write_text("environment: staging\n")
    result = check_config_cli(str(path))
    assert result.returncode == 0, result.stderr
    assert result.stdout.startswith(f"{path}: valid.")
    bad = tmp_path / "bad.yaml"
    bad.write_text("bogus: 1\n")
    assert_one_line_config_error(check_config_cli(str(bad)), bad, "bogus: unknown key")
