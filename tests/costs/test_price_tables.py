"""Every entry of `exporters/costs/price_tables/*.yaml` is pinned to its published value, and changing any
single price makes a test fail.

`PUBLISHED` below is a third, independent copy of the figures: typed in here from the providers'
pricing pages (sources per block), not read from the price tables or the simulator's fixtures.
(Keys are paths joined by "/": model names contain dots.) A new entry in a price table fails `test_every_price_table_entry_equals_its_published_value`
until its published figure (with source) is added here.

`test_changing_any_single_price_is_detected` perturbs each numeric entry in turn, in a copy of the
tables loaded from a temporary directory, and proves two detectors catch it: the pinning check, and
the cost the exporter's own pricing code computes from the perturbed table compared with the
simulator's independent price fixtures (the same comparison the end-to-end ground-truth tests make).
"""

from __future__ import annotations

import ast
import copy
import shutil
from collections.abc import Callable
from datetime import date
from importlib import resources
from pathlib import Path
from typing import Any

import pytest
import yaml

from exporters.costs import prices as prices_module
from exporters.costs.prices import PriceBook
from exporters.providers.llamacloud.exporter import Plan, billable_credits, fee_usd
from exporters.providers.openai.exporter import Tokens, estimate_usd, model_prices
from exporters.simulator import price_fixtures as fx

# --- the published figures, typed in from the providers' pages ---

