"""Costs & usage: where the money goes, against budget, and whether today is unusual."""

from __future__ import annotations

from string import Template

from alerting.model import PRODUCTION
from alerting.rules import BASELINE as ALERT_BASELINE
from alerting.rules import TODAY as ALERT_TODAY

from .common import AI, COSTS, ENV, ENVIRONMENT, PROVIDER, PROVIDER_VAR, RENDER, VERCEL, Board, Panel, Query, Row
from .recordings import (
    COST_FORECAST,
    COST_MONTH_TO_DATE,
    COST_MONTH_TO_DATE_BY_MODEL,
    COST_TODAY,
    OPENAI_TOKENS,
    REQUESTS_BY_PROVIDER,
    Recording,
)

COST = f"{ENV}, {PROVIDER}"
TODAY_BY_PROVIDER = f"sum by (provider) ({COST_TODAY.record}{{{COST}}})"
_SECONDS = {"s": 1, "m": 60, "h": 3600}


def requests_last_day(recording: Recording, by: str = "provider") -> str:
    """Requests in the last 24 h from a recorded per-second rate: the sum of its samples times the rule's
    interval. Each request falls in the 5-minute windows of 5/3 evaluations 3 minutes apart and adds
    1/300 s to each: counted once, as increase(…[1d]) of the raw counters would."""
    seconds = int(recording.interval[:-1]) * _SECONDS[recording.interval[-1]]
    return f"sum by ({by}) (sum_over_time({recording.record}{{{COST}}}[1d])) * {seconds}"


def cost_last_day(providers: str) -> str:
    """Cost over the last 24 h per provider: the increase of the recorded running daily total, which
    PromQL reads as a counter reset at each UTC midnight (the drop to the new day's first value), so
    yesterday's part after this time and today's so far add up. The same window as the requests."""
    return f"sum by (provider) (increase({COST_TODAY.record}{{{COST}, provider=~\"{providers}\"}}[1d]))"


def usual_day() -> str:
    """The usual day (alerting/rules.py BASELINE at production windows: the median of the previous 14
    days' totals), over the recorded per-provider sum filtered by the board's variables instead of
    the raw cost series. At All, the same values as BASELINE's."""
    alert = Template(ALERT_BASELINE).substitute(vars(PRODUCTION.windows))
    return " ".join(alert.replace(ALERT_TODAY, TODAY_BY_PROVIDER).split())


