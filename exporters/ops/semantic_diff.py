"""What changed between two sets of generated files, by meaning: Grafana dashboards, Prometheus rule files
(recording and alerting rules), Alertmanager configs and Grafana's alerting provisioning (rules, notification
policies, contact points, mute timings).

Pure functions over parsed files (dicts), driven by structure rather than paths: a file is a dashboard
because it has a uid and panels, a rule file because its groups hold rules with an expression, a routing
tree because it has a route and receivers. `exporters.ops.dashboards_diff` finds and generates the files; the
Markdown it prints is built here. Every difference found is reported: properties are compared as flattened
key paths, so a property nobody listed still shows.
"""

from __future__ import annotations

import json
import re
from collections import defaultdict
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from typing import Any

# --- classifying parsed files ---

DASHBOARD, RULES, ALERTMANAGER, GRAFANA_ALERTING = "dashboard", "rules", "alertmanager", "grafana-alerting"
GRAFANA_ALERTING_KEYS = {"groups", "contactPoints", "policies", "muteTimes", "templates", "deleteRules",
                         "deleteContactPoints", "resetPolicies", "deleteTemplates", "deleteMuteTimes"}


def kind_of(document: Any) -> str | None:
    """Which kind of generated file a parsed document is, from its structure (None: not one we compare)."""
    if not isinstance(document, dict):
        return None
    if isinstance(document.get("uid"), str) and isinstance(document.get("panels"), list):
        return DASHBOARD
    groups = document.get("groups")
    if "apiVersion" in document and GRAFANA_ALERTING_KEYS & set(document):
        return GRAFANA_ALERTING
    if isinstance(groups, list) and groups and all(
            isinstance(g, dict) and isinstance(g.get("rules"), list)
            and all(isinstance(r, dict) and "expr" in r and ("alert" in r or "record" in r) for r in g["rules"])
            for g in groups):
        return RULES
    if isinstance(document.get("route"), dict) and "receivers" in document:
        return ALERTMANAGER
    return None


# --- rendering helpers ---

def code(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, sort_keys=True, ensure_ascii=False)
    text = " ".join(str(text).split())
    return f"`{text.replace('`', chr(39))}`"


def change(name: str, before: Any, after: Any) -> str:
    if before is None:
        return f"{name} added: {code(after)}"
    if after is None:
        return f"{name} removed (was {code(before)})"
    if isinstance(before, str) and isinstance(after, str) and (len(before) > 60 or len(after) > 60):
        return f"{name} changed:\n  - before: {code(before)}\n  - after: {code(after)}"
    return f"{name} {code(before)} → {code(after)}"


def compare(before: dict[str, Any], after: dict[str, Any]) -> list[str]:
    """One line per key whose value differs, in key order (keys are already readable names)."""
    return [change(key, before.get(key), after.get(key))
            for key in sorted(before.keys() | after.keys(), key=_natural)
            if before.get(key) != after.get(key)]


def _natural(key: str) -> list:
    return [int(part) if part.isdigit() else part for part in re.split(r"(\d+)", key)]


def flatten(value: Any, prefix: str = "") -> dict[str, Any]:
    """Nested dicts as `a.b.c` keys; lists of scalars and other lists kept whole (compared as one value)."""
    if isinstance(value, dict) and value:
        out: dict[str, Any] = {}
        for key, item in value.items():
            out.update(flatten(item, f"{prefix}.{key}" if prefix else str(key)))
        return out
    return {prefix: value}


# --- dashboards ---

@dataclass
class PanelView:
    title: str
    type: str
    row: str
    position: tuple[int, int, int, int]  # x, y, w, h
    queries: dict[str, str]  # refId: expr
    properties: dict[str, Any]  # readable name: value (everything but the id and the position)


@dataclass
class BoardView:
    uid: str
    title: str
    properties: dict[str, Any]
    variables: dict[str, dict[str, Any]]
    annotations: dict[str, dict[str, Any]]
    panels: dict[str, PanelView] = field(default_factory=dict)