PUBLISHED: dict[str, dict[str, Any]] = {
    # openai.com/api/pricing, mid-2026 copies (docs/providers/openai.md for gpt-4o, gpt-4o-mini, embeddings,
    # Batch −50 %); the other snapshots and the legacy table from the same page. USD per 1M tokens.
    "openai": {
        "usd_per_million_tokens/gpt-4o-2024-08-06/input": 2.50,
        "usd_per_million_tokens/gpt-4o-2024-08-06/cached_input": 1.25,
        "usd_per_million_tokens/gpt-4o-2024-08-06/output": 10.00,
        "usd_per_million_tokens/gpt-4o-2024-11-20/input": 2.50,
        "usd_per_million_tokens/gpt-4o-2024-11-20/cached_input": 1.25,
        "usd_per_million_tokens/gpt-4o-2024-11-20/output": 10.00,
        "usd_per_million_tokens/gpt-4o-2024-05-13/input": 5.00,
        "usd_per_million_tokens/gpt-4o-2024-05-13/output": 15.00,
        "usd_per_million_tokens/gpt-4o-mini-2024-07-18/input": 0.15,
        "usd_per_million_tokens/gpt-4o-mini-2024-07-18/cached_input": 0.075,
        "usd_per_million_tokens/gpt-4o-mini-2024-07-18/output": 0.60,
        "usd_per_million_tokens/gpt-4.1-2025-04-14/input": 2.00,
        "usd_per_million_tokens/gpt-4.1-2025-04-14/cached_input": 0.50,
        "usd_per_million_tokens/gpt-4.1-2025-04-14/output": 8.00,
        "usd_per_million_tokens/gpt-4.1-mini-2025-04-14/input": 0.40,
        "usd_per_million_tokens/gpt-4.1-mini-2025-04-14/cached_input": 0.10,
        "usd_per_million_tokens/gpt-4.1-mini-2025-04-14/output": 1.60,
        "usd_per_million_tokens/gpt-4.1-nano-2025-04-14/input": 0.10,
        "usd_per_million_tokens/gpt-4.1-nano-2025-04-14/cached_input": 0.025,
        "usd_per_million_tokens/gpt-4.1-nano-2025-04-14/output": 0.40,
        "usd_per_million_tokens/o3-2025-04-16/input": 2.00,
        "usd_per_million_tokens/o3-2025-04-16/cached_input": 0.50,
        "usd_per_million_tokens/o3-2025-04-16/output": 8.00,
        "usd_per_million_tokens/o4-mini-2025-04-16/input": 1.10,
        "usd_per_million_tokens/o4-mini-2025-04-16/cached_input": 0.275,
        "usd_per_million_tokens/o4-mini-2025-04-16/output": 4.40,
        "usd_per_million_tokens/o3-mini-2025-01-31/input": 1.10,
        "usd_per_million_tokens/o3-mini-2025-01-31/cached_input": 0.55,
        "usd_per_million_tokens/o3-mini-2025-01-31/output": 4.40,
        "usd_per_million_tokens/o1-2024-12-17/input": 15.00,
        "usd_per_million_tokens/o1-2024-12-17/cached_input": 7.50,
        "usd_per_million_tokens/o1-2024-12-17/output": 60.00,
        "usd_per_million_tokens/gpt-5-2025-08-07/input": 1.25,
        "usd_per_million_tokens/gpt-5-2025-08-07/cached_input": 0.125,
        "usd_per_million_tokens/gpt-5-2025-08-07/output": 10.00,
        "usd_per_million_tokens/gpt-5-mini-2025-08-07/input": 0.25,
        "usd_per_million_tokens/gpt-5-mini-2025-08-07/cached_input": 0.025,
        "usd_per_million_tokens/gpt-5-mini-2025-08-07/output": 2.00,
        "usd_per_million_tokens/gpt-5-nano-2025-08-07/input": 0.05,
        "usd_per_million_tokens/gpt-5-nano-2025-08-07/cached_input": 0.005,
        "usd_per_million_tokens/gpt-5-nano-2025-08-07/output": 0.40,
        "usd_per_million_tokens/gpt-3.5-turbo-0125/input": 0.50,
        "usd_per_million_tokens/gpt-3.5-turbo-0125/output": 1.50,
        "usd_per_million_tokens/text-embedding-3-small/input": 0.02,
        "usd_per_million_tokens/text-embedding-3-large/input": 0.13,
        "usd_per_million_tokens/text-embedding-ada-002/input": 0.10,
        # The models page: which snapshot an undated name points to.
        "aliases/gpt-4o": "gpt-4o-2024-08-06",
        "aliases/gpt-4o-mini": "gpt-4o-mini-2024-07-18",
        "aliases/gpt-4.1": "gpt-4.1-2025-04-14",
        "aliases/gpt-4.1-mini": "gpt-4.1-mini-2025-04-14",
        "aliases/gpt-4.1-nano": "gpt-4.1-nano-2025-04-14",
        "aliases/o3": "o3-2025-04-16",
        "aliases/o4-mini": "o4-mini-2025-04-16",
        "aliases/o3-mini": "o3-mini-2025-01-31",
        "aliases/o1": "o1-2024-12-17",
        "aliases/gpt-5": "gpt-5-2025-08-07",
        "aliases/gpt-5-mini": "gpt-5-mini-2025-08-07",
        "aliases/gpt-5-nano": "gpt-5-nano-2025-08-07",
        "batch_multiplier": 0.5,
    },
    # llamaindex.ai/pricing, docs.cloud.llamaindex.ai (docs/providers/llamacloud.md, H; cost-effective tier M).
    "llamacloud": {
        "usd_per_1000_credits": 1.25,
        "plans/free/usd_per_month": 0, "plans/free/included_credits": 10_000,
        "plans/starter/usd_per_month": 50, "plans/starter/included_credits": 40_000,
        "plans/pro/usd_per_month": 500, "plans/pro/included_credits": 400_000,
        "plans/pay_as_you_go/usd_per_month": 0, "plans/pay_as_you_go/included_credits": 0,
        "credits_per_page/fast": 1, "credits_per_page/cost_effective": 3,
        "credits_per_page/agentic": 10, "credits_per_page/agentic_plus": 45,
    },
    # render.com/pricing (docs/providers/render.md: Starter $7, Standard $25 M; Pro and above L). USD per month.
    "render": {
        "usd_per_month/free": 0, "usd_per_month/starter": 7, "usd_per_month/standard": 25,
        "usd_per_month/pro": 85, "usd_per_month/pro_plus": 175, "usd_per_month/pro_max": 225,
        "usd_per_month/pro_ultra": 450,
        # render.com/pricing, Postgres (flexible plans), storage, disks and workspace seats
        # (read once; confidence L, as the table says). USD per month / GB-month / seat-month.
        "postgres_usd_per_month/free": 0, "postgres_usd_per_month/basic_256mb": 6,
        "postgres_usd_per_month/basic_1gb": 19, "postgres_usd_per_month/basic_4gb": 75,
        "postgres_usd_per_month/pro_4gb": 55, "postgres_usd_per_month/pro_8gb": 100,
        "postgres_storage_usd_per_gb_month": 0.30,
        # render.com/pricing, Key Value (starter 256 MB, standard 1 GB, pro 5 GB, pro_plus 10 GB;
        # read once; confidence L). USD per month.
        "key_value_usd_per_month/free": 0, "key_value_usd_per_month/starter": 10,
        "key_value_usd_per_month/standard": 32, "key_value_usd_per_month/pro": 135,
        "key_value_usd_per_month/pro_plus": 250,
        "disk_usd_per_gb_month": 0.25,
        "workspace_usd_per_seat_month/hobby": 0, "workspace_usd_per_seat_month/professional": 19,
        "workspace_usd_per_seat_month/organization": 29,
    },
    # supabase.com/pricing and docs/guides/platform/compute-add-ons, 2026 (docs/providers/supabase.md, H).
    "supabase": {
        "plan_usd_per_month/free": 0, "plan_usd_per_month/pro": 25, "plan_usd_per_month/team": 599,
        "compute_credit_usd_per_month/free": 0, "compute_credit_usd_per_month/pro": 10,
        "compute_credit_usd_per_month/team": 10,
        "compute_usd_per_hour/ci_nano": 0, "compute_usd_per_hour/ci_micro": 0.01344,
        "compute_usd_per_hour/ci_small": 0.0206, "compute_usd_per_hour/ci_medium": 0.0822,
        "compute_usd_per_hour/ci_large": 0.1517, "compute_usd_per_hour/ci_xlarge": 0.2877,
        "compute_usd_per_hour/ci_2xlarge": 0.562, "compute_usd_per_hour/ci_4xlarge": 1.32,
        # PITR 7/14/28 days $100/$200/$400 a month, disk beyond 8 GB $0.125 per GB-month (docs/providers/supabase.md, M);
        # IPv4 $4 and custom domain $10 a month (supabase.com/docs/guides/platform/manage-your-usage, L).
        "addon_usd_per_month/pitr_7": 100, "addon_usd_per_month/pitr_14": 200, "addon_usd_per_month/pitr_28": 400,
        "addon_usd_per_month/ipv4_default": 4, "addon_usd_per_month/cd_default": 10,
        "disk_included_gb": 8, "disk_usd_per_gb_month": 0.125,
    },
}

