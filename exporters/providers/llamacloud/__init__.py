"""LlamaCloud (LlamaParse): usage metrics, credits and cost."""
