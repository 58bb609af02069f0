"""Render: services, deploys, the metrics API, and cost estimated from observed state (README.md)."""

from __future__ import annotations

from exporters.providers.render.config import ID_KEYS, RenderConfig
from exporters.providers.render.exporter import METRICS, RenderProvider
from exporters.providers.spec import ProviderSpec

PROVIDER = ProviderSpec(
    name="render",
    display_name="Render",
    config=RenderConfig,
    secret_env="RENDER_API_KEY",
    exporter=RenderProvider,
    metrics=METRICS,
    module=__name__,
    board_uid="stackwatch-render",
    demo_token="rnd_sim_8f2c61d04b9e",
    token_shape=r"rnd_[A-Za-z0-9]{20,}",
    id_keys=ID_KEYS,
)
