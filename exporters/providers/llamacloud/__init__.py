"""LlamaCloud (LlamaParse): usage metrics, credits, repeat parses and cost (README.md)."""

from __future__ import annotations

from exporters.providers.llamacloud.config import ID_KEYS, LlamaCloudConfig
from exporters.providers.llamacloud.exporter import METRICS, LlamaCloudProvider
from exporters.providers.spec import ProviderSpec

PROVIDER = ProviderSpec(
    name="llamacloud",
    display_name="LlamaIndex",
    config=LlamaCloudConfig,
    secret_env="LLAMA_CLOUD_API_KEY",
    exporter=LlamaCloudProvider,
    metrics=METRICS,
    module=__name__,
    board_uid="stackwatch-ai",
    demo_token="llx-sim-2d8e6b3f90c1",
    token_shape=r"llx-[A-Za-z0-9]{20,}",
    id_keys=ID_KEYS,
)
