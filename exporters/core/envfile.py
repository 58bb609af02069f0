"""The `.env` file docker compose reads, read the same way (`stackwatch check-config --env-file`).

Compose fills the stackwatch container's environment from `.env` (its interpolation of
docker-compose.yml); checking a config on the host against the shell's environment alone
would find every token "not set". The file is parsed with python-dotenv (KEY=VALUE, quotes,
`export`, comments, `${VAR}` interpolation). As in compose, a variable set in the shell wins
over the file. No value is ever echoed: a malformed line is named by its number only.
"""

from __future__ import annotations

import io
from collections.abc import Mapping
from pathlib import Path

from dotenv.main import DotEnv
from dotenv.parser import parse_stream

from exporters.core.config import ConfigError, read_small_text


def read_env_file(path: Path) -> dict[str, str]:
    """KEY -> value of a compose `.env` file; ConfigError (naming the file and line) when unreadable."""
    source = str(path)
    text = read_small_text(path, source, kind=".env (KEY=VALUE lines)", start_from=".env.example")
    bad = [binding.original.line for binding in parse_stream(io.StringIO(text)) if binding.error]
    if bad:
        lines = ", ".join(str(n) for n in bad[:10])
        raise ConfigError(source, [f"line {lines}: expected KEY=VALUE (a comment line starts with #); "
                                   "the line is not shown, it may hold a secret"])
    values = DotEnv(None, stream=io.StringIO(text), interpolate=True, override=False).dict()
    return {key: value for key, value in values.items() if value is not None}


def compose_environment(file_values: Mapping[str, str], shell: Mapping[str, str]) -> dict[str, str]:
    """What compose interpolates from: the shell's variables over the file's."""
    return {**file_values, **shell}
