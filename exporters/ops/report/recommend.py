"""Savings recommendations: pure functions over plain data (prices and specs passed in)."""

from __future__ import annotations

from exporters.ops.report.model import (
    Inputs,
    LlamaRepeats,
    OpenAIModel,
    Recommendation,
    RenderService,
    SupabaseProject,
    VercelCache,
)

HEADROOM = 1.20  # size for the observed peak plus 20 %
BATCH_DISCOUNT = 0.50  # OpenAI Batch API: half the price of synchronous requests
BATCH_ELIGIBLE_SHARE = 0.25  # assumed share of synchronous traffic that tolerates a 24 h turnaround
CACHE_TARGET_SHARE = 0.50  # a prompt-cache share well-structured prompts reach
VERCEL_HIT_TARGET = 0.80
CHEAPER_PARSE_MODE = "cost_effective"
IDLE_MIN_DAYS = 7  # a service is called idle only after a week of observation without a request


def confidence(days_observed: float, window_days: int) -> str:
    if days_observed >= min(14, window_days):
        return "high"
    return "medium" if days_observed >= 3 else "low"


def cheapest_render_plan(cpus_needed: float, memory_needed: float, specs: dict[str, tuple[float, float]],
                         prices: dict[str, float]) -> str | None:
    fitting = [p for p, (cpu, mem) in specs.items() if cpu >= cpus_needed and mem >= memory_needed and p in prices]
    return min(fitting, key=lambda p: (prices[p], p)) if fitting else None


def render_rightsizing(service: RenderService, specs: dict[str, tuple[float, float]], prices: dict[str, float],
                       window_days: int) -> Recommendation | None:
    if service.plan not in specs or service.plan not in prices or service.cpu_p995 is None \
            or service.memory_p99 is None or service.suspended:
        return None
    cpu, memory = specs[service.plan]
    cpus_needed = service.cpu_p995 * cpu * HEADROOM
    memory_needed = service.memory_p99 * memory * HEADROOM
    best = cheapest_render_plan(cpus_needed, memory_needed, specs, prices)
    if best is None or prices[best] >= prices[service.plan]:
        return None
    instances = max(service.instances, 1.0)
    savings = (prices[service.plan] - prices[best]) * instances
    return Recommendation(
        "rightsize", "render", service.name, round(savings, 2),
        f"move {service.name} from {service.plan} to {best}",
        f"CPU p99.5 {service.cpu_p995:.0%} of {cpu:g} CPU = {service.cpu_p995 * cpu:.2f} CPU, memory p99 "
        f"{service.memory_p99:.0%} of {memory / 1e9:g} GB; with 20 % headroom {cpus_needed:.2f} CPU and "
        f"{memory_needed / 1e9:.2f} GB fit {best} (${prices[best]:g}/month vs ${prices[service.plan]:g}) "
        f"× {instances:g} instance(s)",
        "render_service_cpu_utilization_ratio, render_service_memory_utilization_ratio, render_service_info",
        f"{window_days} d", confidence(service.days_observed, window_days))


def render_idle(service: RenderService, prices: dict[str, float], window_days: int) -> Recommendation | None:
    if service.requests is None or service.requests > 0 or service.suspended or service.plan not in prices:
        return None
    if service.days_observed < IDLE_MIN_DAYS:  # a quiet day or weekend is not an idle service
        return None
    savings = prices[service.plan] * max(service.instances, 1.0)
    if savings <= 0:
        return None
    return Recommendation(
        "idle", "render", service.name, round(savings, 2), f"suspend or delete {service.name}",
        f"0 HTTP requests in {window_days} d on {service.plan} (${prices[service.plan]:g}/month × "
        f"{max(service.instances, 1.0):g}); a worker or cron job serves none by design: check before suspending",
        "render_service_http_requests_total, render_service_info", f"{window_days} d",
        "medium" if confidence(service.days_observed, window_days) == "high" else "low")