TABLES_DIR = Path(str(resources.files("exporters.costs").joinpath("price_tables")))


def flatten(table: Any, prefix: str = "") -> dict[str, Any]:
    if isinstance(table, dict):
        out: dict[str, Any] = {}
        for key, value in table.items():
            out.update(flatten(value, f"{prefix}/{key}" if prefix else str(key)))
        return out
    return {prefix: table}


def current_tables(book: PriceBook, on: date = date(2026, 11, 18)) -> dict[str, dict[str, Any]]:
    return {provider: flatten(book.table(provider, on)) for provider in PUBLISHED}


def pin_mismatches(book: PriceBook) -> list[str]:
    """Entries that differ from the published figure (or exist on one side only)."""
    problems = []
    for provider, entries in current_tables(book).items():
        published = PUBLISHED[provider]
        for key in sorted(set(entries) | set(published)):
            if key not in entries or key not in published or entries[key] != published[key] \
                    or type(entries[key]) is str and type(published[key]) is not str:
                problems.append(f"{provider}:{key}: table {entries.get(key)!r}, published {published.get(key)!r}")
    return problems


# --- the exporter's pricing code against the simulator's independent fixtures ---

USAGE = Tokens(input=3_000_000, cached=1_000_000, output=2_000_000, requests=1)


