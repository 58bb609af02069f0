"""Static PNG charts for the HTML report (matplotlib, headless Agg backend)."""

from __future__ import annotations

from pathlib import Path

import matplotlib

matplotlib.use("Agg")  # no display: files only

import matplotlib.pyplot as plt  # noqa: E402 (after the backend is chosen)

from exporters.ops.report.build import Report  # noqa: E402


def _save(fig, path: Path) -> str:
    fig.tight_layout()
    fig.savefig(path, dpi=90)
    plt.close(fig)
    return path.name


def draw(report: Report, directory: Path) -> list[str]:
    """Writes spend-over-time, spend-by-provider and savings charts; returns their file names."""
    a = report.analytics
    names = []
    fig, ax = plt.subplots(figsize=(9, 3.2))
    days = list(a.by_day)
    ax.bar([d.isoformat() for d in days], [a.by_day[d] for d in days], color="#3b6fb6")
    ax.set_title("Spend per day (USD)")
    ax.tick_params(axis="x", labelrotation=60, labelsize=7)
    names.append(_save(fig, directory / "spend_by_day.png"))

    fig, ax = plt.subplots(figsize=(9, 3.2))
    providers = list(a.by_provider)
    ax.barh(providers or ["(no spend)"], [a.by_provider[p] for p in providers] or [0], color="#d9822b")
    ax.set_title("Spend by provider (USD)")
    names.append(_save(fig, directory / "spend_by_provider.png"))

    fig, ax = plt.subplots(figsize=(9, 3.2))
    top = [r for r in report.recommendations if r.monthly_savings_usd > 0][:8]
    ax.barh([f"{r.kind}: {r.resource}"[:40] for r in top] or ["(no savings found)"],
            [r.monthly_savings_usd for r in top] or [0], color="#2e9e5b")
    ax.set_title("Recommended savings (USD per month)")
    names.append(_save(fig, directory / "savings.png"))
    return names
