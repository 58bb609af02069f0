"""Mutation testing of the core, one module at a time against its own fast unit tests (`make mutation`).

mutmut reads its settings only from the pyproject.toml of the directory it runs in, and runs every
test of its test selection once to learn which tests reach which function. To keep one module's run
in minutes on a shared 2-core machine, each module runs in its own work directory
(build/mutation/<name>/): links to the repository's top-level entries and a copy of pyproject.toml
whose [tool.mutmut] table names that module (`only_mutate`) and its unit tests
(`pytest_add_cli_args_test_selection`). The repository's own [tool.mutmut] table holds the settings
shared by every module. Each run starts from an empty work directory (a module takes seconds to
minutes), so its figures never mix with an earlier run's; `--resume` continues an interrupted run
instead (mutmut re-tests only what it has not checked). `mutmut show <name>` in the work directory
prints a mutant's diff afterwards.

    python tools/mutation.py                 # every module in MODULES
    python tools/mutation.py ratelimit drains
    python tools/mutation.py --list          # the modules and their tests
    python tools/mutation.py --resume drains # continue an interrupted run

Prints, per module: mutants, killed, survived, the survivors explained as equivalent in
tools/mutation-equivalents.txt, the unexplained survivors' names, the score and the duration.
Exit status 1 when a module has an unexplained survivor.
"""

from __future__ import annotations

import argparse
import fnmatch
import json
import os
import re
import shutil
import subprocess
import sys
import time
import tomllib
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
WORK = ROOT / "build" / "mutation"
EQUIVALENTS = ROOT / "tools" / "mutation-equivalents.txt"
# Not linked into a work directory: the work area itself, the venv, caches and the file written per module.
NOT_LINKED = {".git", ".venv", "build", "dist", "pyproject.toml", ".pytest_cache", ".hypothesis", "mutants"}


@dataclass(frozen=True)
class Module:
    name: str
    path: str  # the file mutated, relative to the repository
    tests: tuple[str, ...]  # its fast unit tests: the only tests run against its mutants
    mutants: tuple[str, ...] = ()  # mutmut name globs: only these functions' mutants (default: all)
    by_default: bool = True  # False: a part of another module, run only when named


DRAIN_TESTS = ("tests/drains/test_vercel_drain_receiver.py", "tests/drains/test_drain_bounds.py",
               "tests/drains/test_drain_parsing.py")
DRAIN_FUNCTIONS = ("parse_batch", "_integer", "_project", "status_class", "parse_log_event", "parse_vital_event",
                   "_signature", "parse_trace_export", "_attributes", "_nanos", "parse_trace_span", "_bounded_route")

MODULES: tuple[Module, ...] = (
    Module("ratelimit", "exporters/core/ratelimit.py", ("tests/unit/test_ratelimit.py",)),
    Module("billing", "exporters/costs/billing.py", ("tests/costs/test_forecast_cycles.py", "tests/unit/test_cost_model.py")),
    Module("forecast", "exporters/costs/forecast.py", ("tests/costs/test_forecast_cycles.py", "tests/unit/test_cost_model.py")),
    Module("ledger", "exporters/costs/ledger.py", ("tests/unit/test_cost_model.py", "tests/costs/test_forecast_cycles.py")),
    Module("prices", "exporters/costs/prices.py", ("tests/costs/test_price_tables.py",)),
    # The drain module in two parts: its functions (signature header, bodies, events: seconds a
    # mutant), and the whole file with the receiver (a mutant that stalls a read waits for its timeout).
    Module("drains-parsing", "exporters/providers/vercel/drains.py", DRAIN_TESTS,
           tuple(f"exporters.providers.vercel.drains.x_{f}__mutmut_*" for f in DRAIN_FUNCTIONS), by_default=False),
    Module("drains", "exporters/providers/vercel/drains.py", DRAIN_TESTS),
    Module("config", "exporters/core/config.py", ("tests/unit/test_config_ranges.py", "tests/unit/test_config.py",
                                                "tests/unit/test_config_files.py")),
    # Not alerting/rules.py: its alerts are built when the module is imported, before mutmut's workers
    # choose a mutant, so mutmut cannot switch them ("Unable to force test failures"). Its rules are
    # held by promtool unit tests at and either side of every threshold (tests/alerting/
    # test_promtool_rules.py, where CpuUtilizationHigh's `>` turned into `>=` fails a boundary case).
    Module("alert-render", "alerting/render.py", ("tests/alerting/test_alert_definitions.py", "tests/alerting/test_grafana_models.py",
                                                  "tests/alerting/test_render_channels.py")),
)


