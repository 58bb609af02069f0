"""`providers.openai` in stackwatch.yaml: OpenAI's settings (the shared ones in core/config.py)."""

from __future__ import annotations

from pydantic import Field

from exporters.core.config import ProviderBase

# The ids this section needs, and where an operator finds each (docs/getting-started.md,
# "The ids the config needs"); check-config refuses the example's placeholders.
ID_KEYS = {"project_ids": "your OpenAI project ids (proj_…, Settings → Organization → Projects)"}


class OpenAIConfig(ProviderBase):
    base_url: str = "https://api.openai.com/v1"
    project_ids: list[str] = Field(default_factory=list, description="restrict to these projects")
