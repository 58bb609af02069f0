"""KEY=VALUE files as docker compose reads its .env (comments and blank lines skipped, one pair of
surrounding quotes stripped), bounded: a file is a few KiB."""

from __future__ import annotations

from pathlib import Path

MAX_BYTES = 256 * 1024


def read_env_file(path: Path) -> dict[str, str]:
    raw = path.read_bytes()[: MAX_BYTES + 1]
    if len(raw) > MAX_BYTES:
        raise ValueError(f"{path}: larger than {MAX_BYTES // 1024} KiB (expected a small KEY=VALUE file)")
    values: dict[str, str] = {}
    for line in raw.decode("utf-8", errors="replace").splitlines():
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        value = value.strip()
        if len(value) >= 2 and value[0] == value[-1] and value[0] in "'\"":
            value = value[1:-1]
        values[key.strip().removeprefix("export ").strip()] = value
    return values
