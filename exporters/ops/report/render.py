"""The report as a table, Markdown, JSON or an HTML page with charts (charts.py)."""

from __future__ import annotations

import html
import json
from dataclasses import asdict
from pathlib import Path

from exporters.ops.report.build import Report


def _money(usd: float | None) -> str:
    return "—" if usd is None else f"${usd:,.2f}"


def _pct(x: float | None) -> str:
    return "—" if x is None else f"{x:+.0%}"


def _sections(report: Report) -> list[tuple[str, list[str], list[list[str]]]]:
    a = report.analytics
    return [
        ("Spend by provider", ["provider", "spend", "share", "trend (2nd half vs 1st)"],
         [[p, _money(v), f"{v / a.total_usd:.0%}" if a.total_usd else "—", _pct(a.trend.get(p))]
          for p, v in a.by_provider.items()]),
        ("Spend by service", ["provider/service", "spend"], [[k, _money(v)] for k, v in a.by_service.items()]),
        ("Spend by model", ["model", "spend"], [[k, _money(v)] for k, v in a.by_model.items()]),
        ("Spend by day", ["day", "spend"], [[d.isoformat(), _money(v)] for d, v in a.by_day.items()]),
        ("Unit economics", ["measure", "cost"],
         [["per 1,000 requests (Vercel + Render + Supabase spend)", _money(a.per_1k_requests)],
          ["per page parsed (LlamaCloud)", _money(a.per_page)],
          ["per 1M tokens (OpenAI)", _money(a.per_1m_tokens)]]),
        ("Top drivers", ["cost line", "spend"], [[k, _money(v)] for k, v in a.top_drivers]),
        ("Recommendations", ["saving/month", "confidence", "provider", "resource", "action", "evidence", "series", "window"],
         [[_money(r.monthly_savings_usd), r.confidence, r.provider, r.resource, r.action, r.evidence, r.series, r.window]
          for r in report.recommendations]),
    ]


def coverage_line(report: Report) -> str:
    """How much of the window each provider's data covers, and what that held back."""
    shares = ", ".join(f"{p} {share:.0%}" for p, share in sorted(report.coverage.items())) or "no data"
    line = f"coverage of the {report.days}-day window: {shares}"
    if report.withheld:
        held = ", ".join(f"{n} for {p}" for p, n in sorted(report.withheld.items()))
        line += (f"; recommendations need {report.min_coverage:.0%} of the window and are withheld ({held}): "
                 f"wait for more data, or use a shorter --days")
    return line


def _header(report: Report) -> str:
    return (f"stackwatch report: last {report.days} d ({report.days_with_data} d with cost data), generated "
            f"{report.generated_at}; total {_money(report.analytics.total_usd)}; recommended savings "
            f"{_money(report.total_savings_usd)}/month\n{coverage_line(report)}")


def table(report: Report) -> str:
    out = [_header(report), ""]
    for title, head, rows in _sections(report):
        out.append(title)
        if not rows:
            out += ["  (none)", ""]
            continue
        widths = [min(60, max(len(h), *(len(r[i]) for r in rows))) for i, h in enumerate(head)]
        out.append("  " + "  ".join(h.ljust(w) for h, w in zip(head, widths, strict=True)))
        for row in rows:
            out.append("  " + "  ".join(c[:60].ljust(w) for c, w in zip(row, widths, strict=True)))
        out.append("")
    return "\n".join(out)


def markdown(report: Report) -> str:
    out = ["# stackwatch report", "", _header(report), ""]
    for title, head, rows in _sections(report):
        out += [f"## {title}", ""]
        if not rows:
            out += ["(none)", ""]
            continue
        out += ["| " + " | ".join(head) + " |", "|" + "---|" * len(head)]
        out += ["| " + " | ".join(c.replace("|", "\\|") for c in row) + " |" for row in rows]
        out.append("")
    return "\n".join(out)


def as_json(report: Report) -> str:
    a = report.analytics
    data = {"days": report.days, "generated_at": report.generated_at, "days_with_data": report.days_with_data,
            "total_usd": a.total_usd, "by_provider": a.by_provider, "by_service": a.by_service,
            "by_model": a.by_model, "by_day": {d.isoformat(): v for d, v in a.by_day.items()}, "trend": a.trend,
            "unit_economics": {"per_1k_requests_usd": a.per_1k_requests, "per_page_usd": a.per_page,
                               "per_1m_tokens_usd": a.per_1m_tokens},
            "top_drivers": [{"line": k, "usd": v} for k, v in a.top_drivers],
            "coverage": report.coverage, "min_coverage": report.min_coverage,
            "recommendations_withheld": report.withheld,
            "recommendations": [asdict(r) for r in report.recommendations],
            "total_savings_monthly_usd": report.total_savings_usd}
    return json.dumps(data, indent=2) + "\n"


def html_page(report: Report, charts: list[str]) -> str:
    parts = ["<!doctype html><html lang=en><head><meta charset=utf-8><title>stackwatch report</title>",
             "<style>body{font-family:sans-serif;margin:2em;background:#fff;color:#222}"
             "table{border-collapse:collapse;margin-bottom:1.5em}td,th{border:1px solid #bbb;padding:4px 8px;"
             "text-align:left;vertical-align:top}th{background:#e8eef7}img{max-width:900px;display:block;"
             "margin-bottom:1em}</style></head><body>",
             "<h1>stackwatch report</h1>", f"<p>{html.escape(_header(report))}</p>"]
    parts += [f'<img src="{html.escape(name)}" alt="{html.escape(name)}">' for name in charts]
    for title, head, rows in _sections(report):
        parts.append(f"<h2>{html.escape(title)}</h2>")
        if not rows:
            parts.append("<p>(none)</p>")
            continue
        parts.append("<table><tr>" + "".join(f"<th>{html.escape(h)}</th>" for h in head) + "</tr>")
        parts += ["<tr>" + "".join(f"<td>{html.escape(c)}</td>" for c in row) + "</tr>" for row in rows]
        parts.append("</table>")
    parts.append("</body></html>\n")
    return "".join(parts)


def write_html(report: Report, directory: Path) -> Path:
    from exporters.ops.report.charts import draw

    directory.mkdir(parents=True, exist_ok=True)
    charts = draw(report, directory)
    page = directory / "report.html"
    page.write_text(html_page(report, charts), encoding="utf-8")
    return page


RENDERERS = {"table": table, "markdown": markdown, "json": as_json}