def _openai_truth(model: str, batch: bool) -> float:
    price = fx.openai_model_price(model)
    assert price is not None
    cached = price.cached_input or price.input
    usd = (2_000_000 * price.input.usd + 1_000_000 * cached.usd
           + 2_000_000 * (price.output.usd if price.output else 0.0)) / 1e6
    return usd * (fx.OPENAI_BATCH_MULTIPLIER.usd if batch else 1.0)


def openai_mismatches(book: PriceBook) -> list[str]:
    table = book.table("openai", date(2026, 11, 18))
    names = set(table["usd_per_million_tokens"]) | set(table.get("aliases", {}))
    problems = []
    for model in sorted(names):
        prices = model_prices(table, model)
        for batch in (False, True):
            usage = USAGE if prices and "output" in prices else Tokens(input=3_000_000)
            mine = estimate_usd(usage, prices or {}, float(table["batch_multiplier"]), batch)
            truth = _openai_truth(model, batch) if "output" in (prices or {}) else \
                3 * fx.openai_model_price(model).input.usd * (fx.OPENAI_BATCH_MULTIPLIER.usd if batch else 1.0)
            if abs(mine - truth) > 1e-9:
                problems.append(f"openai {model} batch={batch}: exporter {mine}, invoice {truth}")
    return problems


def llamacloud_mismatches(book: PriceBook) -> list[str]:
    table = book.table("llamacloud", date(2026, 11, 18))
    problems = []
    rate = float(table["usd_per_1000_credits"])
    for name, plan in table["plans"].items():
        fixture = fx.LLAMACLOUD_PLANS[name]
        mine = Plan(name, float(plan["usd_per_month"]), float(plan["included_credits"]), rate)
        # A month with 500,000 credits on one day: billable beyond the allowance, plus the month's fee.
        day = date(2026, 11, 2)
        key = object()
        billable = billable_credits({day: {key: 500_000.0}}, mine.included_credits)[day][key]
        from datetime import datetime, timezone  # noqa: PLC0415
        start = datetime(2026, 11, 1, tzinfo=timezone.utc)
        month = fee_usd(mine, start, datetime(2026, 12, 1, tzinfo=timezone.utc))
        usd = billable * rate / 1000 + month
        truth = (max(0, 500_000 - fixture.included_credits) * fx.LLAMACLOUD_USD_PER_1000_CREDITS.usd / 1000
                 + fixture.fee.usd)
        if abs(usd - truth) > 1e-9:
            problems.append(f"llamacloud plan {name}: exporter {usd}, invoice {truth}")
    for mode, credits in table["credits_per_page"].items():
        if float(credits) * 100 != fx.LLAMACLOUD_CREDITS_PER_PAGE[mode].usd * 100:
            problems.append(f"llamacloud mode {mode}: 100 pages = {float(credits) * 100} credits, "
                            f"invoice {fx.LLAMACLOUD_CREDITS_PER_PAGE[mode].usd * 100}")
    return problems


def _against(name: str, table: dict, fixtures: dict[str, fx.Price]) -> list[str]:
    return [f"{name}.{key}: {usd}, invoice {fixtures[key].usd}" for key, usd in table.items()
            if key in fixtures and float(usd) != fixtures[key].usd]


