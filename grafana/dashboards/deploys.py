"""Deploy markers: Vercel and Render deploys as annotations on the boards where a deploy can explain a change."""

from __future__ import annotations

from .common import Annotation
from .recordings import RENDER_DEPLOY_CHANGES, VERCEL_DEPLOY_CHANGES

# A deploy counter changes when a deploy reaches its final state; the recorded changes per 3 minutes
# (grafana/dashboards/recordings.py) are positive in the window it happened in, and the largest within
# each 5-minute step marks the step (Grafana's Prometheus annotations turn positive values into events).
# A counter series is born at its first value, so the first final deploy of a project × state is not
# marked (no earlier sample to change from); every later one is.
DEPLOY_MARK_STEP = "5m"


def vercel_deploys(selector: str) -> Annotation:
    rule = VERCEL_DEPLOY_CHANGES
    return Annotation(
        "Vercel deploys",
        f"sum by (project, target, state) (max_over_time({rule.record}{{{selector}}}[$__interval])) > 0",
        "Vercel deploy: {{project}} ({{target}})", "Final state {{state}}; open the deployment in Vercel.",
        ("project", "target", "state"), "blue", scenario="deploy-failure", interval=DEPLOY_MARK_STEP,
        recordings=(rule,))


def render_deploys(selector: str) -> Annotation:
    rule = RENDER_DEPLOY_CHANGES
    return Annotation(
        "Render deploys",
        f"sum by (service, status) (max_over_time({rule.record}{{{selector}}}[$__interval])) > 0",
        "Render deploy: {{service}}", "Final status {{status}}; open the deploy's log in Render.",
        ("service", "status"), "purple", scenario="deploy-failure", interval=DEPLOY_MARK_STEP,
        recordings=(rule,))