def mutmut_table(module: Module) -> str:
    """The repository's [tool.mutmut] settings plus this module's file and tests, as TOML."""
    shared = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["mutmut"]
    linked = sorted(p.name for p in ROOT.iterdir() if p.name not in NOT_LINKED and p.name not in shared["source_paths"])
    table = {
        **shared,
        "only_mutate": [module.path],
        "pytest_add_cli_args_test_selection": list(module.tests),
        "also_copy": linked,
    }
    lines = ["[tool.mutmut]"] + [f"{key} = {json.dumps(value)}" for key, value in table.items()]
    return "\n".join(lines) + "\n"


def prepare(module: Module, resume: bool = False) -> Path:
    work = WORK / module.name
    if work.exists() and not resume:
        shutil.rmtree(work)
    work.mkdir(parents=True, exist_ok=True)
    for entry in ROOT.iterdir():
        if entry.name in NOT_LINKED:
            continue
        link = work / entry.name
        if not link.is_symlink():
            link.symlink_to(entry)
    pyproject = (ROOT / "pyproject.toml").read_text()
    without = re.sub(r"(?ms)^\[tool\.mutmut\]\n.*?(?=^\[|\Z)", "", pyproject)
    (work / "pyproject.toml").write_text(without.rstrip() + "\n\n" + mutmut_table(module))
    return work


def equivalents() -> dict[str, str]:
    """mutant name → why it cannot change behaviour (tools/mutation-equivalents.txt)."""
    found: dict[str, str] = {}
    if EQUIVALENTS.exists():
        for line in EQUIVALENTS.read_text().splitlines():
            if line.strip() and not line.startswith("#"):
                name, _, reason = line.partition(" ")
                found[name] = reason.strip()
    return found


def run(module: Module, mutmut: str, resume: bool = False) -> dict[str, object]:
    work = prepare(module, resume)
    env = {**os.environ, "PYTHONDONTWRITEBYTECODE": "1"}
    started = time.monotonic()
    subprocess.run([mutmut, "run", "--max-children", "1", *module.mutants], cwd=work, env=env, check=False)
    seconds = time.monotonic() - started
    listing = subprocess.run([mutmut, "results", "--all", "true"], cwd=work, env=env, capture_output=True, text=True)
    status: dict[str, str] = {}
    for line in listing.stdout.splitlines():
        name, sep, state = line.strip().partition(": ")
        if sep and (not module.mutants or any(fnmatch.fnmatch(name, glob) for glob in module.mutants)):
            status[name] = state.strip()
    explained = equivalents()
    survivors = sorted(n for n, s in status.items() if s in ("survived", "no tests"))
    return {
        "module": module.name,
        "path": module.path,
        "mutants": len(status),
        "killed": sum(1 for s in status.values() if s in ("killed", "timeout", "segfault")),
        "survived": len(survivors),
        "equivalent": sum(1 for n in survivors if n in explained),
        "unexplained": [n for n in survivors if n not in explained],
        "not_checked": sum(1 for s in status.values() if s == "not checked"),
        "other": sorted({s for s in status.values()} - {"killed", "timeout", "segfault", "survived", "no tests",
                                                         "not checked"}),
        "seconds": round(seconds),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("modules", nargs="*", help="module names (default: all)")
    parser.add_argument("--list", action="store_true", help="list the modules and their tests")
    parser.add_argument("--resume", action="store_true", help="continue an interrupted run of the modules")
    args = parser.parse_args()
    by_name = {m.name: m for m in MODULES}
    if args.list:
        for m in MODULES:
            print(f"{m.name:14} {m.path:42} {' '.join(m.tests)}")
        return 0
    unknown = [n for n in args.modules if n not in by_name]
    if unknown:
        print(f"unknown module(s) {', '.join(unknown)}; known: {', '.join(by_name)}", file=sys.stderr)
        return 2
    mutmut = str(Path(sys.executable).with_name("mutmut"))
    chosen = args.modules or [m.name for m in MODULES if m.by_default]
    results = [run(by_name[n], mutmut, args.resume) for n in chosen]
    print(f"\n{'module':14} {'mutants':>7} {'killed':>6} {'survived':>8} {'equivalent':>10} {'score':>6} {'seconds':>7}")
    for r in results:
        checked = r["mutants"] - r["not_checked"]
        score = 100 * (r["killed"] + r["equivalent"]) / checked if checked else 0.0
        print(f"{r['module']:14} {r['mutants']:>7} {r['killed']:>6} {r['survived']:>8} {r['equivalent']:>10} {score:>5.1f}% {r['seconds']:>7}")
        for name in r["unexplained"]:
            print(f"    unexplained survivor: {name}")
        if r["not_checked"]:
            print(f"    not checked (run interrupted): {r['not_checked']}; `--resume {r['module']}` continues it")
        if r["other"]:
            print(f"    other states: {', '.join(r['other'])}")
    return 1 if any(r["unexplained"] for r in results) else 0


if __name__ == "__main__":
    sys.exit(main())
