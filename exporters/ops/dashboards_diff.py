"""`stackwatch dashboards diff --base <ref> [--head <ref>]`: what a change does to the boards, the
recording and alert rules and the alert routing, for a pull request's reviewer.

Both sides are generated from their own sources, never read from committed output that may be stale:
each side (a git revision, or the working tree for the head) is extracted into a temporary directory,
the generators of that side run there (every `python -m <module> …` line of its Makefile's `generate`
target, with that side's code first on the import path), and the generated files are found by their
structure (exporters.ops.semantic_diff.kind_of) and compared by meaning. The head must be generated already:
when its committed generated files differ from what its sources generate, the diff refuses (exit 2)
rather than describe files that are not what will ship. The base is described as its sources generate
it, with a note when its committed files were stale.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
from pathlib import Path

import yaml

from .semantic_diff import Generated, kind_of, report

GIT_TIMEOUT_S = 60
GENERATE_TIMEOUT_S = 300
MAX_TREE_BYTES = 200_000_000  # an extracted revision: the repository without its .git
MAX_FILE_BYTES = 5_000_000  # a generated file read for comparison
# Not where generated output lives: tests' fixtures, benchmarks' inputs, docs, environments.
SKIP_DIRS = {".git", ".venv", "venv", "node_modules", "__pycache__", ".pytest_cache", ".ruff_cache", "tests",
             "benchmarks", "docs", "build", "dist"}


class DiffError(RuntimeError):
    """A revision could not be read or generated, or the head is stale (the message says which and why)."""


# --- the two sides ---

def _git(repo: Path, *args: str, binary: bool = False) -> str | bytes:
    try:
        result = subprocess.run(["git", *args], cwd=repo, capture_output=True, timeout=GIT_TIMEOUT_S)
    except (OSError, subprocess.TimeoutExpired) as error:
        raise DiffError(f"git {' '.join(args)}: {error}") from None
    if result.returncode != 0:
        raise DiffError(f"git {' '.join(args)}: {result.stderr.decode(errors='replace').strip()}")
    return result.stdout if binary else result.stdout.decode()


def extract(repo: Path, ref: str | None, into: Path) -> None:
    """The files of revision `ref` (None: the working tree, tracked and untracked but not ignored) in `into`."""
    into.mkdir(parents=True, exist_ok=True)
    if ref is None:
        total = 0
        for name in str(_git(repo, "ls-files", "-z", "--cached", "--others", "--exclude-standard")).split("\0"):
            source = repo / name
            if not name or not source.is_file():
                continue
            total += source.stat().st_size
            if total > MAX_TREE_BYTES:
                raise DiffError(f"the working tree is larger than {MAX_TREE_BYTES} bytes")
            (into / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, into / name)
        return
    _git(repo, "rev-parse", "--verify", "--quiet", f"{ref}^{{commit}}")
    archive = _git(repo, "archive", "--format=tar", ref, binary=True)
    assert isinstance(archive, bytes)
    if len(archive) > MAX_TREE_BYTES:
        raise DiffError(f"{ref}: the revision is larger than {MAX_TREE_BYTES} bytes")
    with tarfile.open(fileobj=io.BytesIO(archive)) as tar:
        # The "data" filter (no absolute paths, links out of the tree or device files) exists from 3.11.4.
        tar.extractall(into, **({"filter": "data"} if hasattr(tarfile, "data_filter") else {}))


def generators(tree: Path) -> list[list[str]]:
    """The `<python> -m <module> [args]` commands of the Makefile's `generate` target, as [module, *args]
    (other commands of the target, such as `stackwatch catalogue`, write no dashboards, rules or routing)."""
    makefile = tree / "Makefile"
    if not makefile.exists():
        raise DiffError(f"{makefile.name} not found: no `generate` target to run")
    commands, inside = [], False
    for line in makefile.read_text(encoding="utf-8").splitlines():
        if re.match(r"^generate\s*:", line):
            inside = True
            continue
        if inside and not line.startswith("\t"):
            if line.strip() and not line.lstrip().startswith("#"):
                break
            continue
        if inside:
            match = re.search(r"(?:^|\s)-m\s+([A-Za-z_][\w.]*)(.*)$", line.strip())
            if match:
                commands.append([match.group(1), *match.group(2).split()])
    if not commands:
        raise DiffError("the Makefile's `generate` target runs no `python -m` generator")
    return commands


def _fingerprints(tree: Path) -> dict[str, str]:
    return {str(p.relative_to(tree)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in tree.rglob("*") if p.is_file() and "__pycache__" not in p.parts}


def generate(tree: Path, side: str) -> list[str]:
    """Run `tree`'s generators in it; returns the files whose committed content they changed (stale)."""
    before = _fingerprints(tree)
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(tree), os.environ.get("PYTHONPATH", "")]).rstrip(
        os.pathsep), "PYTHONDONTWRITEBYTECODE": "1"}
    for module, *args in generators(tree):
        try:
            result = subprocess.run([sys.executable, "-m", module, *args], cwd=tree, env=env, capture_output=True,
                                    text=True, timeout=GENERATE_TIMEOUT_S)
        except subprocess.TimeoutExpired:
            raise DiffError(f"{side}: `python -m {module}` ran over {GENERATE_TIMEOUT_S} s") from None
        if result.returncode != 0:
            raise DiffError(f"{side}: `python -m {module}` failed:\n{(result.stdout + result.stderr)[-2000:]}")
    after = _fingerprints(tree)
    return sorted(path for path in before.keys() | after.keys() if before.get(path) != after.get(path))


def _parse(path: Path) -> object:
    if path.stat().st_size > MAX_FILE_BYTES:
        return None
    text = path.read_text(encoding="utf-8", errors="replace")
    try:
        return json.loads(text) if path.suffix == ".json" else yaml.safe_load(text)
    except (json.JSONDecodeError, yaml.YAMLError):
        return None


def collect(tree: Path) -> Generated:
    """Every dashboard, rule file, Alertmanager config and Grafana alerting file in `tree`, by its kind."""
    found = Generated()
    for path in sorted(tree.rglob("*")):
        relative = path.relative_to(tree)
        if not path.is_file() or path.suffix not in (".json", ".yaml", ".yml") or SKIP_DIRS & set(relative.parts):
            continue
        document = _parse(path)
        kind = kind_of(document)
        if kind is not None:
            found.files[kind][str(relative)] = document
    return found


def side(repo: Path, ref: str | None, work: Path, label: str) -> tuple[Generated, list[str]]:
    tree = work / label
    extract(repo, ref, tree)
    stale = generate(tree, label)
    return collect(tree), stale


def diff_against(repo: Path, base: str, head: str | None = None) -> str:
    """Markdown: what changed from `base` to `head` (None: the working tree)."""
    head_name = f"`{head}`" if head else "the working tree"
    work = Path(tempfile.mkdtemp(prefix="stackwatch-diff-"))
    try:
        new, stale_head = side(repo, head, work, "head")
        if stale_head:
            raise DiffError(f"the committed generated files of {head_name} differ from what its sources generate "
                            f"({', '.join(stale_head[:10])}{' …' if len(stale_head) > 10 else ''}): run "
                            "`make generate` and commit them, then diff again")
        old, stale_base = side(repo, base, work, "base")
        notes = [f"At `{base}` the committed generated files differed from their sources "
                 f"({', '.join(stale_base[:5])}{' …' if len(stale_base) > 5 else ''}): compared with what the "
                 "sources there generate."] if stale_base else []
        return report(old, new, base=base, head=head_name, notes=notes)
    finally:
        shutil.rmtree(work, ignore_errors=True)