def supabase_compute(project: SupabaseProject, specs: dict[str, tuple[float, int]], monthly: dict[str, float],
                     window_days: int) -> Recommendation | None:
    if project.compute not in monthly or project.memory_used_p99_bytes is None or project.connections_peak is None:
        return None
    need_memory = project.memory_used_p99_bytes * HEADROOM
    need_connections = project.connections_peak * HEADROOM
    fitting = [s for s, (mem, conns) in specs.items() if mem >= need_memory and conns >= need_connections and s in monthly]
    if not fitting:
        return None
    best = min(fitting, key=lambda s: (monthly[s], s))
    if monthly[best] >= monthly[project.compute]:
        return None
    savings = monthly[project.compute] - monthly[best]
    return Recommendation(
        "compute_size", "supabase", project.name, round(savings, 2),
        f"downsize {project.name} compute from {project.compute} to {best}",
        f"memory used p99 {project.memory_used_p99_bytes / 1e9:.2f} GB, peak {project.connections_peak:g} "
        f"connections; with 20 % headroom {best} fits (${monthly[best]:.2f}/month vs ${monthly[project.compute]:.2f})",
        "node_memory_MemTotal_bytes - node_memory_MemAvailable_bytes, pg_stat_database_num_backends, supabase_compute_info",
        f"{window_days} d", confidence(project.days_observed, window_days))


def openai_batch(model: OpenAIModel, window_days: int) -> Recommendation | None:
    total = model.batch_requests + model.other_requests
    if total <= 0 or model.other_requests <= 0 or model.monthly_cost_usd <= 0:
        return None
    synchronous_cost = model.monthly_cost_usd * model.other_requests / total
    savings = synchronous_cost * BATCH_ELIGIBLE_SHARE * BATCH_DISCOUNT
    return Recommendation(
        "batch_api", "openai", model.model, round(savings, 2),
        f"send latency-tolerant {model.model} work (evaluations, backfills, embeddings) through the Batch API",
        f"{model.other_requests:,.0f} of {total:,.0f} requests synchronous; ${synchronous_cost:.2f}/month of them × "
        f"{BATCH_ELIGIBLE_SHARE:.0%} assumed eligible × 50 % discount",
        "openai_usage_requests_total{batch}, stackwatch_cost_month_to_date_usd", f"{window_days} d", "low")


def openai_prompt_cache(model: OpenAIModel, input_price: float, cached_price: float,
                        window_days: int) -> Recommendation | None:
    """input_price / cached_price: USD per 1M tokens (exporters/costs/price_tables/openai.yaml)."""
    if model.input_tokens <= 0 or cached_price >= input_price:
        return None
    share = model.cached_input_tokens / model.input_tokens
    if share >= CACHE_TARGET_SHARE:
        return None
    monthly_tokens = model.input_tokens * 30 / window_days
    savings = monthly_tokens * (CACHE_TARGET_SHARE - share) * (input_price - cached_price) / 1e6
    return Recommendation(
        "prompt_cache", "openai", model.model, round(savings, 2),
        f"put the stable part of {model.model} prompts first (≥ 1,024 tokens) so the prompt cache serves it",
        f"cached share {share:.0%} of {model.input_tokens:,.0f} input tokens; raising it to {CACHE_TARGET_SHARE:.0%} "
        f"saves ${input_price - cached_price:g} per 1M tokens moved, {monthly_tokens:,.0f} tokens/month",
        "openai_usage_cached_input_tokens_total, gen_ai_client_token_usage", f"{window_days} d", "low")


def llamaparse_modes(pages: dict[str, float], credits_per_page: dict[str, float], usd_per_credit: float,
                     window_days: int) -> list[Recommendation]:
    out = []
    cheaper = credits_per_page.get(CHEAPER_PARSE_MODE)
    if cheaper is None:
        return out
    for mode, count in sorted(pages.items()):
        rate = credits_per_page.get(mode)
        if rate is None or rate <= cheaper or count <= 0:
            continue
        monthly_pages = count * 30 / window_days
        savings = monthly_pages * (rate - cheaper) * usd_per_credit
        out.append(Recommendation(
            "parse_mode", "llamacloud", mode, round(savings, 2),
            f"parse simple documents in {CHEAPER_PARSE_MODE} mode instead of {mode}",
            f"{count:,.0f} pages in {mode} ({rate:g} credits/page) vs {cheaper:g} in {CHEAPER_PARSE_MODE}, "
            f"{monthly_pages:,.0f} pages/month × ${usd_per_credit * 1000:g}/1,000 credits; saving assumes all "
            "could move: check layout quality first",
            "llamacloud_pages_total{mode}", f"{window_days} d", "low"))
    return out


