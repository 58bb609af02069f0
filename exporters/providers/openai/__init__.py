"""OpenAI: billed cost from the Costs API, tokens and requests from the Usage API (README.md)."""

from __future__ import annotations

from exporters.providers.openai.config import ID_KEYS, OpenAIConfig
from exporters.providers.openai.exporter import METRICS, OpenAIProvider
from exporters.providers.spec import ProviderSpec

PROVIDER = ProviderSpec(
    name="openai",
    display_name="OpenAI",
    config=OpenAIConfig,
    secret_env="OPENAI_ADMIN_KEY",
    exporter=OpenAIProvider,
    metrics=METRICS,
    module=__name__,
    board_uid="stackwatch-ai",
    demo_token="sk-admin-sim-b71f4c09e2a6",
    token_shape=r"sk-[A-Za-z0-9_-]{20,}",
    id_keys=ID_KEYS,
)
