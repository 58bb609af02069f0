"""Reading a config file: each way it can be wrong is named, with the place in the file, and never
echoes a secret (found by mutation testing, docs/testing.md)."""

from __future__ import annotations

from pathlib import Path

import pytest

from exporters.core.config import (
    MAX_CONFIG_BYTES,
    ConfigError,
    _describe,
    base_url_problem,
    load_yaml,
    read_small_text,
    token_problem,
)


def problems_of(path: Path) -> list[str]:
    with pytest.raises(ConfigError) as error:
        load_yaml(path, "cfg.yaml")
    assert error.value.source == "cfg.yaml"
    return error.value.problems


@pytest.mark.parametrize(("content", "problem"), [
    (b"a: 1\n" + b"#" * MAX_CONFIG_BYTES, "file is larger than 1024 KiB (expected a small YAML file; is this the right path?)"),
    (b"a: 1\n\0", "binary file (expected YAML text; is this the right path?)"),
    (b"a: \xff\n", "not UTF-8 text (invalid byte at offset 3; expected YAML text)"),
    (b"a: [1\n", "line 2, column 1: not valid YAML (expected ',' or ']', but got '<stream end>')"),
    (b"a: 1\nb: 2\na: 3\n", "line 3, column 1: not valid YAML (duplicate key 'a' (first given on line 1))"),
    (b"x" * 41 + b": 1\n" + b"x" * 41 + b": 2\n",
     "line 2, column 1: not valid YAML (duplicate key '(long key)' (first given on line 1))"),
    (b"[" * 5000 + b"\n", "not valid YAML (nested too deeply)"),
    (b"a: \x07\n", "not valid YAML (unreadable)"),  # a character YAML refuses: no line, no problem text
    (b"base: &b {x: 1}\none: {<<: *b, a: 1, a: 2}\n",
     "line 2, column 21: not valid YAML (duplicate key 'a' (first given on line 2))"),
    (b"? [1]\n: x\na: 1\na: 2\n", "line 4, column 1: not valid YAML (duplicate key 'a' (first given on line 3))"),
    (b"k" * 40 + b": 1\n" + b"k" * 40 + b": 2\n",
     "line 2, column 1: not valid YAML (duplicate key '" + "k" * 40 + "' (first given on line 1))"),
    (b"# only a comment\n", "file is empty (expected a mapping of keys to values; see stackwatch.example.yaml)"),
])
def test_a_config_file_that_cannot_be_read_as_yaml_is_refused_naming_why(tmp_path: Path, content: bytes, problem: str):
    path = tmp_path / "cfg.yaml"
    path.write_bytes(content)
    assert problems_of(path) == [problem]


def test_a_file_exactly_at_the_size_limit_is_read(tmp_path: Path):
    path = tmp_path / "cfg.yaml"
    path.write_bytes(b"a: 1\n" + b"#" * (MAX_CONFIG_BYTES - 5))
    assert load_yaml(path, "cfg.yaml") == {"a": 1}


def test_the_same_key_in_two_mappings_and_yaml_merge_keys_are_not_duplicates(tmp_path: Path):
    path = tmp_path / "cfg.yaml"
    path.write_text("base: &b {x: 1}\none: {<<: *b, y: 2}\ntwo: {<<: *b, y: 3}\n")
    assert load_yaml(path, "cfg.yaml") == {"base": {"x": 1}, "one": {"x": 1, "y": 2}, "two": {"x": 1, "y": 3}}


def test_a_missing_or_unreadable_file_names_how_to_start_or_the_systems_reason(tmp_path: Path):
    assert problems_of(tmp_path / "absent.yaml") == ["file not found (copy stackwatch.example.yaml to start)"]
    assert problems_of(tmp_path) == ["cannot read the file: Is a directory"]
    with pytest.raises(ConfigError) as error:
        read_small_text(tmp_path / "absent.env", ".env", kind=".env (KEY=VALUE lines)", start_from=".env.example")
    assert error.value.problems == ["file not found (copy .env.example to start)"]
    (tmp_path / "bin.env").write_bytes(b"\0")
    with pytest.raises(ConfigError) as error:
        read_small_text(tmp_path / "bin.env", ".env", kind=".env (KEY=VALUE lines)")
    assert error.value.problems == ["binary file (expected .env (KEY=VALUE lines) text; is this the right path?)"]


