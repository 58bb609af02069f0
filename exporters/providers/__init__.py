"""One folder per provider: its exporter, its cost estimate, its drains."""
