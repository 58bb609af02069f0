"""The package's layers import only downward, and nothing imports in a circle.

`exporters/` is built in layers, one folder each (CONTRIBUTING.md, "Where things live"); a
module may import its own layer and the layers below it, never one above. The graph is read
from the source (every `import`, wherever it stands: in a function, under TYPE_CHECKING), so a
lazy import cannot hide an arrow, and `importlib.import_module` is not used at all.
"""

from __future__ import annotations

import ast
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
PACKAGE = REPO / "exporters"

# Bottom to top. `exporters/__init__.py` (the version) is below everything; cli.py and
# __main__.py, the command line, above everything.
LAYERS = ("core", "costs", "poll", "providers", "service", "simulator", "ops")
BASE, TOP = "exporters", ("exporters.cli", "exporters.__main__")
# Folders whose sub-folders are one per provider: a provider's folder never imports another's.
PER_PROVIDER = ("exporters.providers", "exporters.simulator")
# The packages beside exporters/: what each may read of the others. The alert definitions (alerting/)
# read the provider registry; the boards (grafana/) read it and the alerts; of exporters/, only the
# operator tools and the command line read the alerts (`stackwatch validate`, `stackwatch alerts`).
GENERATORS = {"grafana": ("alerting", "exporters.providers"), "alerting": ("exporters.providers",)}
READS_ALERTING = ("exporters.ops", "exporters.cli")


def module_name(path: Path) -> str:
    parts = path.relative_to(REPO).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def modules(root: Path) -> dict[str, Path]:
    return {module_name(p): p for p in sorted(root.rglob("*.py"))}


ALL = {**modules(PACKAGE), **modules(REPO / "grafana"), **modules(REPO / "alerting")}


def _is_package(name: str) -> bool:
    return ALL[name].name == "__init__.py"


def imports_of(name: str) -> set[str]:
    """The modules `name` imports: `from a.b import c` is a.b.c when that is a module, else a.b."""
    tree = ast.parse(ALL[name].read_text(encoding="utf-8"))
    found: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom):
            if node.level:
                base = name.split(".") if _is_package(name) else name.split(".")[:-1]
                base = base[: len(base) - node.level + 1]
                source = ".".join([*base, node.module] if node.module else base)
            else:
                source = node.module or ""
            for alias in node.names:
                found.add(f"{source}.{alias.name}" if f"{source}.{alias.name}" in ALL else source)
    return {target for target in found if target in ALL and target != name}


GRAPH = {name: imports_of(name) for name in ALL}


def layer_of(name: str) -> int:
    if name == BASE:
        return -1
    if name in TOP:
        return len(LAYERS)
    parts = name.split(".")
    assert parts[0] == "exporters" and len(parts) >= 2 and parts[1] in LAYERS, (
        f"{name}: every module of exporters/ lives in a layer's folder {LAYERS} (or is the command line)")
    return LAYERS.index(parts[1])


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []

    def visit(node: str) -> None:
        index[node] = low[node] = len(index)
        stack.append(node)
        on_stack.add(node)
        for target in sorted(graph[node]):
            if target not in index:
                visit(target)
                low[node] = min(low[node], low[target])
            elif target in on_stack:
                low[node] = min(low[node], index[target])
        if low[node] == index[node]:
            component = []
            while True:
                member = stack.pop()
                on_stack.discard(member)
                component.append(member)
                if member == node:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for node in sorted(graph):
        if node not in index:
            visit(node)
    return found


def test_every_module_lives_in_a_layer_folder() -> None:
    for name in ALL:
        if name.startswith("exporters"):
            layer_of(name)


def test_each_layer_imports_only_its_own_and_the_layers_below() -> None:
    upward = [f"{source} (layer {LAYERS[layer_of(source)] if layer_of(source) < len(LAYERS) else 'cli'}) "
              f"imports {target} (layer {LAYERS[layer_of(target)] if layer_of(target) < len(LAYERS) else 'cli'})"
              for source, targets in GRAPH.items() if source.startswith("exporters")
              for target in targets if target.startswith("exporters") and layer_of(target) > layer_of(source)]
    assert not upward, "imports that run back up:\n" + "\n".join(upward)


def test_no_module_imports_in_a_circle() -> None:
    assert not cycles(GRAPH), f"import cycles: {cycles(GRAPH)}"


def test_a_providers_folder_never_imports_another_providers() -> None:
    crossing = []
    for source, targets in GRAPH.items():
        for root in PER_PROVIDER:
            own = source.removeprefix(root + ".").split(".")[0] if source.startswith(root + ".") else None
            if own is None or f"{root}.{own}" not in ALL or not _is_package(f"{root}.{own}"):
                continue
            for target in targets:
                other = target.removeprefix(root + ".").split(".")[0] if target.startswith(root + ".") else None
                if other and other != own and f"{root}.{other}" in ALL and _is_package(f"{root}.{other}"):
                    crossing.append(f"{source} imports {target}")
    assert not crossing, "\n".join(crossing)


def test_the_packages_beside_exporters_read_only_what_they_may() -> None:
    wrong = [f"{source} imports {target}" for source, targets in GRAPH.items() if source.startswith("exporters")
             for target in targets if not target.startswith("exporters")
             and not (target.startswith("alerting") and source.startswith(READS_ALERTING))]
    for generator, allowed in GENERATORS.items():
        wrong += [f"{source} imports {target}" for source, targets in GRAPH.items()
                  if source.split(".")[0] == generator for target in targets
                  if target.split(".")[0] != generator and not target.startswith(allowed)]
    assert not wrong, "\n".join(wrong)


def test_no_module_imports_by_name_at_run_time() -> None:
    """`import_module` / `__import__` draw no arrow a reader (or this test) can see."""
    named = [name for name, path in ALL.items()
             if any(word in path.read_text(encoding="utf-8") for word in ("import_module", "__import__"))]
    assert not named, named


def test_the_checks_see_a_cycle_and_an_upward_import() -> None:
    """The checks above can fail: a planted cycle is found, and so is an import from core into ops."""
    assert cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert layer_of("exporters.core.http") < layer_of("exporters.ops.demo")
