"""Persistent state: observed resource states over time and the cost ledger, in one SQLite file."""