def render_mismatches(book: PriceBook) -> list[str]:
    table = book.table("render", date(2026, 11, 18))
    problems = _against("render plan", table["usd_per_month"], fx.RENDER_PLANS)
    problems += _against("render postgres", table.get("postgres_usd_per_month", {}), fx.RENDER_POSTGRES_PLANS)
    problems += _against("render key value", table.get("key_value_usd_per_month", {}), fx.RENDER_KEY_VALUE_PLANS)
    problems += _against("render workspace seat", table.get("workspace_usd_per_seat_month", {}),
                         fx.RENDER_WORKSPACE_SEAT)
    problems += _against("render", {k: v for k, v in table.items() if not isinstance(v, dict)},
                         {"postgres_storage_usd_per_gb_month": fx.RENDER_POSTGRES_STORAGE,
                          "disk_usd_per_gb_month": fx.RENDER_DISK})
    return problems


def supabase_mismatches(book: PriceBook) -> list[str]:
    table = book.table("supabase", date(2026, 11, 18))
    problems = []
    for key, fixtures in (("plan_usd_per_month", fx.SUPABASE_PLANS),
                          ("compute_credit_usd_per_month", fx.SUPABASE_COMPUTE_CREDIT),
                          ("compute_usd_per_hour", fx.SUPABASE_COMPUTE_PER_HOUR)):
        for name, usd in table.get(key, {}).items():
            if name in fixtures and float(usd) != fixtures[name].usd:
                problems.append(f"supabase {key}.{name}: {usd}, invoice {fixtures[name].usd}")
    problems += _against("supabase add-on", table.get("addon_usd_per_month", {}), fx.SUPABASE_ADDONS)
    problems += _against("supabase", {k: v for k, v in table.items() if not isinstance(v, dict)},
                         {"disk_included_gb": fx.SUPABASE_DISK_INCLUDED_GB, "disk_usd_per_gb_month": fx.SUPABASE_DISK})
    return problems


INVOICE_CHECKS: dict[str, Callable[[PriceBook], list[str]]] = {
    "openai": openai_mismatches, "llamacloud": llamacloud_mismatches,
    "render": render_mismatches, "supabase": supabase_mismatches,
}


# --- the tests ---

def test_every_price_table_entry_equals_its_published_value() -> None:
    assert pin_mismatches(PriceBook.load()) == []


def test_every_version_names_a_source_a_date_and_a_confidence() -> None:
    for path in TABLES_DIR.glob("*.yaml"):
        data = yaml.safe_load(path.read_text())
        for version in data["versions"]:
            assert isinstance(version["effective_from"], date), path.name
            assert len(str(version["source"])) > 10 and version["confidence"] in ("H", "M", "L"), path.name


def test_the_exporters_pricing_agrees_with_the_simulators_independent_fixtures() -> None:
    book = PriceBook.load()
    for provider, check in INVOICE_CHECKS.items():
        assert check(book) == [], provider


def test_no_simulator_module_reads_the_exporters_price_tables() -> None:
    """The simulator's ground truth is independent: no import of exporters.prices, no path to price_tables/."""
    sim_dir = Path(str(resources.files("exporters").joinpath("simulator")))
    offenders = []
    for path in sorted(sim_dir.rglob("*.py")):
        tree = ast.parse(path.read_text())
        docstrings = {id(node.body[0].value) for node in ast.walk(tree)
                      if isinstance(node, (ast.Module, ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef))
                      and node.body and isinstance(node.body[0], ast.Expr)
                      and isinstance(node.body[0].value, ast.Constant)}
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").endswith("prices"):
                offenders.append(f"{path.name}: from {node.module} import …")
            if isinstance(node, ast.Import) and any(a.name.endswith(".prices") for a in node.names):
                offenders.append(f"{path.name}: import exporters.prices")
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and id(node) not in docstrings \
                    and "price_tables" in node.value:
                offenders.append(f"{path.name}: {node.value[:60]!r}")
    assert len(list(sim_dir.rglob("*.py"))) >= 8 and offenders == []


def test_every_simulator_fixture_names_its_source_and_date() -> None:
    for name, price in fx.all_prices().items():
        assert price.source.where and isinstance(price.source.as_of, date), name
        assert price.source.confidence in ("H", "M", "L") and price.usd >= 0, name


