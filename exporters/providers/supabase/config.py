"""`providers.supabase` in stackwatch.yaml: Supabase's settings (the shared ones in core/config.py)."""

from __future__ import annotations

from datetime import date
from typing import Annotated, Literal

from pydantic import Field

from exporters.core.config import ProviderBase

# The ids this section needs, and where an operator finds each (docs/getting-started.md,
# "The ids the config needs"); check-config refuses the example's placeholders.
ID_KEYS = {"project_refs": "your Supabase project refs (Project Settings → General → Project ID)"}


class SupabaseConfig(ProviderBase):
    base_url: str = "https://api.supabase.com"
    project_refs: list[str] = Field(default_factory=list, description="restrict to these projects")
    plan: Literal["free", "pro", "team", "enterprise"] = "pro"
    health_services: list[str] = Field(
        default_factory=lambda: ["auth", "db", "pooler", "realtime", "rest", "storage"])
    # The date (UTC) of the last restore drill: a backup or PITR restore actually carried out to a
    # scratch project and checked (docs/operations.md, "Restoring Supabase"). `stackwatch validate`
    # reads it: missing or older than restore_drill_max_age_days is a warning, a failure at gold.
    last_restore_drill: date | None = None
    restore_drill_max_age_days: Annotated[int, Field(ge=1, le=366)] = 90
