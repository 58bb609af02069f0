"""A semantic Markdown diff of the generated dashboards between a git revision and the working tree.

`stackwatch dashboards diff --base <git-ref>` reads grafana/provisioning/dashboards/*.json at
<git-ref> (git ls-tree / git show) and in the working tree, and reports what a reviewer
cares about instead of a 1,000-line JSON diff: boards added or removed; per board the
title, default range and variables; panels added, removed or moved (matched by title);
and per panel its type, queries, unit and thresholds (static steps and threshold queries).
"""

from __future__ import annotations

import json
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

DASHBOARDS_DIR = "grafana/provisioning/dashboards"
MAX_FILE_BYTES = 5_000_000
GIT_TIMEOUT_S = 30


class DiffError(RuntimeError):
    """The revision or a dashboard could not be read (the message says which and why)."""


# --- reading both sides ---

def _git(repo: Path, *args: str) -> str:
    try:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, text=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DiffError(f"git {' '.join(args)}: {error}") from None
    if result.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {result.stderr.strip()}")
    return result.stdout


def _parse(text: str, where: str) -> dict:
    if len(text) > MAX_FILE_BYTES:
        raise DiffError(f"{where}: larger than {MAX_FILE_BYTES} bytes")
    try:
        dashboard = json.loads(text)
    except json.JSONDecodeError as error:
        raise DiffError(f"{where}: not JSON ({error})") from None
    if not isinstance(dashboard, dict) or "uid" not in dashboard:
        raise DiffError(f"{where}: expected a dashboard object with a uid")
    return dashboard


def dashboards_at(repo: Path, ref: str) -> dict[str, dict]:
    """{uid: dashboard} of the generated dashboards at git revision `ref`."""
    _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    names = _git(repo, "ls-tree", "--name-only", ref, f"{DASHBOARDS_DIR}/").split()
    out = {}
    for name in names:
        if name.endswith(".json"):
            dashboard = _parse(_git(repo, "show", f"{ref}:{name}"), f"{ref}:{name}")
            out[dashboard["uid"]] = dashboard
    return out


def dashboards_in(directory: Path) -> dict[str, dict]:
    out = {}
    for path in sorted(directory.glob("*.json")):
        dashboard = _parse(path.read_text(encoding="utf-8"), str(path))
        out[dashboard["uid"]] = dashboard
    return out


# --- the comparable view of a dashboard ---

@dataclass(frozen=True)
class PanelView:
    title: str
    type: str
    row: str
    position: tuple[int, int, int, int]  # x, y, w, h
    queries: tuple[tuple[str, str], ...]  # (refId, expr)
    unit: str
    steps: tuple[tuple[str, float | None], ...]
    threshold_queries: tuple[str, ...]  # refIds drawn as thresholds


@dataclass
class BoardView:
    uid: str
    title: str
    time_from: str
    variables: tuple[str, ...]
    panels: dict[str, PanelView] = field(default_factory=dict)


def _threshold_refs(panel: dict) -> tuple[str, ...]:
    refs = [t.get("options", {}).get("configRefId") for t in panel.get("transformations", [])
            if t.get("id") == "configFromData"]
    for override in panel.get("fieldConfig", {}).get("overrides", []):
        matcher = override.get("matcher", {})
        if matcher.get("id") == "byFrameRefID" and any(p.get("id") == "custom.lineStyle"
                                                       for p in override.get("properties", [])):
            refs.append(matcher.get("options"))
    return tuple(sorted(r for r in refs if isinstance(r, str)))


def view(dashboard: dict) -> BoardView:
    board = BoardView(dashboard["uid"], dashboard.get("title", ""), dashboard.get("time", {}).get("from", ""),
                      tuple(v.get("name", "") for v in dashboard.get("templating", {}).get("list", [])))
    row = ""
    for panel in dashboard.get("panels", []):
        if panel.get("type") == "row":
            row = panel.get("title", "")
            nested = panel.get("panels", [])
        else:
            nested = [panel]
        for item in nested:
            defaults = item.get("fieldConfig", {}).get("defaults", {})
            pos = item.get("gridPos", {})
            title = item.get("title", "")
            key, n = title, 2
            while key in board.panels:  # two panels with one title: keep both, distinguished
                key, n = f"{title} ({n})", n + 1
            board.panels[key] = PanelView(
                title=key, type=item.get("type", ""), row=row,
                position=(pos.get("x", 0), pos.get("y", 0), pos.get("w", 0), pos.get("h", 0)),
                queries=tuple((t.get("refId", ""), t.get("expr", "")) for t in item.get("targets", [])),
                unit=defaults.get("unit", ""),
                steps=tuple((s.get("color", ""), s.get("value")) for s in defaults.get("thresholds", {}).get("steps", [])),
                threshold_queries=_threshold_refs(item))
    return board


