"""The outcome as a table, Markdown or JSON."""

from __future__ import annotations

import json

from exporters.ops.validate.model import Outcome

SYMBOL = {"pass": "PASS", "warn": "WARN", "fail": "FAIL", "unknown": "UNKNOWN"}


def _summary(outcome: Outcome) -> str:
    level = outcome.level_reached.value if outcome.level_reached else "none"
    counts = ", ".join(f"{v} {k}" for k, v in outcome.counts.items())
    return f"level reached: {level}; score {outcome.score:g}/100 ({counts})"


def table(outcome: Outcome) -> str:
    lines = []
    for c in outcome.checks:
        lines.append(f"{SYMBOL[c.status.value]:<8} {c.level.value:<7} {c.group:<11} {c.name}")
        lines.append(f"{'':<8} evidence: {c.evidence}")
        if c.fix and c.status.value != "pass":
            lines.append(f"{'':<8} fix: {c.fix}")
    lines.append(_summary(outcome))
    return "\n".join(lines) + "\n"


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def markdown(outcome: Outcome) -> str:
    lines = ["# stackwatch validate", "", _summary(outcome), "",
             "| status | level | group | check | evidence | fix |", "|---|---|---|---|---|---|"]
    for c in outcome.checks:
        fix = c.fix if c.status.value != "pass" else ""
        lines.append(f"| {c.status.value} | {c.level.value} | {c.group} | {_cell(c.name)} | {_cell(c.evidence)} | {_cell(fix)} |")
    return "\n".join(lines) + "\n"


def as_json(outcome: Outcome) -> str:
    return json.dumps(outcome.to_dict(), indent=2) + "\n"


RENDERERS = {"table": table, "markdown": markdown, "json": as_json}
