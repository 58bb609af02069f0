"""`stackwatch report`: inputs checked here, so a bad one is exit 2 with its name."""

from __future__ import annotations

import sys
import time
from datetime import datetime, timezone
from pathlib import Path

from exporters.ops.report.build import DEFAULT_MIN_COVERAGE, build
from exporters.ops.report.collect import collect
from exporters.ops.report.render import RENDERERS, write_html
from exporters.ops.validate.prom import Prometheus, PrometheusUnreachable

MAX_DAYS = 90


def _bad(message: str) -> int:
    print(f"stackwatch report: {message}", file=sys.stderr)
    return 2


def run_report(days: int, fmt: str, prometheus_url: str, output: Path | None, push: bool, environment: str,
               min_coverage: float = DEFAULT_MIN_COVERAGE) -> int:
    if not 1 <= days <= MAX_DAYS:
        return _bad(f"--days {days}: expected 1 to {MAX_DAYS}")
    if not 0 <= min_coverage <= 1:
        return _bad(f"--min-coverage {min_coverage}: expected a share from 0 to 1")
    if fmt == "html" and output is None:
        return _bad("--format html needs --output DIR (the page and its chart files)")
    now = time.time()
    try:
        inputs = collect(Prometheus(prometheus_url), days, now)
    except PrometheusUnreachable as error:
        return _bad(f"{error} (--prometheus)")
    report = build(inputs, datetime.fromtimestamp(now, timezone.utc).isoformat(timespec="seconds"), min_coverage)
    if fmt == "html":
        assert output is not None
        page = write_html(report, output)
        print(f"report written to {page}", file=sys.stderr)
    else:
        text = RENDERERS[fmt](report)
        if output is not None:
            output.mkdir(parents=True, exist_ok=True)
            path = output / f"report.{ {'table': 'txt', 'markdown': 'md', 'json': 'json'}[fmt] }"
            path.write_text(text, encoding="utf-8")
            print(f"report written to {path}", file=sys.stderr)
        else:
            sys.stdout.write(text)
    if push:
        from exporters.ops.report.push import PushNotConfigured
        from exporters.ops.report.push import push as push_recommendations

        try:
            count = push_recommendations(report.recommendations, environment)
        except PushNotConfigured as error:
            return _bad(str(error))
        print(f"{count} recommendations pushed as stackwatch_recommendation_savings_monthly_usd", file=sys.stderr)
    return 0
