"""Write every board to grafana/provisioning/dashboards/<uid>.json (what `make generate` runs).

    python -m grafana.generate [--output DIR]

Output is byte-stable: keys sorted, two-space indent, one trailing newline. Files of
boards that no longer exist are removed (only *.json; the provider file stays).
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

from grafana.dashboards import boards
from grafana.dashboards.common import Board, grafanalib_json, panel_extras
from grafana.normalise import normalise

REPO = Path(__file__).resolve().parent.parent
OUTPUT = REPO / "grafana" / "provisioning" / "dashboards"


def render(board: Board) -> dict:
    dashboard = normalise(grafanalib_json(board), panel_extras(board))
    # grafanalib's Template has no description; the board's variables do.
    for variable, spec in zip(dashboard["templating"]["list"], board.variables, strict=True):
        variable["description"] = spec.description
    return dashboard


def dumps(dashboard: dict) -> str:
    return json.dumps(dashboard, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def rendered() -> dict[str, str]:
    """{file name: JSON text} for every board."""
    out: dict[str, str] = {}
    for board in boards():
        name = f"{board.uid}.json"
        if name in out:
            raise ValueError(f"two boards share the uid {board.uid!r}")
        out[name] = dumps(render(board))
    return out


def write(output: Path) -> list[Path]:
    files = rendered()
    output.mkdir(parents=True, exist_ok=True)
    for stale in sorted(output.glob("*.json")):
        if stale.name not in files:
            stale.unlink()
    written = []
    for name, text in files.items():
        path = output / name
        if not path.exists() or path.read_text() != text:
            path.write_text(text)
        written.append(path)
    return written


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Generate the provisioned Grafana dashboards.")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    written = write(args.output)
    print(f"wrote {len(written)} dashboards to {args.output}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
