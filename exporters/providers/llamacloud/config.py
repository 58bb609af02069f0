"""`providers.llamacloud` in stackwatch.yaml: LlamaCloud's settings (the shared ones in core/config.py)."""

from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from exporters.core.config import ProviderBase

# The ids this section needs, and where an operator finds each (docs/getting-started.md,
# "The ids the config needs"); check-config refuses the example's placeholders.
ID_KEYS = {"organization_id": "your LlamaCloud organization id (a UUID, Settings → Organization)",
           "project_id": "your LlamaCloud project id (a UUID)"}


class LlamaCloudConfig(ProviderBase):
    base_url: str = "https://api.cloud.llamaindex.ai"
    organization_id: str | None = None
    project_id: str | None = None
    plan: Literal["free", "starter", "pro", "pay_as_you_go"] = "pay_as_you_go"

    @model_validator(mode="after")
    def _organization_required_when_enabled(self) -> "LlamaCloudConfig":
        if self.enabled and not self.organization_id:
            raise ValueError("organization_id is required when llamacloud is enabled")
        return self
