"""`providers.render` in stackwatch.yaml: Render's settings (the shared ones in core/config.py)."""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field

from exporters.core.config import ProviderBase

# The ids this section needs, and where an operator finds each (docs/getting-started.md,
# "The ids the config needs"); check-config refuses the example's placeholders.
ID_KEYS = {"owner_id": "your Render workspace id (tea-…, Workspace Settings, or GET /v1/owners)",
           "service_ids": "your Render service ids (srv-…, in each service's URL and Settings)"}


class RenderConfig(ProviderBase):
    base_url: str = "https://api.render.com/v1"
    owner_id: str | None = Field(default=None, description="workspace (owner) id; all owners when unset")
    service_ids: list[str] = Field(default_factory=list, description="restrict to these services")
    # Render's minimum is 30 s; above 300 s the 5-minute window gauges read holds no complete sample.
    metrics_resolution_seconds: Annotated[int, Field(ge=30, le=300)] = 60
    # Workspace plan and paid seats, billed per member per month (price_tables/render.yaml).
    workspace_plan: Literal["hobby", "professional", "organization", "enterprise"] = "hobby"
    workspace_seats: Annotated[int, Field(ge=0, le=10_000)] = 0
