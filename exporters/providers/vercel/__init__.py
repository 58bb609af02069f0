"""Vercel: deployments, the FOCUS billing charges (billed cost) and the drains (README.md)."""

from __future__ import annotations

from exporters.providers.spec import ProviderSpec
from exporters.providers.vercel.config import ID_KEYS, VercelConfig
from exporters.providers.vercel.drains import METRICS as DRAIN_METRICS
from exporters.providers.vercel.exporter import BILLING_ZONE, METRICS, VercelProvider

PROVIDER = ProviderSpec(
    name="vercel",
    display_name="Vercel",
    config=VercelConfig,
    secret_env="VERCEL_TOKEN",
    exporter=VercelProvider,
    metrics=METRICS,
    module=__name__,
    board_uid="stackwatch-vercel",
    demo_token="sim-vc-4e7d21a9c0b3",
    billing_zone=BILLING_ZONE,
    id_keys=ID_KEYS,
    drain_metrics=DRAIN_METRICS,
)
