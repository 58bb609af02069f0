"""One provider registry (exporters/providers/registry.py), and no other list of providers.

Every consumer reads the registry: the config file's schema, the runtime, the catalogue, the
costs, validate, the simulator, the boards and the alerts. A list of provider names kept
anywhere else (a tuple, a dict's keys, a class with a field per provider, a board uid typed
again) fails here, so a new provider cannot be forgotten in one place and fail at run time.
"""

from __future__ import annotations

import ast
from pathlib import Path

from exporters.providers.registry import BY_NAME, NAMES, PROVIDERS, all_metrics
from exporters.service.config import SECRET_ENV, Config, parse_config
from exporters.simulator import SIMULATED, simulator_config, simulator_env

REPO = Path(__file__).resolve().parents[2]
# Where a provider's facts may be written: the registry and each provider's own registration.
REGISTRY = REPO / "exporters" / "providers" / "registry.py"
REGISTRATIONS = {REPO / "exporters" / "providers" / name / "__init__.py" for name in NAMES}
SOURCES = sorted(p for root in ("exporters", "grafana", "alerting") for p in (REPO / root).rglob("*.py"))
BOARD_UIDS = {p.board_uid for p in PROVIDERS}
# Lists of providers that are facts of one place, not a list of every provider: (file, names), why.
ALLOWED = {
    ("exporters/simulator/server.py", ("render", "vercel")):
        "the simulator's fake sites run on Vercel (frontend) and Render (backend): an outage of either takes them down",
}


def _docstrings(tree: ast.AST) -> set[int]:
    return {id(node.body[0].value) for node in ast.walk(tree)
            if isinstance(node, (ast.Module, ast.ClassDef, ast.FunctionDef, ast.AsyncFunctionDef))
            and node.body and isinstance(node.body[0], ast.Expr) and isinstance(node.body[0].value, ast.Constant)}


def provider_lists(source: str, where: str = "") -> list[str]:
    """What in `source` keeps its own list of providers: a collection literal, a dict's keys, a class's
    fields or a call's keywords naming two providers or more; a registered board uid typed again."""
    tree = ast.parse(source)
    docstrings = _docstrings(tree)
    found = []

    def names(values: list[str | None]) -> set[str]:
        return {v for v in values if v in NAMES}

    for node in ast.walk(tree):
        line = f"{where}:{getattr(node, 'lineno', '?')}"
        if isinstance(node, (ast.Tuple, ast.List, ast.Set)):
            listed = names([e.value if isinstance(e, ast.Constant) and isinstance(e.value, str) else None
                            for e in node.elts])
        elif isinstance(node, ast.Dict):
            listed = names([k.value if isinstance(k, ast.Constant) and isinstance(k.value, str) else None
                            for k in node.keys])
        elif isinstance(node, ast.ClassDef):  # a field per provider, all of one type (a budget each, …)
            fields = [s for s in node.body if isinstance(s, ast.AnnAssign) and isinstance(s.target, ast.Name)
                      and s.target.id in NAMES]
            by_type: dict[str, list[str | None]] = {}
            for f in fields:
                by_type.setdefault(ast.dump(f.annotation), []).append(f.target.id)  # type: ignore[union-attr]
            listed = max((names(v) for v in by_type.values()), key=len, default=set())
        elif isinstance(node, ast.Call) and isinstance(node.func, ast.Name) and node.func.id == "dict":
            listed = names([k.arg for k in node.keywords])
        else:
            listed = set()
        if len(listed) >= 2 and (where, tuple(sorted(listed))) not in ALLOWED:
            found.append(f"{line}: {sorted(listed)}")
        if (isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings
                and node.value in BOARD_UIDS):
            found.append(f"{line}: board uid {node.value!r}")
    return found


def test_no_module_keeps_its_own_list_of_providers() -> None:
    offenders = [hit for path in SOURCES if path != REGISTRY and path not in REGISTRATIONS
                 for hit in provider_lists(path.read_text(encoding="utf-8"), str(path.relative_to(REPO)))]
    assert not offenders, "read exporters/providers/registry.py instead:\n" + "\n".join(offenders)