def _steps(thresholds: Any) -> str:
    if not isinstance(thresholds, dict):
        return json.dumps(thresholds)
    steps = ", ".join(f"{s.get('color')} from {'-inf' if s.get('value') is None else s.get('value')}"
                      for s in thresholds.get("steps", []))
    mode = thresholds.get("mode", "absolute")
    return steps if mode == "absolute" else f"{mode}: {steps}"


def _links(links: Any) -> list[str]:
    return [f"{link.get('title', '')} → {link.get('url', '') or link.get('type', '')}" for link in links or []]


def _matcher(matcher: dict) -> str:
    return f"{matcher.get('id')}={matcher.get('options')}"


def _field_properties(defaults: dict, prefix: str) -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in defaults.items():
        if key == "thresholds":
            out[f"{prefix}thresholds"] = _steps(value)
        elif key == "links":
            out[f"{prefix}data links"] = _links(value)
        elif key == "mappings":
            out[f"{prefix}value mappings"] = value
        elif key == "custom":
            out.update({f"{prefix}{k}": v for k, v in flatten(value).items()})
        elif key == "color":
            out[f"{prefix}colour"] = value
        else:
            out[f"{prefix}{key}"] = value
    return out


def panel_properties(panel: dict) -> dict[str, Any]:
    """Everything about a panel but its id and position, under readable names."""
    out: dict[str, Any] = {"type": panel.get("type"), "description": panel.get("description"),
                           "min interval": panel.get("interval"), "max data points": panel.get("maxDataPoints"),
                           "relative time": panel.get("timeFrom"), "panel links": _links(panel.get("links")),
                           "datasource": panel.get("datasource"), "transparent": panel.get("transparent")}
    for target in panel.get("targets", []):
        ref = target.get("refId", "?")
        instant, ranged = bool(target.get("instant")), target.get("range", not target.get("instant"))
        out[f"query {ref} runs"] = "instant and range" if instant and ranged else "instant" if instant else "range"
        for key, value in target.items():
            if key in ("refId", "datasource", "editorMode", "instant", "range"):
                continue
            name = {"expr": "", "legendFormat": " legend", "format": " format"}.get(key, f" {key}")
            out[f"query {ref}{name}"] = value
    config = panel.get("fieldConfig", {})
    out.update(_field_properties(config.get("defaults", {}), ""))
    for override in config.get("overrides", []):
        where = _matcher(override.get("matcher", {}))
        for prop in override.get("properties", []):
            value = prop.get("value")
            if prop.get("id") == "links":
                value = _links(value)
            elif prop.get("id") == "thresholds":
                value = _steps(value)
            out[f"override {where}: {prop.get('id')}"] = value
    for index, transformation in enumerate(panel.get("transformations", [])):
        if transformation.get("id") == "configFromData":
            options = transformation.get("options", {})
            out[f"threshold from query {options.get('configRefId')}"] = {
                "applies to": options.get("applyTo"), "as": options.get("mappings")}
        else:
            out[f"transformation {index + 1} ({transformation.get('id')})"] = transformation.get("options")
    out.update({f"option {k}": v for k, v in flatten(panel.get("options", {})).items()})
    return {k: v for k, v in out.items() if v not in (None, [], {})}


BOARD_KEYS = ("title", "description", "tags", "time", "refresh", "timezone", "graphTooltip", "editable",
              "timepicker", "fiscalYearStartMonth", "weekStart", "schemaVersion")


