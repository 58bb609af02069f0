"""The core: configuration, HTTP to provider APIs, metrics and their catalogue, OTLP, logs, time."""
