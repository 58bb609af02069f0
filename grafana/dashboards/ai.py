"""AI services: OpenAI usage and cost by model and project; LlamaParse pages and credits."""

from __future__ import annotations

from .common import (
    AI,
    COSTS,
    ENV,
    ENVIRONMENT,
    SELF,
    Board,
    Panel,
    Query,
    Row,
    project_variable,
)
from .deploys import render_deploys, vercel_deploys
from .recordings import (
    COST_TODAY_BY_PROJECT_MODEL,
    OPENAI_CACHED_TOKENS,
    OPENAI_REQUESTS_BY_OPERATION,
    OPENAI_REQUESTS_BY_PROJECT_MODEL,
    OPENAI_TOKENS_BY_PROJECT,
    OPENAI_TOKENS_BY_PROJECT_MODEL,
)

SEL = f'{ENV}, project=~"$project"'
RATE = "$__rate_interval"
# Hourly panels on recorded series: the latest recorded value within each step. Grafana ceils a range
# query's end to the step, so the last step lies up to an hour ahead, beyond the 5-minute lookback
# of a plain selector; last_over_time over the step still finds the current value there.
LATEST = "$__interval"


def board() -> Board:
    openai = Row("OpenAI", [
        Panel("timeseries", "Cost today by model", "Today's OpenAI cost so far per model (hourly points, "
              "recorded per project and model). A model's line climbing unusually steeply: find the project "
              "calling it below.",
              (Query(f"sum by (model) (last_over_time({COST_TODAY_BY_PROJECT_MODEL.record}{{{SEL}}}[{LATEST}]))", "{{model}}",
                     recordings=(COST_TODAY_BY_PROJECT_MODEL,)),),
              unit="currencyUSD", width=8, height=8, links=(COSTS,), interval="1h"),
        Panel("timeseries", "Tokens per hour by type", "Input, output and cached input tokens in the last hour "
              "(1-hour rates, recorded per project). Input rising with flat requests: prompts grew; low cached "
              "share: the prompt cache is not hit.",
              (Query(f"sum by (gen_ai_token_type) ({OPENAI_TOKENS_BY_PROJECT.record}{{{SEL}}}) * 3600",
                     "{{gen_ai_token_type}}", recordings=(OPENAI_TOKENS_BY_PROJECT,)),
               Query(f"sum({OPENAI_CACHED_TOKENS.record}{{{SEL}}}) * 3600", "cached input",
                     recordings=(OPENAI_CACHED_TOKENS,))),
              unit="short", width=8, height=8),
        Panel("timeseries", "Requests per hour by operation", "Model requests in the last hour by operation "
              "(chat, embeddings) and whether sent through the Batch API (half price); 1-hour rates, recorded "
              "per project.",
              (Query(f"sum by (operation, batch) ({OPENAI_REQUESTS_BY_OPERATION.record}{{{SEL}}}) * 3600",
                     "{{operation}} batch={{batch}}", recordings=(OPENAI_REQUESTS_BY_OPERATION,)),),
              unit="short", width=8, height=8),
        Panel("table", "Cost this month by project and model", "Month-to-date OpenAI cost per project and "
              "model. An unknown project: a leaked key; revoke it in the OpenAI console.",
              (Query(f"sort_desc(sum by (project, model) (stackwatch_cost_month_to_date_usd{{{SEL}, "
                     f"provider=\"openai\"}}))", "", instant=True, table=True),),
              unit="currencyUSD", width=12, height=8),
        Panel("timeseries", "Tokens per request", "Mean tokens per request by model (all token types) over "
              "the last hour, hourly points (1-hour rates recorded per project and model). Rising: responses or "
              "prompts got longer; check max_tokens and context trimming.",
              (Query(f"sum by (gen_ai_request_model) (last_over_time({OPENAI_TOKENS_BY_PROJECT_MODEL.record}{{{SEL}}}"
                     f"[{LATEST}])) / sum by (gen_ai_request_model) (label_replace(last_over_time("
                     f"{OPENAI_REQUESTS_BY_PROJECT_MODEL.record}{{{SEL}}}[{LATEST}]), \"gen_ai_request_model\", "
                     f"\"$1\", \"model\", \"(.*)\"))",
                     "{{gen_ai_request_model}}",
                     recordings=(OPENAI_TOKENS_BY_PROJECT_MODEL, OPENAI_REQUESTS_BY_PROJECT_MODEL)),),
              unit="short", width=12, height=8, interval="1h"),
    ])
    # OpenAI's Usage and Costs APIs report no errors or latency of the product's own calls; what stackwatch
    # has is OpenAI's API as its own polls meet it: status codes and request durations (every provider's).
    api = 'provider="openai"'
    openai_api = Row("OpenAI API (as stackwatch's polls meet it)", [
        Panel("timeseries", "OpenAI API errors and 429s", "Requests stackwatch sent to OpenAI's API that failed, "
              "per minute, by response status (429: rate limited; 5xx: OpenAI's side; timeout / transport_error: "
              "no answer). These are stackwatch's polls of the admin Usage and Costs endpoints, not your "
              "application's calls, which OpenAI reports no errors for: a rise means OpenAI's API is "
              "struggling or the key's rate limit is reached.",
              (Query(f"sum by (status_code) (rate(stackwatch_provider_api_requests_total{{{ENV}, {api}, "
                     f"status_code!~\"2..\"}}[{RATE}])) * 60 or sum(rate(stackwatch_provider_api_requests_total"
                     f"{{{ENV}, {api}}}[{RATE}])) * 0", "{{status_code}}"),
               Query(f"sum(rate(stackwatch_provider_api_requests_total{{{ENV}, {api}, status_code=\"429\"}}"
                     f"[{RATE}])) * 60", "429 rate limited", scenario="rate-limited")),
              unit="short", width=8, height=8, links=(SELF,)),
        Panel("timeseries", "OpenAI API error ratio", "Share of stackwatch's requests to OpenAI's API that "
              "failed (any status but 2xx, or no answer). Sustained: the usage and cost figures lag; see "
              "'stackwatch itself' for the failing stream.",
              (Query(f"sum(rate(stackwatch_provider_api_requests_total{{{ENV}, {api}, status_code!~\"2..\"}}"
                     f"[{RATE}])) / sum(rate(stackwatch_provider_api_requests_total{{{ENV}, {api}}}[{RATE}])) or "
                     f"sum(rate(stackwatch_provider_api_requests_total{{{ENV}, {api}}}[{RATE}])) * 0", "error ratio"),),
              unit="percentunit", width=8, height=8, max=1),
        Panel("timeseries", "OpenAI API latency (p95)", "95th percentile time from sending a request to "
              "OpenAI's API to its response headers, per endpoint, as stackwatch's polls measure it. Rising: "
              "OpenAI's API is slow (check status.openai.com); near the poll timeout, polls start failing.",
              (Query(f"histogram_quantile(0.95, sum by (operation) (rate("
                     f"stackwatch_provider_api_request_duration_seconds{{{ENV}, {api}}}[{RATE}])))", "{{operation}}"),),
              unit="s", width=8, height=8),
    ])
    llama = Row("LlamaParse", [
        Panel("timeseries", "Pages per hour by mode", "Pages parsed per hour per parse mode. A burst: a batch "
              "job; check it was expected.",
              (Query(f"sum by (mode) (rate(llamacloud_pages_total{{{SEL}}}[{RATE}])) * 3600", "{{mode}}"),),
              unit="short", width=8, height=8),
        Panel("timeseries", "Credits per hour by mode", "Credits consumed per hour per parse mode. Premium "
              "modes cost several credits a page: confirm the mode is needed.",
              (Query(f"sum by (mode) (rate(llamacloud_credits_total{{{SEL}}}[{RATE}])) * 3600", "{{mode}}"),),
              unit="short", width=8, height=8),
        Panel("stat", "Cost this month", "LlamaParse cost so far this month against LlamaParse's monthly "
              "budget (from config).",
              (Query(f"sum(stackwatch_cost_month_to_date_usd{{{SEL}, provider=\"llamacloud\"}})", "month to date"),
               Query(f"max(stackwatch_budget_monthly_usd{{{ENV}, provider=\"llamacloud\"}})", "budget",
                     threshold=True)),
              unit="currencyUSD", decimals=2, width=8, height=8, links=(COSTS,), better="lower"),
    ])
    return Board(AI.uid, "stackwatch · AI services",
                 "OpenAI tokens, requests and cost by model and project; OpenAI's API errors, 429s and latency as "
                 "stackwatch's polls meet them; LlamaParse pages, credits and cost.",
                 "now-7d", [openai, openai_api, llama], (ENVIRONMENT, project_variable("openai_usage_requests_total")),
                 annotations=(vercel_deploys(f'{ENV}, target="production"'), render_deploys(ENV)))
