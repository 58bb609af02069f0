"""LlamaCloud (LlamaParse): usage metrics (pages and credits) as estimated cost.

STUB — to be implemented (see the helper brief). The metric catalogue below is final.
"""

from __future__ import annotations

from .catalogue import Kind, MetricSpec

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("llamacloud.pages", Kind.COUNTER, "{page}", "Pages parsed, by project and parse mode.",
               ("project", "mode")),
    MetricSpec("llamacloud.credits", Kind.COUNTER, "{credit}", "Credits consumed, by project and parse mode.",
               ("project", "mode")),
)