def _numeric_entries() -> list[tuple[str, str]]:
    book = PriceBook.load()
    return [(provider, key) for provider, entries in current_tables(book).items()
            for key, value in entries.items() if isinstance(value, (int, float)) and not isinstance(value, bool)]


def _set(table: dict, dotted: str, value: Any) -> None:
    *path, last = dotted.split("/")
    node = table
    for part in path:
        node = node[part]
    node[last] = value


def _book_with(tmp_path: Path, provider: str, key: str) -> PriceBook:
    """A PriceBook loaded (by the real loader) from a copy of price_tables/ with one entry changed."""
    target = tmp_path / "exporters_copy" / "price_tables"
    shutil.copytree(TABLES_DIR, target)
    path = target / f"{provider}.yaml"
    data = yaml.safe_load(path.read_text())
    latest = max(data["versions"], key=lambda v: v["effective_from"])
    table = copy.deepcopy(latest["table"])
    old = flatten(table)[key]
    _set(table, key, old * 1.1 if old else 1)  # +10 %, or 1 where the price is 0
    latest["table"] = table
    path.write_text(yaml.safe_dump(data, sort_keys=False))
    return prices_module.PriceBook.load(target)


@pytest.mark.parametrize(("provider", "key"), _numeric_entries(), ids=lambda v: str(v))
def test_changing_any_single_price_is_detected(tmp_path: Path, provider: str, key: str) -> None:
    book = PriceBook.load()
    perturbed = _book_with(tmp_path, provider, key)
    assert not any(p.startswith(f"{provider}:{key}:") for p in pin_mismatches(book))
    assert any(p.startswith(f"{provider}:{key}:") for p in pin_mismatches(perturbed))
    new_problems = set(INVOICE_CHECKS[provider](perturbed)) - set(INVOICE_CHECKS[provider](book))
    assert new_problems, f"{provider}.{key}: the comparison with the simulator's invoice did not notice"


# --- the lookup by day (found by mutation testing, docs/testing.md) ---

VERSIONS_NEWEST_FIRST = """\
provider: example
versions:
  - effective_from: 2026-09-01
    source: "example.com/pricing, September"
    confidence: H
    table: {usd: 2}
  - effective_from: 2026-03-01
    source: "example.com/pricing, March"
    confidence: M
    table: {usd: 1}
"""


class Listing:
    """A price-table directory listing its entries in a fixed order (a Traversable, as `resources` gives)."""

    def __init__(self, *entries: Path):
        self.entries = entries

    def iterdir(self):
        return iter(self.entries)


@pytest.fixture
def example_book(tmp_path: Path) -> PriceBook:
    (tmp_path / "notes.txt").write_text("not a table")
    (tmp_path / "example.yaml").write_text(VERSIONS_NEWEST_FIRST)
    # A file that is not a table, listed first, is skipped, not the end of the listing.
    return PriceBook.load(Listing(tmp_path / "notes.txt", tmp_path / "example.yaml"))


def test_a_version_applies_from_its_effective_day_whatever_the_files_order(example_book: PriceBook):
    assert example_book.table("example", date(2026, 8, 31)) == {"usd": 1}
    assert example_book.table("example", date(2026, 9, 1)) == {"usd": 2}
    assert example_book.table("example", date(2026, 3, 1)) == {"usd": 1}


def test_a_day_before_every_version_gets_the_earliest(example_book: PriceBook):
    assert example_book.table("example", date(2025, 1, 1)) == {"usd": 1}


def test_a_version_carries_its_provider_source_and_confidence(example_book: PriceBook):
    version = example_book.version("example", date(2026, 10, 1))
    assert (version.provider, version.effective_from, version.source, version.confidence) == (
        "example", date(2026, 9, 1), "example.com/pricing, September", "H")


def test_a_provider_without_a_table_is_a_key_error_naming_it(example_book: PriceBook):
    with pytest.raises(KeyError, match="no price table for nosuch"):
        example_book.version("nosuch", date(2026, 10, 1))