def board_view(dashboard: dict) -> BoardView:
    properties = flatten({key: dashboard.get(key) for key in BOARD_KEYS if dashboard.get(key) is not None})
    properties["board links"] = _links(dashboard.get("links"))
    properties = {k: v for k, v in properties.items() if v not in (None, [], {})}
    variables = {}
    for variable in dashboard.get("templating", {}).get("list", []):
        variables[variable.get("name", "?")] = {k: v for k, v in flatten(
            {k: v for k, v in variable.items() if k not in ("name", "options")}).items()}
    annotations = {}
    for annotation in dashboard.get("annotations", {}).get("list", []):
        annotations[annotation.get("name", "?")] = flatten(
            {k: v for k, v in annotation.items() if k != "name"})
    board = BoardView(dashboard["uid"], dashboard.get("title", ""), properties, variables, annotations)
    row = ""
    for panel in dashboard.get("panels", []):
        nested = panel.get("panels", []) if panel.get("type") == "row" else [panel]
        if panel.get("type") == "row":
            row = panel.get("title", "")
        for item in nested:
            title = item.get("title", "")
            key, n = title, 2
            while key in board.panels:  # two panels with one title: both kept, distinguished
                key, n = f"{title} ({n})", n + 1
            pos = item.get("gridPos", {})
            board.panels[key] = PanelView(
                key, item.get("type", ""), row, (pos.get("x", 0), pos.get("y", 0), pos.get("w", 0), pos.get("h", 0)),
                {t.get("refId", ""): t.get("expr", "") for t in item.get("targets", [])}, panel_properties(item))
    return board


def _folded_moves(moves: list[tuple[str, PanelView, PanelView]]) -> list[str]:
    """Position changes, one line per panel, except panels that only moved up or down by the same number of
    grid rows: one line for all of them (a row or panel added above shifts everything below it)."""
    by_shift: dict[int, list[str]] = defaultdict(list)
    lines = []
    for title, old, new in moves:
        (ox, oy, ow, oh), (nx, ny, nw, nh) = old.position, new.position
        if (ox, ow, oh) == (nx, nw, nh) and old.row == new.row:
            by_shift[ny - oy].append(title)
        else:
            lines.append(f"panel **{title}**: " + (f"moved from row “{old.row}” to “{new.row}”" if old.row != new.row
                                                   else f"moved (x, y, w, h) {old.position} → {new.position}"))
    for shift, titles in sorted(by_shift.items()):
        way = "down" if shift > 0 else "up"
        if len(titles) == 1:
            lines.append(f"panel **{titles[0]}**: moved {way} {abs(shift)} grid rows")
        else:
            lines.append(f"{len(titles)} panels moved {way} {abs(shift)} grid rows, unchanged otherwise "
                         f"(“{titles[0]}” … “{titles[-1]}”)")
    return lines


def _named_changes(what: str, before: dict[str, dict], after: dict[str, dict],
                   shown: Callable[[str, dict], str] | None = None) -> list[str]:
    """Added, removed and changed entries by key. `shown` names an entry (default: **key**, and an added
    one with its properties)."""
    def name_of(key: str, doc: dict) -> str:
        return shown(key, doc) if shown else f"**{key}**"
    lines = []
    for key in sorted(after.keys() - before.keys()):
        detail = "" if shown else f" ({', '.join(f'{k} {code(v)}' for k, v in sorted(after[key].items()))})"
        lines.append(f"{what} added: {name_of(key, after[key])}{detail}")
    for key in sorted(before.keys() - after.keys()):
        lines.append(f"{what} removed: {name_of(key, before[key])}")
    for key in sorted(before.keys() & after.keys()):
        changes = compare(before[key], after[key])
        if changes:
            lines.append(f"{what} {name_of(key, after[key])}:")
            lines += ["  - " + c.replace("\n", "\n  ") for c in changes]
    return lines


