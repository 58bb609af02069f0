"""`stackwatch run`: the runtime wiring, the service with the drain receiver, /healthz and connection limits."""
