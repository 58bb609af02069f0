"""`providers.vercel` in stackwatch.yaml: Vercel's settings (the shared ones in core/config.py)."""

from __future__ import annotations

from pydantic import Field

from exporters.core.config import ProviderBase

# The ids this section needs, and where an operator finds each (docs/getting-started.md,
# "The ids the config needs"); check-config refuses the example's placeholders.
ID_KEYS = {"team_id": "your Vercel team id (team_…, Team Settings → General → Team ID)"}


class VercelConfig(ProviderBase):
    base_url: str = "https://api.vercel.com"
    team_id: str | None = Field(default=None, description="team_… id, sent as teamId on every call")