# --- the diff ---

def _code(text: str) -> str:
    return f"`{text.replace('`', chr(39))}`"


def _steps(steps: tuple[tuple[str, float | None], ...]) -> str:
    return ", ".join(f"{color} from {'-inf' if value is None else value:g}" if value is not None
                     else f"{color} from -inf" for color, value in steps) or "none"


def _panel_changes(old: PanelView, new: PanelView) -> list[str]:
    lines = []
    if old.type != new.type:
        lines.append(f"type {_code(old.type)} → {_code(new.type)}")
    if old.row != new.row:
        lines.append(f"moved from row “{old.row}” to “{new.row}”")
    elif old.position != new.position:
        lines.append(f"moved (x, y, w, h) {old.position} → {new.position}")
    old_q, new_q = dict(old.queries), dict(new.queries)
    for ref in sorted(old_q.keys() | new_q.keys()):
        if ref not in new_q:
            lines.append(f"query {ref} removed: {_code(old_q[ref])}")
        elif ref not in old_q:
            lines.append(f"query {ref} added: {_code(new_q[ref])}")
        elif old_q[ref] != new_q[ref]:
            lines.append(f"query {ref} changed:\n  - before: {_code(old_q[ref])}\n  - after: {_code(new_q[ref])}")
    if old.unit != new.unit:
        lines.append(f"unit {_code(old.unit)} → {_code(new.unit)}")
    if old.steps != new.steps:
        lines.append(f"threshold steps {_steps(old.steps)} → {_steps(new.steps)}")
    if old.threshold_queries != new.threshold_queries:
        lines.append(f"threshold drawn from queries {list(old.threshold_queries)} → {list(new.threshold_queries)}")
    return lines


def diff(old: dict[str, dict], new: dict[str, dict], *, base: str) -> str:
    """Markdown: what changed from `old` (at `base`) to `new` (the working tree)."""
    out = [f"## Dashboard changes since `{base}`", ""]
    changed = False
    for uid in sorted(new.keys() - old.keys()):
        board = view(new[uid])
        out.append(f"- **Board added:** {board.title} (`{uid}`, {len(board.panels)} panels)")
        changed = True
    for uid in sorted(old.keys() - new.keys()):
        out.append(f"- **Board removed:** {view(old[uid]).title} (`{uid}`)")
        changed = True
    for uid in sorted(old.keys() & new.keys()):
        before, after = view(old[uid]), view(new[uid])
        lines = []
        if before.title != after.title:
            lines.append(f"- title “{before.title}” → “{after.title}”")
        if before.time_from != after.time_from:
            lines.append(f"- default range {_code(before.time_from)} → {_code(after.time_from)}")
        if before.variables != after.variables:
            lines.append(f"- variables {list(before.variables)} → {list(after.variables)}")
        for title in sorted(after.panels.keys() - before.panels.keys()):
            panel = after.panels[title]
            lines.append(f"- panel added: **{title}** ({panel.type}, row “{panel.row}”)")
            lines += [f"  - query {ref}: {_code(expr)}" for ref, expr in panel.queries]
        for title in sorted(before.panels.keys() - after.panels.keys()):
            lines.append(f"- panel removed: **{title}** (row “{before.panels[title].row}”)")
        for title in sorted(before.panels.keys() & after.panels.keys()):
            changes = _panel_changes(before.panels[title], after.panels[title])
            if changes:
                lines.append(f"- panel **{title}**:")
                lines += ["  - " + c.replace("\n", "\n  ") for c in changes]
        if lines:
            out += [f"### {after.title} (`{uid}`)", "", *lines, ""]
            changed = True
    if not changed:
        out.append("No dashboard changes.")
    return "\n".join(out).rstrip() + "\n"


def diff_against(repo: Path, base: str) -> str:
    return diff(dashboards_at(repo, base), dashboards_in(repo / DASHBOARDS_DIR), base=base)
