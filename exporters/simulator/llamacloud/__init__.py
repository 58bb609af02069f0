"""The simulated LlamaCloud API."""