def board_changes(old: dict, new: dict) -> list[str]:
    before, after = board_view(old), board_view(new)
    lines = compare(before.properties, after.properties)
    lines += _named_changes("variable", before.variables, after.variables)
    lines += _named_changes("annotation", before.annotations, after.annotations)
    added = {t: after.panels[t] for t in after.panels.keys() - before.panels.keys()}
    removed = {t: before.panels[t] for t in before.panels.keys() - after.panels.keys()}
    renamed = {}
    for old_title, old_panel in list(removed.items()):
        same = [t for t, p in added.items() if p.queries and p.queries == old_panel.queries]
        if len(same) == 1:
            renamed[old_title] = same[0]
            del removed[old_title], added[same[0]]
    for title in sorted(added):
        panel = added[title]
        lines.append(f"panel added: **{title}** ({panel.type}, row “{panel.row}”)")
        lines += [f"  - query {ref}: {code(expr)}" for ref, expr in panel.queries.items()]
    for title in sorted(removed):
        lines.append(f"panel removed: **{title}** (row “{removed[title].row}”)")
    moves = []
    pairs = [(t, t) for t in before.panels.keys() & after.panels.keys()] + list(renamed.items())
    for old_title, new_title in sorted(pairs, key=lambda p: after.panels[p[1]].position[1::-1]):
        old_panel, new_panel = before.panels[old_title], after.panels[new_title]
        changes = compare(old_panel.properties, new_panel.properties)
        if old_title != new_title:
            changes.insert(0, f"renamed from “{old_title}”")
        if changes:
            lines.append(f"panel **{new_title}**:")
            lines += ["  - " + c.replace("\n", "\n  ") for c in changes]
        if (old_panel.position, old_panel.row) != (new_panel.position, new_panel.row):
            moves.append((new_title, old_panel, new_panel))
    return lines + _folded_moves(moves)


def dashboards_section(old: dict[str, dict], new: dict[str, dict]) -> list[str]:
    """Markdown lines for every board added, removed or changed ({uid: dashboard} each side)."""
    out = []
    for uid in sorted(new.keys() - old.keys()):
        out.append(f"- **Board added:** {new[uid].get('title')} (`{uid}`, {len(board_view(new[uid]).panels)} panels)")
    for uid in sorted(old.keys() - new.keys()):
        out.append(f"- **Board removed:** {old[uid].get('title')} (`{uid}`)")
    for uid in sorted(old.keys() & new.keys()):
        lines = board_changes(old[uid], new[uid])
        if lines:
            out += ["", f"#### {new[uid].get('title')} (`{uid}`)", ""]
            out += [line if line.startswith("  ") else "- " + line.replace("\n", "\n  ") for line in lines]
    return out


# --- Prometheus rule files ---

@dataclass(frozen=True)
class Rule:
    kind: str  # alert or record
    name: str
    key: str  # name, with the severity for alerts (escalation steps share a name)
    where: str  # file / group
    properties: dict


def rules(files: dict[str, dict]) -> dict[str, Rule]:
    """Every rule of every rule file, keyed by kind, name (and severity; an ordinal for further duplicates)."""
    out: dict[str, Rule] = {}
    for path, document in sorted(files.items()):
        for group in document.get("groups", []):
            group_props = {f"group {k}": v for k, v in group.items() if k not in ("name", "rules")}
            for rule in group.get("rules", []):
                kind = "alert" if "alert" in rule else "record"
                name = rule.get(kind, "")
                severity = (rule.get("labels") or {}).get("severity")
                key = f"{kind} {name}" + (f" (severity {severity})" if severity else "")
                base, n = key, 2
                while key in out:
                    key, n = f"{base} #{n}", n + 1
                props = {"expr": " ".join(str(rule.get("expr", "")).split()), **group_props}
                for k, v in rule.items():
                    if k in (kind, "expr"):
                        continue
                    if k in ("labels", "annotations") and isinstance(v, dict):
                        props.update({f"{k[:-1]} {lk}": lv for lk, lv in v.items()})
                    else:
                        props[k] = v
                out[key] = Rule(kind, name, key, f"{path} / {group.get('name')}", props)
    return out


def readers(record: str, dashboards: dict[str, dict]) -> list[str]:
    """Board / panel of every panel whose queries read the recorded series `record`."""
    pattern = re.compile(rf"(?<![\w:]){re.escape(record)}(?![\w:])")
    found = []
    for dashboard in dashboards.values():
        for title, panel in board_view(dashboard).panels.items():
            if any(pattern.search(expr) for expr in panel.queries.values()):
                found.append(f"{dashboard.get('title')} / {title}")
    return sorted(found)


