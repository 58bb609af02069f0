"""Supabase: projects, health, backups, API counts, disk, and cost estimated from observed state (README.md)."""

from __future__ import annotations

from exporters.providers.spec import ProviderSpec
from exporters.providers.supabase.config import ID_KEYS, SupabaseConfig
from exporters.providers.supabase.exporter import METRICS, SupabaseProvider

PROVIDER = ProviderSpec(
    name="supabase",
    display_name="Supabase",
    config=SupabaseConfig,
    secret_env="SUPABASE_ACCESS_TOKEN",
    exporter=SupabaseProvider,
    metrics=METRICS,
    module=__name__,
    board_uid="stackwatch-supabase",
    demo_token="sbp_sim_5a93e0c7d218",
    token_shape=r"sbp_[A-Za-z0-9]{20,}",
    id_keys=ID_KEYS,
)
