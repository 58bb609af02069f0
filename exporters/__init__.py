"""stackwatch: provider health, usage and cost as OpenTelemetry metrics."""

__version__ = "0.1.0"
