"""Install the native test stack's pinned binaries into a cache outside the repository.

The versions come from docker-compose.yml (one source of truth): the collector
is built with the OpenTelemetry Collector Builder from tools/builder-config.yaml
at the otel/opentelemetry-collector-contrib image's version; Prometheus and
promtool are built from the Go module proxy at the prom/prometheus image's
version; Alertmanager and amtool are built from the Go module proxy at the
prom/alertmanager image's version (its web UI is not in the module: a placeholder
page stands in, see docs/stack.md); blackbox_exporter and docker-compose come from Debian
(tools/install-system-packages.sh; blackbox_exporter is not on the Go module
proxy), and blackbox_exporter's version must equal the prom/blackbox-exporter
image's.

Builds are cached in ${STACKWATCH_TOOLS_DIR:-~/.cache/stackwatch/tools}, keyed
by version (and, for the collector, by the builder manifest's hash), so a
second run, or a fresh clone on the same CI runner, skips them in seconds.

    python tools/install_tools.py            # install what is missing, print the paths
    python tools/install_tools.py --check    # only report; exit 1 when something is missing

Imported by tests/stack/conftest.py for the paths (no installs happen there).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
BUILDER_CONFIG = REPO / "tools" / "builder-config.yaml"

COLLECTOR_IMAGE = "otel/opentelemetry-collector-contrib"
PROMETHEUS_IMAGE = "prom/prometheus"
BLACKBOX_IMAGE = "prom/blackbox-exporter"
ALERTMANAGER_IMAGE = "prom/alertmanager"

COLLECTOR_BUILDER_MODULE = "go.opentelemetry.io/collector/cmd/builder"
PROMETHEUS_MODULE = "github.com/prometheus/prometheus"
ALERTMANAGER_MODULE = "github.com/prometheus/alertmanager"
BLACKBOX_DEBIAN = ("prometheus-blackbox-exporter", "/usr/bin/prometheus-blackbox-exporter")
DOCKER_COMPOSE_DEBIAN = ("docker-compose", "/usr/bin/docker-compose")


class ToolError(RuntimeError):
    """A tool could not be found, built or installed (the message says what to do)."""


@dataclass(frozen=True)
class Versions:
    collector: str  # "0.162.0"
    prometheus: str  # "3.15.0"
    blackbox: str  # "0.23.0"
    alertmanager: str  # "0.35.0"


@dataclass(frozen=True)
class ToolPaths:
    otelcol: Path
    prometheus: Path
    promtool: Path
    blackbox_exporter: Path
    docker_compose: Path
    alertmanager: Path
    amtool: Path

    def missing(self) -> list[str]:
        return [name for name, path in vars(self).items() if not _is_executable(path)]


# --- versions, from docker-compose.yml ---

def image_tags(compose_file: Path = COMPOSE_FILE) -> dict[str, str]:
    """image name -> tag, for every service of the compose file that names an image."""
    services = yaml.safe_load(compose_file.read_text(encoding="utf-8"))["services"]
    tags = {}
    for service in services.values():
        image = service.get("image", "")
        if ":" in image:
            name, tag = image.rsplit(":", 1)
            tags[name] = tag
    return tags


def compose_versions(compose_file: Path = COMPOSE_FILE) -> Versions:
    tags = image_tags(compose_file)
    try:
        return Versions(collector=tags[COLLECTOR_IMAGE].removeprefix("v"),
                        prometheus=tags[PROMETHEUS_IMAGE].removeprefix("v"),
                        blackbox=tags[BLACKBOX_IMAGE].removeprefix("v"),
                        alertmanager=tags[ALERTMANAGER_IMAGE].removeprefix("v"))
    except KeyError as missing:
        raise ToolError(f"{compose_file}: no image {missing} (the native stack takes its versions from it)") from None


def prometheus_module_version(version: str) -> str:
    """Prometheus 3.X.Y is published as Go module v0.3XX.Y (e.g. 3.15.0 -> v0.315.0)."""
    major, minor, patch = (int(p) for p in version.split("."))
    return f"v0.{major * 100 + minor}.{patch}"


def builder_manifest_hash(builder_config: Path = BUILDER_CONFIG) -> str:
    return hashlib.sha256(builder_config.read_bytes()).hexdigest()[:12]


# --- where things live ---

def tools_dir() -> Path:
    configured = os.environ.get("STACKWATCH_TOOLS_DIR")
    return Path(configured).expanduser() if configured else Path.home() / ".cache" / "stackwatch" / "tools"


def tool_paths(versions: Versions | None = None) -> ToolPaths:
    versions = versions or compose_versions()
    root = tools_dir()
    prometheus_dir = root / f"prometheus-{versions.prometheus}"
    alertmanager_dir = root / f"alertmanager-{versions.alertmanager}"
    return ToolPaths(
        otelcol=root / f"otelcol-{versions.collector}-{builder_manifest_hash()}" / "otelcol-stackwatch",
        prometheus=prometheus_dir / "prometheus",
        promtool=prometheus_dir / "promtool",
        blackbox_exporter=Path(os.environ.get("STACKWATCH_BLACKBOX_EXPORTER", BLACKBOX_DEBIAN[1])),
        docker_compose=Path(shutil.which("docker-compose") or DOCKER_COMPOSE_DEBIAN[1]),
        alertmanager=alertmanager_dir / "alertmanager",
        amtool=alertmanager_dir / "amtool",
    )


def _is_executable(path: Path) -> bool:
    return path.is_file() and os.access(path, os.X_OK)


# --- installers ---

def _run(cmd: list[str], *, cwd: Path | None = None, env: dict[str, str] | None = None) -> str:
    print("+", " ".join(cmd), flush=True)
    done = subprocess.run(cmd, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise ToolError(f"{' '.join(cmd)} failed ({done.returncode}):\n{done.stdout[-2000:]}{done.stderr[-4000:]}")
    return done.stdout


def _go() -> str:
    go = shutil.which("go") or ("/usr/local/go/bin/go" if Path("/usr/local/go/bin/go").exists() else None)
    if go is None:
        raise ToolError("Go is needed to build the collector and Prometheus (https://go.dev/dl/)")
    return go


def _go_env() -> dict[str, str]:
    # GOWORK=off: a go.work above the build directory must not take over the build.
    return {**os.environ, "GOWORK": "off", "CGO_ENABLED": "0", "GOFLAGS": "-buildvcs=false"}


def ensure_builder(version: str) -> Path:
    builder = tools_dir() / f"builder-{version}" / "builder"
    if _is_executable(builder):
        return builder
    builder.parent.mkdir(parents=True, exist_ok=True)
    _run([_go(), "install", f"{COLLECTOR_BUILDER_MODULE}@v{version}"],
         env={**_go_env(), "GOBIN": str(builder.parent)})
    return builder


def ensure_collector(paths: ToolPaths, versions: Versions) -> None:
    if _is_executable(paths.otelcol):
        return
    manifest = yaml.safe_load(BUILDER_CONFIG.read_text(encoding="utf-8"))
    if manifest["dist"]["version"] != versions.collector:
        raise ToolError(f"{BUILDER_CONFIG}: dist.version {manifest['dist']['version']} differs from the "
                        f"compose image {COLLECTOR_IMAGE}:{versions.collector}")
    builder = ensure_builder(versions.collector)
    with tempfile.TemporaryDirectory(prefix="otelcol-build-") as work:
        manifest["dist"]["output_path"] = str(Path(work) / "out")
        config = Path(work) / "builder-config.yaml"
        config.write_text(yaml.safe_dump(manifest, sort_keys=False), encoding="utf-8")
        _run([str(builder), f"--config={config}"], env=_go_env())
        built = Path(work) / "out" / manifest["dist"]["name"]
        _install_file(built, paths.otelcol)


def ensure_prometheus(paths: ToolPaths, versions: Versions) -> None:
    if _is_executable(paths.prometheus) and _is_executable(paths.promtool):
        return
    module = f"{PROMETHEUS_MODULE}@{prometheus_module_version(versions.prometheus)}"
    info = json.loads(_run([_go(), "mod", "download", "-json", module], env=_go_env()))
    if info.get("Error"):
        raise ToolError(f"go mod download {module}: {info['Error']}")
    with tempfile.TemporaryDirectory(prefix="prometheus-build-") as work:
        # The module cache is read-only, and `go install pkg@version` refuses a go.mod
        # with replace directives: build from a writable copy of the module instead.
        source = Path(work) / "src"
        shutil.copytree(info["Dir"], source)
        subprocess.run(["chmod", "-R", "u+w", str(source)], check=True)
        out = Path(work) / "bin"
        ldflags = f"-X github.com/prometheus/common/version.Version={versions.prometheus}"
        # -trimpath: the temporary source path stays out of the build cache keys and the binary.
        _run([_go(), "build", "-trimpath", "-ldflags", ldflags, "-o", str(out) + "/", "./cmd/prometheus", "./cmd/promtool"],
             cwd=source, env=_go_env())
        _install_file(out / "prometheus", paths.prometheus)
        _install_file(out / "promtool", paths.promtool)


# The module has the web UI's sources, not its build (ui/app/dist, which `go:embed` needs): a
# placeholder page stands in. Grafana is the stack's UI for alerts and silences; the API is whole.
UI_PLACEHOLDER = ("<!doctype html><title>Alertmanager</title><p>This Alertmanager was built from the Go module "
                  "without its web UI: use Grafana (Alerting) or the API at /api/v2/.</p>\n")


def ensure_alertmanager(paths: ToolPaths, versions: Versions) -> None:
    if _is_executable(paths.alertmanager) and _is_executable(paths.amtool):
        return
    module = f"{ALERTMANAGER_MODULE}@v{versions.alertmanager}"
    info = json.loads(_run([_go(), "mod", "download", "-json", module], env=_go_env()))
    if info.get("Error"):
        raise ToolError(f"go mod download {module}: {info['Error']}")
    with tempfile.TemporaryDirectory(prefix="alertmanager-build-") as work:
        source = Path(work) / "src"
        shutil.copytree(info["Dir"], source)
        subprocess.run(["chmod", "-R", "u+w", str(source)], check=True)
        for ui in ("elm", "mantine"):
            (source / "ui" / "app" / "dist" / ui).mkdir(parents=True, exist_ok=True)
            (source / "ui" / "app" / "dist" / ui / "index.html").write_text(UI_PLACEHOLDER)
        out = Path(work) / "bin"
        ldflags = f"-X github.com/prometheus/common/version.Version={versions.alertmanager}"
        _run([_go(), "build", "-trimpath", "-tags", "netgo", "-ldflags", ldflags, "-o", str(out) + "/",
              "./cmd/alertmanager", "./cmd/amtool"], cwd=source, env=_go_env())
        _install_file(out / "alertmanager", paths.alertmanager)
        _install_file(out / "amtool", paths.amtool)


def _install_file(built: Path, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    partial = target.with_name(target.name + ".partial")
    shutil.copy2(built, partial)
    partial.chmod(0o755)
    partial.replace(target)  # atomic: a half-copied binary never looks installed


def require_debian_binary(package: str, binary: Path) -> None:
    # Installed by tools/install-system-packages.sh (`make system-packages`), which runs first.
    if not _is_executable(binary):
        raise ToolError(f"{binary} is missing: run tools/install-system-packages.sh "
                        f"(Debian package {package}) or set the path")


def blackbox_version(binary: Path) -> str:
    done = subprocess.run([str(binary), "--version"], capture_output=True, text=True)
    match = re.search(r"version (\d+\.\d+\.\d+)", done.stdout + done.stderr)
    return match.group(1) if match else "unknown"


def check_blackbox_version(paths: ToolPaths, versions: Versions) -> None:
    found = blackbox_version(paths.blackbox_exporter)
    if found != versions.blackbox:
        raise ToolError(f"{paths.blackbox_exporter} is blackbox_exporter {found}; docker-compose.yml pins "
                        f"{BLACKBOX_IMAGE}:v{versions.blackbox}. Install that version or change the pin.")


def install_all() -> ToolPaths:
    versions = compose_versions()
    paths = tool_paths(versions)
    require_debian_binary(DOCKER_COMPOSE_DEBIAN[0], paths.docker_compose)
    require_debian_binary(BLACKBOX_DEBIAN[0], paths.blackbox_exporter)
    check_blackbox_version(paths, versions)
    ensure_prometheus(paths, versions)
    ensure_alertmanager(paths, versions)
    ensure_collector(paths, versions)
    return paths


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--check", action="store_true", help="only report; exit 1 when a tool is missing")
    args = parser.parse_args(argv)
    try:
        paths = tool_paths() if args.check else install_all()
    except ToolError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    for name, path in vars(paths).items():
        print(f"{name:18} {path}{'' if _is_executable(path) else '  (missing)'}")
    return 1 if paths.missing() else 0


if __name__ == "__main__":
    sys.exit(main())