def test_the_check_finds_each_kind_of_list() -> None:
    a, b = NAMES[0], NAMES[1]
    for planted in (f"X = ({a!r}, {b!r})", f"X = [{a!r}, {b!r}, 'other']", f"X = {{{a!r}: 1, {b!r}: 2}}",
                    f"class Budgets:\n    {a}: float\n    {b}: float", f"dict({a}=1, {b}=2)",
                    f"UID = {PROVIDERS[0].board_uid!r}"):
        assert provider_lists(planted), planted
    assert not provider_lists(f"'''{PROVIDERS[0].board_uid} in a docstring'''\nX = ({a!r}, 'total')\n"
                              f"class Inputs:\n    {a}: list[A]\n    {b}: list[B]")


def test_each_registered_provider_is_whole() -> None:
    for provider in PROVIDERS:
        folder = REPO / provider.module.replace(".", "/")
        assert provider.module == f"exporters.providers.{provider.name}" and folder.is_dir(), provider.name
        assert (folder / "README.md").is_file(), f"{provider.name}: its folder has no README.md"
        assert (REPO / "docs" / "providers" / f"{provider.name}.md").is_file(), f"{provider.name}: no docs/providers page"
        assert provider.metrics and all(m.name.split(".")[0] in (provider.name, "gen_ai") for m in provider.metrics)
        assert provider.config.model_fields["base_url"].default.startswith("https://"), provider.name
        assert provider.secret_env.isupper() and provider.display_name and provider.demo_token
        assert set(provider.id_keys) <= set(provider.config.model_fields), provider.name
    assert len(set(NAMES)) == len(NAMES) and all(m.name for m in all_metrics())


def test_the_config_file_has_a_section_and_budget_per_provider_and_nothing_else() -> None:
    assert set(Config.model_fields["providers"].annotation.model_fields) == set(NAMES)
    budgets = Config.model_fields["budgets"].annotation.model_fields["monthly_usd"].annotation.model_fields
    assert set(budgets) == {"total", *NAMES}
    assert SECRET_ENV == {p.name: p.secret_env for p in PROVIDERS}


def test_the_simulator_serves_every_registered_provider_and_its_demo_config_parses() -> None:
    assert tuple(sim.name for sim in SIMULATED) == NAMES
    config = parse_config(simulator_config("http://127.0.0.1:1"), "(test)")
    assert list(config.providers.enabled()) == list(NAMES)
    assert set(simulator_env()) >= {p.secret_env for p in PROVIDERS}
    for name, sim in zip(NAMES, SIMULATED, strict=True):
        assert BY_NAME[name].demo_token and sim.prefix.startswith(f"/{name}")


def test_boards_and_alerts_link_to_the_registered_board_uids() -> None:
    from alerting.rules import ALERTS
    from grafana.dashboards import boards

    uids = {b.uid for b in boards()}
    assert BOARD_UIDS <= uids, "a registered board uid names no board"
    assert {a.dashboard for a in ALERTS} <= uids, "an alert links to a board that does not exist"
    assert {a.dashboard for a in ALERTS} & BOARD_UIDS, "no alert links to a provider's board"


def test_every_fact_the_code_relies_on_points_into_the_projects_own_docs() -> None:
    """Facts and their sources are in docs/providers/ (or docs/costs.md), never in a file outside the repository."""
    outside = "PROVIDERS" + ".md"  # the reference notes the facts were first gathered in, outside the repository
    texts = [p for root in ("exporters", "docs", "tests", "grafana", "alerting", "benchmarks")
             for p in (REPO / root).rglob("*") if p.suffix in (".py", ".md", ".yaml")]
    assert texts and not [str(p.relative_to(REPO)) for p in texts if outside in p.read_text(encoding="utf-8")]
    for provider in PROVIDERS:
        page = (REPO / "docs" / "providers" / f"{provider.name}.md").read_text(encoding="utf-8")
        assert "| fact | used in | source | confidence |" in page, provider.name