KINDS = {"record": "recording rule", "alert": "alert rule"}


def rules_section(old: dict[str, dict], new: dict[str, dict], old_boards: dict[str, dict],
                  new_boards: dict[str, dict]) -> list[str]:
    """Rules added, removed and changed (expression, `for`, labels, annotations, group); for recording rules
    the panels reading them, since a changed rule changes every panel that reads its series."""
    before, after = rules(old), rules(new)
    out = []
    for key in sorted(after.keys() - before.keys()):
        rule = after[key]
        out.append(f"- {KINDS[rule.kind]} added: **{key.split(' ', 1)[1]}** in {rule.where}: "
                   f"{code(rule.properties['expr'])}" + "".join(f"; {k} {code(v)}" for k, v in sorted(
                       rule.properties.items()) if k != "expr" and not k.startswith("group ")))
        if rule.kind == "record":
            out += [f"  - read by: {r}" for r in readers(rule.name, new_boards)]
    for key in sorted(before.keys() - after.keys()):
        rule = before[key]
        out.append(f"- {KINDS[rule.kind]} removed: **{key.split(' ', 1)[1]}** (was in {rule.where})")
        if rule.kind == "record":
            out += [f"  - was read by: {r}" for r in readers(rule.name, old_boards)]
    for key in sorted(before.keys() & after.keys()):
        old_rule, new_rule = before[key], after[key]
        changes = compare(old_rule.properties, new_rule.properties)
        if old_rule.where != new_rule.where:
            changes.append(f"moved from {old_rule.where} to {new_rule.where}")
        if changes:
            out.append(f"- {KINDS[old_rule.kind]} **{key.split(' ', 1)[1]}** ({new_rule.where}):")
            out += ["  - " + c.replace("\n", "\n  ") for c in changes]
            if new_rule.kind == "record":
                out += [f"  - read by (each panel shows the change): {r}" for r in readers(new_rule.name, new_boards)]
    return out


# --- routing: Alertmanager's route tree, Grafana's notification policies ---

def matchers(route: dict) -> str:
    """A route's matchers in one normal form, whatever the spelling (matchers, object_matchers, match, match_re)."""
    found = [" ".join(str(m).split()) for m in route.get("matchers", []) or []]
    found += [f"{label}{op}\"{value}\"" for label, op, value in route.get("object_matchers", []) or []]
    found += [f'{k}="{v}"' for k, v in (route.get("match") or {}).items()]
    found += [f'{k}=~"{v}"' for k, v in (route.get("match_re") or {}).items()]
    return ", ".join(sorted(found)) or "(all)"


def walk_routes(route: dict, path: str = "root") -> Iterator[tuple[str, dict]]:
    yield path, route
    for child in route.get("routes", []) or []:
        yield from walk_routes(child, f"{path} › {child.get('receiver', '?')} [{matchers(child)}]")


ROUTE_SKIP = {"routes", "matchers", "object_matchers", "match", "match_re"}


def route_changes(old: dict, new: dict) -> list[str]:
    """Routes are matched by their path (receiver and matchers from the root): a route whose receiver or
    matchers change shows as removed and added. Order matters (the first matching route wins, unless
    `continue`), so a reordering is reported too."""
    before, after = dict(walk_routes(old)), dict(walk_routes(new))
    lines = []
    for path in [p for p in after if p not in before]:
        props = {k: v for k, v in after[path].items() if k not in ROUTE_SKIP}
        lines.append(f"route added: {path} ({', '.join(f'{k} {code(v)}' for k, v in sorted(props.items()))})")
    for path in [p for p in before if p not in after]:
        lines.append(f"route removed: {path}")
    for path in [p for p in after if p in before]:
        changes = compare({k: v for k, v in flatten({k: v for k, v in before[path].items()
                                                        if k not in ROUTE_SKIP}).items()},
                          {k: v for k, v in flatten({k: v for k, v in after[path].items()
                                                        if k not in ROUTE_SKIP}).items()})
        if changes:
            lines.append(f"route {path}:")
            lines += [f"  - {c}" for c in changes]
    common = [p for p in after if p in before]
    if [p for p in before if p in after] != common:
        lines.append("route order changed (the first matching route wins): " + "; ".join(common))
    return lines