def llamaparse_repeats(repeats: LlamaRepeats, usd_per_credit: float, window_days: int) -> Recommendation | None:
    """Credits spent re-parsing documents already parsed this billing cycle, projected to a month:
    what caching parsed results (keyed by file content and parse options) saves."""
    if repeats.credits <= 0 or usd_per_credit <= 0:
        return None
    monthly_credits = repeats.credits * 30 / window_days
    savings = monthly_credits * usd_per_credit
    # Some re-parses are deliberate (changed options after a poor result), and credits within a
    # plan's allowance cost nothing at the margin: never more than medium.
    observed = confidence(repeats.days_observed, window_days)
    return Recommendation(
        "repeat_parse", "llamacloud", repeats.project, round(savings, 2),
        f"cache parsed results of project {repeats.project} (keyed by file hash and parse options) "
        "instead of parsing the same document again",
        f"{repeats.parses:,.0f} parses of documents already parsed this billing cycle used "
        f"{repeats.credits:,.0f} credits in {window_days} d: {monthly_credits:,.0f} credits/month × "
        f"${usd_per_credit * 1000:g}/1,000 credits; LlamaParse's own cache is free only for the same file "
        "and options within 48 h",
        "llamacloud_repeat_parses_total, llamacloud_repeat_parse_credits_total", f"{window_days} d",
        "medium" if observed == "high" else "low")


def vercel_cache(cache: VercelCache, monthly_usd: float, projects: int, window_days: int) -> Recommendation | None:
    if cache.total <= 0:
        return None
    hit = cache.hits / cache.total
    if hit >= VERCEL_HIT_TARGET or monthly_usd <= 0:
        return None
    # Misses drive function and origin usage: the saving scales with the misses avoided.
    project_cost = monthly_usd / max(projects, 1)
    savings = project_cost * (VERCEL_HIT_TARGET - hit) / (1 - hit)
    return Recommendation(
        "cache_hit_ratio", "vercel", cache.project, round(savings, 2),
        f"raise {cache.project}'s cache hit ratio (Cache-Control s-maxage, ISR, static assets)",
        f"hit ratio {hit:.0%} of {cache.total:,.0f} requests; reaching {VERCEL_HIT_TARGET:.0%} avoids "
        f"{(VERCEL_HIT_TARGET - hit) / (1 - hit):.0%} of misses, of ${project_cost:.2f}/month usage cost",
        "vercel_cache_requests_total{cache}, stackwatch_cost_month_to_date_usd{provider=\"vercel\"}",
        f"{window_days} d", "low")


def unbudgeted(spend_by_provider: dict[str, float], budgets: dict[str, float | None], window_days: int) -> list[Recommendation]:
    return [Recommendation(
        "budget", provider, provider, 0.0, f"set budgets.monthly_usd.{provider} in stackwatch.yaml",
        f"${usd:.2f} spent in {window_days} d with no monthly budget: overspend cannot alert (no saving by itself)",
        "stackwatch_budget_monthly_usd, stackwatch_cost_today_usd", f"{window_days} d", "high")
        for provider, usd in sorted(spend_by_provider.items()) if usd > 0 and budgets.get(provider) is None]


def recommend(inputs: Inputs, *, render_specs, render_prices, supabase_specs, supabase_monthly,
              openai_prices: dict[str, tuple[float, float]], credits_per_page, usd_per_credit,
              spend_by_provider: dict[str, float]) -> list[Recommendation]:
    """Every recommendation, the largest saving first."""
    days = inputs.days
    out: list[Recommendation | None] = []
    for service in inputs.render:
        out += [render_rightsizing(service, render_specs, render_prices, days), render_idle(service, render_prices, days)]
    out += [supabase_compute(p, supabase_specs, supabase_monthly, days) for p in inputs.supabase]
    for model in inputs.openai:
        out.append(openai_batch(model, days))
        if model.model in openai_prices:
            out.append(openai_prompt_cache(model, *openai_prices[model.model], days))
    out += llamaparse_modes(inputs.llamacloud_pages, credits_per_page, usd_per_credit, days)
    out += [llamaparse_repeats(r, usd_per_credit, days) for r in inputs.llamacloud_repeats]
    out += [vercel_cache(c, inputs.vercel_monthly_usd, len(inputs.vercel), days) for c in inputs.vercel]
    out += unbudgeted(spend_by_provider, inputs.budgets, days)
    found = [r for r in out if r is not None]
    return sorted(found, key=lambda r: (-r.monthly_savings_usd, r.provider, r.resource))
