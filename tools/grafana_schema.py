"""Regenerate the Grafana dashboard JSON Schema the dashboard tests validate against.

Grafana publishes its dashboard and panel types as TypeScript in `@grafana/schema`
(npm), generated from its CUE kinds. `ts-json-schema-generator` (npm) turns them
into draft-07 JSON Schema. Both are installed into a cache outside the repository
(${STACKWATCH_NPM_CACHE:-~/.cache/stackwatch/npm}); the result is written into the
repository as versioned test data, so `make test` needs no npm:

    tests/dashboards/schema/grafana-<version>.schema.json
        {"grafana_version", "generated_by", "dashboard": <Dashboard schema>,
         "panels": {<panel type>: {"options": <schema>, "fieldConfig": <schema>}}}

`panels.<type>.options` is the schema of a panel's `options`, `fieldConfig` that of
its `fieldConfig.defaults.custom` (the panel plugin's own parts, which the
dashboard schema leaves open). The Grafana version is the one docker-compose.yml
pins (grafana/grafana:<version>), so bumping the image and rerunning this script
is the whole upgrade.

    python tools/grafana_schema.py            # regenerate (needs node/npm and the npm registry)
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parent.parent
COMPOSE_FILE = REPO / "docker-compose.yml"
SCHEMA_DIR = REPO / "tests" / "dashboards" / "schema"
GENERATOR_VERSION = "2.10.0"
PANELCFG_GLOB = "dist/types/raw/composable/*/panelcfg/x/*_types.gen.d.ts"
DASHBOARD_TYPES = "dist/types/raw/dashboard/x/dashboard_types.gen.d.ts"


class SchemaError(RuntimeError):
    """The schema could not be generated (the message says why)."""


def grafana_version() -> str:
    image = yaml.safe_load(COMPOSE_FILE.read_text())["services"]["grafana"]["image"]
    match = re.fullmatch(r"grafana/grafana(?:-oss)?:(\d+\.\d+\.\d+)", image)
    if not match:
        raise SchemaError(f"{COMPOSE_FILE}: services.grafana.image {image!r} is not grafana/grafana:<x.y.z>")
    return match.group(1)


def schema_path(version: str) -> Path:
    return SCHEMA_DIR / f"grafana-{version}.schema.json"


def npm_cache() -> Path:
    return Path(os.environ.get("STACKWATCH_NPM_CACHE", Path.home() / ".cache" / "stackwatch" / "npm"))


def install(version: str) -> Path:
    """npm-install @grafana/schema@version and the generator into the cache (skipped when present)."""
    prefix = npm_cache() / f"grafana-schema-{version}-tsjsg-{GENERATOR_VERSION}"
    package = prefix / "node_modules" / "@grafana" / "schema" / "package.json"
    generator = prefix / "node_modules" / "ts-json-schema-generator" / "package.json"
    if package.exists() and generator.exists():
        return prefix
    prefix.mkdir(parents=True, exist_ok=True)
    command = ["npm", "install", "--prefix", str(prefix), "--no-save", "--no-audit", "--no-fund",
               "--loglevel=error", f"@grafana/schema@{version}", f"ts-json-schema-generator@{GENERATOR_VERSION}"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=600)
    if result.returncode != 0:
        raise SchemaError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return prefix


def generate_type(prefix: Path, types_file: Path, type_name: str) -> dict:
    binary = prefix / "node_modules" / "ts-json-schema-generator" / "bin" / "ts-json-schema-generator"
    command = ["node", str(binary), "--path", str(types_file), "--type", type_name,
               "--no-type-check", "--expose", "export"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=prefix)
    if result.returncode != 0:
        raise SchemaError(f"{' '.join(command)} failed:\n{result.stderr[-2000:]}")
    return json.loads(result.stdout)


def build(version: str) -> dict:
    prefix = install(version)
    package_dir = prefix / "node_modules" / "@grafana" / "schema"
    installed = json.loads((package_dir / "package.json").read_text())["version"]
    if installed != version:
        raise SchemaError(f"installed @grafana/schema is {installed}, expected {version}")
    panels: dict[str, dict] = {}
    unavailable: dict[str, str] = {}
    for types_file in sorted(package_dir.glob(PANELCFG_GLOB)):
        panel_type = types_file.parents[2].name  # raw/composable/<panel type>/panelcfg/x/…
        declared = types_file.read_text()
        # Some panels declare only Options (no per-field custom config); take what exists.
        try:
            panels[panel_type] = {key: generate_type(prefix, types_file, type_name)
                                  for key, type_name in (("options", "Options"), ("fieldConfig", "FieldConfig"))
                                  if re.search(rf"^export (interface|type) {type_name}\b", declared, re.M)}
        except SchemaError as error:
            # e.g. geomap: the generator rejects a type declared twice. Recorded, so a
            # board using such a panel type fails its test instead of passing unchecked.
            unavailable[panel_type] = str(error).strip().splitlines()[-1]
    return {
        "grafana_version": version,
        "generated_by": (f"tools/grafana_schema.py: @grafana/schema@{version} ({DASHBOARD_TYPES}, {PANELCFG_GLOB}) "
                         f"through ts-json-schema-generator@{GENERATOR_VERSION}"),
        "dashboard": generate_type(prefix, package_dir / DASHBOARD_TYPES, "Dashboard"),
        "panels": panels,
        "unavailable_panels": unavailable,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.parse_args(argv)
    try:
        version = grafana_version()
        schema = build(version)
    except (SchemaError, subprocess.TimeoutExpired, OSError) as error:
        print(f"grafana_schema: {error}", file=sys.stderr)
        return 2
    target = schema_path(version)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(schema, indent=1, sort_keys=True) + "\n")
    print(f"wrote {target.relative_to(REPO)} ({len(schema['panels'])} panel types)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