def _by_name(items: Iterable[dict], key: str = "name") -> dict[str, dict]:
    return {str(item.get(key)): item for item in items or [] if isinstance(item, dict)}


def _keys_changed(old: dict, new: dict) -> list[str]:
    """Which settings changed, naming keys only: receivers' values can be secrets."""
    a, b = flatten(old), flatten(new)
    return [f"{k} {'added' if k not in a else 'removed' if k not in b else 'changed'}"
            for k in sorted(a.keys() | b.keys(), key=_natural) if a.get(k) != b.get(k)]


def alertmanager_section(old: dict, new: dict) -> list[str]:
    lines = route_changes(old.get("route", {}), new.get("route", {}))
    old_inhibit = {json.dumps(r, sort_keys=True) for r in old.get("inhibit_rules", []) or []}
    new_inhibit = {json.dumps(r, sort_keys=True) for r in new.get("inhibit_rules", []) or []}
    lines += [f"inhibit rule added: {code(r)}" for r in sorted(new_inhibit - old_inhibit)]
    lines += [f"inhibit rule removed: {code(r)}" for r in sorted(old_inhibit - new_inhibit)]
    lines += _receivers(_by_name(old.get("receivers")), _by_name(new.get("receivers")))
    for key in ("time_intervals", "mute_time_intervals"):
        lines += _named_changes(key.replace("_", " ").rstrip("s"), {k: flatten(v) for k, v in _by_name(
            old.get(key)).items()}, {k: flatten(v) for k, v in _by_name(new.get(key)).items()})
    rest = {k: v for k, v in old.items() if k not in ("route", "receivers", "inhibit_rules", "time_intervals",
                                                     "mute_time_intervals")}
    rest_new = {k: v for k, v in new.items() if k not in ("route", "receivers", "inhibit_rules", "time_intervals",
                                                         "mute_time_intervals")}
    lines += [f"{c} (global settings)" for c in _keys_changed(rest, rest_new)]
    return lines


def _receivers(before: dict[str, dict], after: dict[str, dict]) -> list[str]:
    lines = []
    for name in sorted(after.keys() - before.keys()):
        kinds = sorted(k for k in after[name] if k not in ("name", "uid", "orgId"))
        lines.append(f"receiver added: **{name}** ({', '.join(kinds)})")
    for name in sorted(before.keys() - after.keys()):
        lines.append(f"receiver removed: **{name}**")
    for name in sorted(before.keys() & after.keys()):
        changed = _keys_changed(before[name], after[name])
        if changed:
            lines.append(f"receiver **{name}**: " + "; ".join(changed))
    return lines


def grafana_rules(documents: dict[str, dict]) -> dict[str, dict]:
    """Grafana-managed rules by uid: title, group, condition, each query's model and the rest."""
    out = {}
    for path, document in documents.items():
        for group in document.get("groups", []) or []:
            for rule in group.get("rules", []) or []:
                if not isinstance(rule, dict) or "uid" not in rule:
                    continue
                props: dict[str, Any] = {"group": f"{group.get('folder', '')}/{group.get('name')}",
                                         "group interval": group.get("interval"), "file": path}
                for key, value in rule.items():
                    if key == "data":
                        for query in value or []:
                            model = {k: v for k, v in (query.get("model") or {}).items()
                                     if k not in ("refId", "datasource", "intervalMs", "maxDataPoints")}
                            props[f"query {query.get('refId')}"] = model
                            props[f"query {query.get('refId')} range"] = query.get("relativeTimeRange")
                    elif key in ("labels", "annotations") and isinstance(value, dict):
                        props.update({f"{key[:-1]} {k}": v for k, v in value.items()})
                    elif key != "uid":
                        props[key] = value
                out[rule["uid"]] = {k: v for k, v in props.items() if v is not None}
    return out


