"""OpenAI: the Costs API (billed, daily) and the Usage API (completions, embeddings).

STUB — to be implemented (see the helper brief). The metric catalogue below is final.
"""

from __future__ import annotations

from .catalogue import Kind, MetricSpec

# Boundaries recommended by the OTel GenAI semantic conventions for token usage.
TOKEN_BUCKETS = (1, 4, 16, 64, 256, 1024, 4096, 16384, 65536, 262144, 1048576, 4194304, 16777216, 67108864)

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("gen_ai.client.token.usage", Kind.HISTOGRAM, "{token}",
               "Tokens used (OTel GenAI convention), one observation per new usage per model, project "
               "and token type each poll; `_sum` is the exact token total. Input includes cached tokens.",
               ("gen_ai.provider.name", "gen_ai.operation.name", "gen_ai.token.type",
                "gen_ai.request.model", "project"), buckets=TOKEN_BUCKETS),
    MetricSpec("openai.usage.cached_input_tokens", Kind.COUNTER, "{token}",
               "Input tokens served from the prompt cache.", ("model", "project")),
    MetricSpec("openai.usage.requests", Kind.COUNTER, "{request}",
               "Model requests, by operation (chat, embeddings) and whether sent through the Batch API.",
               ("model", "project", "operation", "batch")),
)
