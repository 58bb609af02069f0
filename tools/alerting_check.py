"""Build (once, cached outside the repository) the Go tools of the alerting tests: the checker of
Grafana's alerting files, and promql-eval (tools/promql-eval/: Prometheus' engine on series in
promtool's notation, for the Grafana form's equivalence test).

tools/grafana-alerting-check/ decodes the generated provisioning files strictly into the
models of github.com/grafana/grafana-openapi-client-go (pinned pseudo-version in its go.mod,
fetched from the Go module proxy) and validates them. The binary is cached in
${STACKWATCH_TOOLS_DIR:-~/.cache/stackwatch/tools}/grafana-alerting-check-<hash of its sources>,
so a changed checker rebuilds and an unchanged one is reused.

    python tools/alerting_check.py            # build if missing, print the path
    python tools/alerting_check.py --check    # exit 1 when it is not built
"""

from __future__ import annotations

import hashlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

TOOLS = Path(__file__).resolve().parent
SOURCE = TOOLS / "grafana-alerting-check"
FILES = ("go.mod", "go.sum", "main.go")
PROMQL_EVAL = "promql-eval"


def tools_dir() -> Path:
    configured = os.environ.get("STACKWATCH_TOOLS_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "stackwatch" / "tools"


def source_hash(source: Path = SOURCE) -> str:
    digest = hashlib.sha256()
    for name in FILES:
        digest.update(name.encode() + b"\0" + (source / name).read_bytes())
    return digest.hexdigest()[:12]


def binary_path(source: Path = SOURCE) -> Path:
    return tools_dir() / f"{source.name}-{source_hash(source)}" / source.name


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise RuntimeError("Go is needed to build tools/grafana-alerting-check (https://go.dev/dl/)")
    return go


def ensure_promql_eval() -> Path:
    return ensure(TOOLS / PROMQL_EVAL)


def ensure(source: Path = SOURCE) -> Path:
    binary = binary_path(source)
    if binary.is_file() and os.access(binary, os.X_OK):
        return binary
    binary.parent.mkdir(parents=True, exist_ok=True)
    partial = binary.with_name(binary.name + ".partial")
    env = {**os.environ, "GOWORK": "off", "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}
    done = subprocess.run([_go(), "build", "-trimpath", "-o", str(partial), "."], cwd=source, env=env,
                          capture_output=True, text=True)
    if done.returncode != 0:
        raise RuntimeError(f"building {source} failed:\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    partial.replace(binary)  # atomic: a half-written binary never looks built
    return binary


def main(argv: list[str]) -> int:
    sources = (SOURCE, TOOLS / PROMQL_EVAL)
    if "--check" in argv:
        binaries = [binary_path(s) for s in sources]
        for binary in binaries:
            print(binary if binary.is_file() else f"{binary} (missing)")
        return 0 if all(b.is_file() for b in binaries) else 1
    try:
        for source in sources:
            print(ensure(source))
    except RuntimeError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
