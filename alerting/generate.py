"""`python -m alerting.generate [--output DIR]`: write the reference rendering (make generate).

It renders alerting/example.env's settings (every channel set, example values) into alerting/
(prometheus/, alertmanager/, grafana/), so a pull request shows what a change does to the rules,
the routing tree and Grafana's form. What runs is rendered from the operator's environment at the
stack's start (`stackwatch alerts render`).
"""

from __future__ import annotations

import argparse
from pathlib import Path

from .channels import settings_or_raise
from .envfile import read_env_file
from .files import render_files, write

ROOT = Path(__file__).resolve().parent
EXAMPLE_ENV = ROOT / "example.env"


def reference_files() -> dict[str, str]:
    return render_files(settings_or_raise(read_env_file(EXAMPLE_ENV)))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--output", type=Path, default=ROOT, help="directory holding prometheus/, alertmanager/, grafana/")
    args = parser.parse_args(argv)
    write(reference_files(), args.output)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
