"""AI services: OpenAI usage and cost by model and project; LlamaParse pages and credits."""

from __future__ import annotations

from .common import AI, COSTS, ENV, ENVIRONMENT, Board, Panel, Query, Row, project_variable
from .recordings import OPENAI_CACHED_TOKENS, OPENAI_TOKENS_BY_PROJECT

SEL = f'{ENV}, project=~"$project"'
RATE = "$__rate_interval"


def board() -> Board:
    openai = Row("OpenAI", [
        Panel("timeseries", "Cost today by model", "Today's OpenAI cost so far per model. A model's line "
              "climbing unusually steeply: find the project calling it below.",
              (Query(f"sum by (model) (stackwatch_cost_today_usd{{{SEL}, provider=\"openai\"}})", "{{model}}"),),
              unit="currencyUSD", width=8, height=8, links=(COSTS,)),
        Panel("timeseries", "Tokens per hour by type", "Input, output and cached input tokens in the last hour "
              "(1-hour rates, recorded per project). Input rising with flat requests: prompts grew; low cached "
              "share: the prompt cache is not hit.",
              (Query(f"sum by (gen_ai_token_type) ({OPENAI_TOKENS_BY_PROJECT.record}{{{SEL}}}) * 3600",
                     "{{gen_ai_token_type}}", recordings=(OPENAI_TOKENS_BY_PROJECT,)),
               Query(f"sum({OPENAI_CACHED_TOKENS.record}{{{SEL}}}) * 3600", "cached input",
                     recordings=(OPENAI_CACHED_TOKENS,))),
              unit="short", width=8, height=8),
        Panel("timeseries", "Requests per hour by operation", "Model requests per hour by operation (chat, "
              "embeddings) and whether sent through the Batch API (half price).",
              (Query(f"sum by (operation, batch) (rate(openai_usage_requests_total{{{SEL}}}[{RATE}])) * 3600",
                     "{{operation}} batch={{batch}}"),),
              unit="short", width=8, height=8),
        Panel("table", "Cost this month by project and model", "Month-to-date OpenAI cost per project and "
              "model. An unknown project: a leaked key; revoke it in the OpenAI console.",
              (Query(f"sort_desc(sum by (project, model) (stackwatch_cost_month_to_date_usd{{{SEL}, "
                     f"provider=\"openai\"}}))", "", instant=True, table=True),),
              unit="currencyUSD", width=12, height=8),
        Panel("timeseries", "Tokens per request", "Mean tokens per request by model (all token types). "
              "Rising: responses or prompts got longer; check max_tokens and context trimming.",
              (Query(f"sum by (gen_ai_request_model) (histogram_sum(rate(gen_ai_client_token_usage{{{SEL}}}"
                     f"[{RATE}]))) / sum by (gen_ai_request_model) (label_replace(rate("
                     f"openai_usage_requests_total{{{SEL}}}[{RATE}]), \"gen_ai_request_model\", \"$1\", \"model\", "
                     f"\"(.*)\"))", "{{gen_ai_request_model}}"),),
              unit="short", width=12, height=8),
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
              unit="currencyUSD", decimals=2, width=8, height=8, links=(COSTS,)),
    ])
    return Board(AI.uid, "stackwatch · AI services",
                 "OpenAI tokens, requests and cost by model and project; LlamaParse pages, credits and cost.",
                 "now-7d", [openai, llama], (ENVIRONMENT, project_variable("openai_usage_requests_total")))