def grafana_alerting_section(old: dict[str, dict], new: dict[str, dict]) -> list[str]:
    lines = _named_changes("Grafana rule", grafana_rules(old), grafana_rules(new),
                           lambda uid, rule: f"**{rule.get('title', uid)}** (`{uid}`)")
    for path in sorted(old.keys() | new.keys()):
        a, b = old.get(path, {}), new.get(path, {})
        old_trees, new_trees = a.get("policies") or [], b.get("policies") or []
        for i in range(max(len(old_trees), len(new_trees))):
            changes = route_changes(old_trees[i] if i < len(old_trees) else {},
                                    new_trees[i] if i < len(new_trees) else {})
            lines += [c if c.startswith("  ") else f"notification policy ({path}): {c}" for c in changes]
        lines += _receivers(_by_name(a.get("contactPoints")), _by_name(b.get("contactPoints")))
        lines += _named_changes("mute timing", {k: flatten(v) for k, v in _by_name(a.get("muteTimes")).items()},
                                {k: flatten(v) for k, v in _by_name(b.get("muteTimes")).items()})
        lines += _named_changes("template", {k: flatten(v) for k, v in _by_name(a.get("templates")).items()},
                                {k: flatten(v) for k, v in _by_name(b.get("templates")).items()})
    return lines


# --- everything ---

@dataclass
class Generated:
    """One side's generated files by kind: {path: parsed document}."""

    files: dict[str, dict[str, Any]] = field(default_factory=lambda: defaultdict(dict))

    def of(self, kind: str) -> dict[str, Any]:
        return self.files.get(kind, {})

    def dashboards(self) -> dict[str, dict]:
        return {d["uid"]: d for d in self.of(DASHBOARD).values()}


def _items(lines: list[str]) -> list[str]:
    """Top-level lines as list items; lines already indented ("  - …") stay sub-items."""
    return [line if line.startswith("  ") else "- " + line.replace("\n", "\n  ") for line in lines]


def _per_file(old: dict[str, dict], new: dict[str, dict], section) -> list[str]:  # type: ignore[no-untyped-def]
    out = []
    for path in sorted(old.keys() | new.keys()):
        lines = section(old.get(path, {}), new.get(path, {}))
        if lines:
            out += ["", f"#### `{path}`", "", *_items(lines)]
    return out


def report(old: Generated, new: Generated, *, base: str, head: str, notes: Iterable[str] = ()) -> str:
    """The Markdown a reviewer reads: every semantic change from `old` (at `base`) to `new` (at `head`)."""
    out = [f"## Changes since `{base}` ({head}; generated from the sources at both sides)"]
    out += ["", *(f"> {note}" for note in notes)] if notes else []
    sections = [
        ("Dashboards", dashboards_section(old.dashboards(), new.dashboards())),
        ("Prometheus rules (recording and alerting)",
         rules_section(old.of(RULES), new.of(RULES), old.dashboards(), new.dashboards())),
        ("Alertmanager routing", _per_file(old.of(ALERTMANAGER), new.of(ALERTMANAGER), alertmanager_section)),
        ("Grafana alerting (rules, notification policies, contact points)",
         _items(grafana_alerting_section(old.of(GRAFANA_ALERTING), new.of(GRAFANA_ALERTING)))),
    ]
    changed = False
    for title, lines in sections:
        if lines:
            out += ["", f"### {title}", ""]
            out += lines[1:] if lines[0] == "" else lines
            changed = True
    if not changed:
        out += ["", "No changes to dashboards, rules or routing."]
    return "\n".join(out).rstrip() + "\n"