def test_an_error_reads_as_one_line_or_a_list_naming_the_file():
    one = ConfigError("cfg.yaml", ["a: wrong"])
    assert (str(one), one.render()) == ("cfg.yaml: a: wrong", "invalid configuration in cfg.yaml: a: wrong")
    two = ConfigError("cfg.yaml", ["a: wrong", "b: missing"])
    assert str(two) == "cfg.yaml: a: wrong; b: missing"
    assert two.render() == "invalid configuration in cfg.yaml:\n  - a: wrong\n  - b: missing"


EXPECTED = "expected an https:// URL such as the default; plain http:// only on loopback (or with `simulator: true`)"


@pytest.mark.parametrize(("url", "simulator", "problem"), [
    ("https://api.vercel.com", False, None),
    ("http://127.0.0.1:8900", False, None),
    ("http://localhost:8900", False, None),
    ("http://LOCALHOST:8900", False, None),
    ("http://[::1]:8900", False, None),
    ("http://sim.internal:8900", True, None),
    ("http://api.vercel.com", False, f"{EXPECTED} (got plain http:// to api.vercel.com, which would send the token in clear)"),
    ("https://api.vercel.com:99999", False, f"{EXPECTED} (got a value that is not a URL)"),
    ("ftp://api.vercel.com", False, f"{EXPECTED} (got a value that is not an http(s) URL)"),
    ("https://", False, f"{EXPECTED} (got a value that is not an http(s) URL)"),
    ("https://api.vercel .com", False, f"{EXPECTED} (got a value that is not an http(s) URL)"),
    ("https://user:pw@api.vercel.com", False, "credentials in the URL are not allowed (tokens come from the environment)"),
    ("https://user@api.vercel.com", False, "credentials in the URL are not allowed (tokens come from the environment)"),
    ("https://api.vercel.com?x=1", False, f"{EXPECTED}, without a query or fragment"),
    ("https://api.vercel.com#top", False, f"{EXPECTED}, without a query or fragment"),
])
def test_a_base_url_is_https_or_loopback_http_without_credentials_query_or_fragment(url, simulator, problem):
    found = base_url_problem("vercel", url, simulator)
    assert found == (None if problem is None else f"providers.vercel.base_url: {problem}")


@pytest.mark.parametrize(("value", "problem"), [
    ("abc_DEF-123.~", None),
    ("abcé", "expected a printable ASCII token (it has a non-ASCII character at position 4; a copy-paste artefact?)"),
    ("ab c", "expected a printable ASCII token (it has a space or control character at position 3)"),
    ("ab\x07", "expected a printable ASCII token (it has a space or control character at position 3)"),
])
def test_a_token_is_printable_ascii_without_spaces_and_is_never_echoed(value, problem):
    found = token_problem("VERCEL_TOKEN", value)
    assert found == (None if problem is None else f"environment variable VERCEL_TOKEN: {problem}")


@pytest.mark.parametrize(("error", "described"), [
    ({"loc": ("providers", "vercel", "function-after[check(), ProviderBase]", "base_url"), "type": "missing",
      "msg": "Field required"}, "providers.vercel.base_url: required value is missing"),
    ({"loc": ("providers", "vercel", "extra"), "type": "extra_forbidden", "msg": "Extra inputs are not permitted"},
     "providers.vercel.extra: unknown key (check the spelling; see stackwatch.example.yaml)"),
    ({"loc": (), "type": "dict_type", "msg": "Input should be a valid dictionary", "input": [1]},
     "(top level): expected a valid dictionary"),
    ({"loc": ("teams", 0, "name"), "type": "string_type", "msg": "Input should be a valid string", "input": {"a": 1}},
     "teams[0].name: expected a valid string"),
    ({"loc": ("a",), "type": "greater_than", "msg": "input should be greater than 0", "input": 0},
     "a: expected greater than 0 (got 0)"),
    ({"loc": ("a",), "type": "value_error", "msg": "Value error, ends before it starts", "input": 1},
     "a: ends before it starts"),
    ({"loc": ("a",), "type": "int_type", "msg": "Input should be a valid integer", "input": "seven!"},
     "a: expected a valid integer (got 'seven!')"),
    ({"loc": ("a",), "type": "int_type", "msg": "Input should be a valid integer", "input": "sevenxx"},
     "a: expected a valid integer (got 'sevenxx')"),
    ({"loc": ("a",), "type": "int_type", "msg": "Input should be a valid integer", "input": "sk-12345"},
     "a: expected a valid integer (got a 8-character string, not shown)"),
])
def test_a_validation_error_names_the_key_path_and_what_was_expected_never_a_long_string(error, described):
    assert _describe(error) == described
