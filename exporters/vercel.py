"""Vercel: projects, deployments and FOCUS billing charges (drains: vercel_drains.py).

STUB — to be implemented (see the helper brief). The metric catalogue below is final.
"""

from __future__ import annotations

from .catalogue import Kind, MetricSpec

DURATION_BUCKETS = (5, 10, 20, 30, 45, 60, 90, 120, 180, 300, 600, 900, 1800)

METRICS: tuple[MetricSpec, ...] = (
    MetricSpec("vercel.projects", Kind.GAUGE, "{project}", "Projects in the team.", ()),
    MetricSpec("vercel.deployments", Kind.COUNTER, "{deployment}",
               "Deployments that reached a final state (READY, ERROR, CANCELED), counted once each.",
               ("project", "target", "state")),
    MetricSpec("vercel.deployments.in_progress", Kind.GAUGE, "{deployment}",
               "Deployments not yet final (QUEUED, INITIALIZING, BUILDING), as of the latest poll.",
               ("project", "target", "state")),
    MetricSpec("vercel.deployment.build.duration", Kind.HISTOGRAM, "s",
               "Build time of final deployments: ready - buildingAt.", ("project", "target", "state"),
               buckets=DURATION_BUCKETS),
    MetricSpec("vercel.deployment.queue.duration", Kind.HISTOGRAM, "s",
               "Queue time of final deployments: buildingAt - createdAt.", ("project", "target"),
               buckets=(1, 2, 5, 10, 20, 30, 60, 120, 300, 600)),
)
