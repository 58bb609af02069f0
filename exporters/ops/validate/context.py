"""What the checks read: the config, Prometheus, the project's files and the environment."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path

from exporters.ops.validate.model import Level
from exporters.ops.validate.prom import Source
from exporters.service.config import Config


@dataclass
class Context:
    config: Config
    config_path: Path
    prom: Source
    project_dir: Path  # where docs/runbooks, docker-compose.yml and .env live
    env: dict[str, str]
    baseline: dict | None = None  # a baseline file's contents (--baseline)
    window: str = "1h"  # PromQL range for "recent" figures
    dotenv: dict[str, str] = field(default_factory=dict)
    required: Level | None = None  # the level asked for (--level): some shortfalls fail only at gold
    now: datetime = field(default_factory=lambda: datetime.now(timezone.utc))

    def setting(self, name: str) -> str | None:
        """An operator setting: the environment first, then the project's .env (as compose reads it)."""
        value = self.env.get(name)
        if value is None:
            value = self.dotenv.get(name)
        return value

    @property
    def enabled(self) -> list[str]:
        return list(self.config.providers.enabled())


def read_dotenv(path: Path) -> dict[str, str]:
    """KEY=VALUE lines of a compose .env file (comments and blanks skipped, quotes stripped)."""
    values: dict[str, str] = {}
    if not path.is_file():
        return values
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines()[:2000]:
        line = line.strip()
        if not line or line.startswith("#") or "=" not in line:
            continue
        key, _, value = line.partition("=")
        values[key.strip().removeprefix("export ").strip()] = value.strip().strip("'\"")
    return values
