"""Render: services, deploys, metrics and cost estimated from observed state."""