def board() -> Board:
    trend = Row("Spend over time", [
        Panel("timeseries", "Daily cost by provider", "One bar per UTC day, drawn over its own day: the day's "
              "final cost (max of the running daily total), stacked by provider; the last bar is today so far. "
              "A bar far above its neighbours: see 'Top cost drivers' and the anomaly view below.",
              # The max of the per-provider sum equals the sum of each series' max: every series is a
              # running total of the same UTC day, so all peak at its end. A daily step is stamped at the
              # day's 00:00 and `offset -1d` reads the day that starts there (a plain [1d] would read the
              # day before, drawing each bar a day late).
              (Query(f"sum by (provider) (max_over_time({COST_TODAY.record}{{{COST}}}[1d] offset -1d))",
                     "{{provider}}", recordings=(COST_TODAY,)),),
              unit="currencyUSD", width=16, height=8, stack=True, bars=True, interval="1d", bar_alignment=1),
        Panel("timeseries", "Month to date vs budget and forecast", "Cost of the month so far, the forecast "
              "for the whole month and the monthly budget (dashed, exported from config). Forecast above "
              "budget: find the driver now, before the month ends.",
              (Query(f"sum({COST_MONTH_TO_DATE.record}{{{COST}}})", "month to date",
                     recordings=(COST_MONTH_TO_DATE,)),
               Query(f"sum({COST_FORECAST.record}{{{COST}}})", "forecast", recordings=(COST_FORECAST,)),
               Query(f"max(stackwatch_budget_monthly_usd{{{ENV}, provider=\"all\"}})", "budget", threshold=True)),
              unit="currencyUSD", width=8, height=8),
    ])
    breakdown = Row("Breakdown", [
        Panel("bargauge", "Month to date by service / project", "Cost of the month so far per provider, "
              "service and project (top 15). An unexpected entry: drill into the provider's board.",
              (Query(f"topk(15, sum by (provider, service, project) (stackwatch_cost_month_to_date_usd{{{COST}}}))",
                     "{{provider}} {{service}} {{project}}", instant=True),),
              unit="currencyUSD", width=12, height=9, links=(VERCEL, RENDER, AI)),
        Panel("table", "Top cost drivers", "The ten largest cost items this month (provider, service, "
              "project, model) with today's share. Check each against what the team expects to pay for.",
              (Query(f"topk(10, sum by (provider, service, project, model) "
                     f"(stackwatch_cost_month_to_date_usd{{{COST}}}))", "", instant=True, table=True),),
              unit="currencyUSD", width=12, height=9),
        Panel("table", "Top savings recommendations", "The operator report's top recommendations (`stackwatch "
              "report --push`, run on a schedule) with the monthly saving each would bring: provider, kind "
              "(rightsize, idle, compute_size, batch_api, prompt_cache, parse_mode, cache_hit_ratio) and the "
              "resource. The latest push of the last day is shown; empty when no report was pushed in a day. "
              "Act from the top: run `stackwatch report` for the reasoning behind each line.",
              (Query(f"topk(10, max by (provider, kind, resource) (last_over_time("
                     f"stackwatch_recommendation_savings_monthly_usd{{{COST}}}[1d])))", "", instant=True,
                     table=True),),
              unit="currencyUSD", width=24, height=8),
        Panel("timeseries", "OpenAI cost by model", "OpenAI cost so far this month per model. A new or "
              "expensive model appearing: check which project calls it on the AI board.",
              (Query(f"sum by (model) ({COST_MONTH_TO_DATE_BY_MODEL.record}{{{ENV}}})", "{{model}}",
                     recordings=(COST_MONTH_TO_DATE_BY_MODEL,)),),
              unit="currencyUSD", width=8, height=8, links=(AI,)),
        Panel("timeseries", "OpenAI tokens by model and type", "Tokens per hour by model and token type "
              "(input includes cached; hourly points, each the latest 1-hour rate recorded in its hour). A jump "
              "in input tokens: a prompt grew or a loop resends context.",
              (Query(f"sum by (gen_ai_request_model, gen_ai_token_type) (last_over_time({OPENAI_TOKENS.record}"
                     f"{{{ENV}}}[$__interval])) * 3600",
                     "{{gen_ai_request_model}} {{gen_ai_token_type}}", recordings=(OPENAI_TOKENS,)),),
              unit="short", width=8, height=8, links=(AI,), interval="1h"),
        Panel("timeseries", "LlamaParse pages and credits by mode", "Pages parsed and credits used per hour by "
              "parse mode. Credits rising faster than pages: documents moved to a premium mode.",
              (Query(f"sum by (mode) (rate(llamacloud_pages_total{{{ENV}}}[$__rate_interval])) * 3600",
                     "pages {{mode}}"),
               Query(f"sum by (mode) (rate(llamacloud_credits_total{{{ENV}}}[$__rate_interval])) * 3600",
                     "credits {{mode}}")),
              unit="short", width=8, height=8, links=(AI,)),
    ])
    quality = Row("How far to trust the figures", [
        Panel("piechart", "Billed vs estimated", "Share of this month's cost that comes from providers' "
              "billed figures vs stackwatch's estimates from usage and price tables. A large estimated share "
              "means the invoice may differ; compare with the provider's billing page.",
              (Query(f"sum by (cost_source) (stackwatch_cost_month_to_date_usd{{{COST}}})", "{{cost_source}}",
                     instant=True),),
              unit="currencyUSD", width=8, height=8),
        Panel("table", "Unpriced usage", "Usage items with no known price (an unknown model or plan), counted "
              "over the range, never priced at $0. Add the price to exporters/costs/price_tables/ and release.",
              (Query(f"sum by (provider, item) (increase(stackwatch_cost_unpriced_items_total{{{COST}}}"
                     f"[$__range])) > 0 or sum by (provider) (stackwatch_cost_month_to_date_usd{{{COST}}}) * 0",
                     "", instant=True, table=True),),
              unit="short", width=8, height=8),
        Panel("stat", "Cost per unit of work", "Vercel's and Render's cost per 1,000 requests served and "
              "LlamaParse's cost per page parsed, each over the same last 24 hours (cost: the increase of the "
              "running daily total across midnight; requests: the recorded 5-minute rates; pages: the counter). "
              "A flat unit cost reads flat at any hour. Rising while traffic is flat: something got more "
              "expensive per request.",
              (Query(f"{cost_last_day('vercel|render')} / ({requests_last_day(REQUESTS_BY_PROVIDER)} / 1000)",
                     "{{provider}} per 1,000 requests", recordings=(COST_TODAY, REQUESTS_BY_PROVIDER)),
               # LlamaParse jobs come a few dozen times a day: a stack minutes old has parsed no page yet.
               Query(f"{cost_last_day('llamacloud')} / on () group_left () "
                     f"sum(increase(llamacloud_pages_total{{{ENV}}}[1d]))", "llamacloud per page parsed",
                     recordings=(COST_TODAY,), history=True)),
              unit="currencyUSD", decimals=4, width=8, height=8, time_from="1d", interval="15m"),
    ])
    baseline = usual_day()
    floor = f"max(stackwatch_threshold_spend_anomaly_floor_usd{{{ENV}}})"
    factor = f"max(stackwatch_threshold_spend_anomaly_factor{{{ENV}}})"
    anomaly = Row("Today vs usual", [
        Panel("timeseries", "Today vs its usual level", "Today's cost so far per provider divided by a usual "
              "day's: the median of the previous 14 days' totals (dashed: spend_anomaly_factor, exported from "
              "config). A ratio above the factor with today's cost above the floor (the panel on the right) is "
              "a day far from usual; the RunawaySpend alert watches the spend rate (docs/alerting.md). "
              "Early in the day the ratio is low by nature; a ratio over the line: see 'Top cost drivers'. "
              "Empty until 14 days of the recorded cost series exist (Prometheus records from when it loads the "
              "rules).",
              (Query(f"{TODAY_BY_PROVIDER} / on (provider) ({baseline})", "{{provider}}", scenario="cost-spike",
                     recordings=(COST_TODAY,)),
               Query(factor, "alert factor", threshold=True)),
              unit="none", decimals=2, width=16, height=8),
        Panel("timeseries", "Today vs the anomaly line", "Today's cost so far per provider and the anomaly "
              "line (dashed): the usual day (median of the previous "
              "14 days) times the factor, or the absolute floor when that is higher, both from config. A line "
              "crossed: find the driver in 'Top cost drivers' and the provider's board.",
              (Query(TODAY_BY_PROVIDER, "{{provider}} today", recordings=(COST_TODAY,)),
               Query(f"clamp_min(({baseline}) * on () group_left () {factor}, scalar({floor}))",
                     "{{provider}} alert line", scenario="cost-spike", threshold=True, recordings=(COST_TODAY,))),
              unit="currencyUSD", width=8, height=8, links=(VERCEL, RENDER, AI)),
    ])
    return Board(COSTS.uid, "stackwatch · Costs & usage",
                 "Daily and monthly cost by provider, service, project and model against budget; usage behind "
                 "it; how much is billed vs estimated; today's spend against its usual level.",
                 "now-30d", [trend, breakdown, quality, anomaly], (ENVIRONMENT, PROVIDER_VAR), refresh="5m")
