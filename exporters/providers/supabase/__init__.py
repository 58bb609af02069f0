"""Supabase: projects, health, backups, add-ons and cost estimated from observed state."""
