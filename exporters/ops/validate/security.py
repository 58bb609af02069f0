"""Security: no provider token in the config file, drain secret set, Grafana locked, TLS not expiring."""

from __future__ import annotations

import re

import yaml

from exporters.ops.validate.context import Context
from exporters.ops.validate.model import Check, Status, without_prometheus
from exporters.ops.validate.prom import PrometheusUnreachable
from exporters.providers.registry import PROVIDERS
from exporters.providers.vercel.drains import DRAIN_SECRET_ENV
from exporters.service.config import SECRET_ENV

GROUP = "security"
# What each provider's credentials look like (the registry's token_shape; docs/providers/<name>.md).
TOKEN_SHAPES = re.compile(r"\b(" + "|".join(p.token_shape for p in PROVIDERS if p.token_shape) + ")")
DEFAULT_PASSWORDS = {"", "admin", "password", "changeme", "change-me", "grafana", "secret", "stackwatch"}
MIN_PASSWORD = 12


def config_tokens(ctx: Context) -> list[Check]:
    name = "no provider token in the config file"
    text = ctx.config_path.read_text(encoding="utf-8", errors="replace")
    found = [f"line {text[:m.start()].count(chr(10)) + 1}: {m.group(0)[:4]}…" for m in TOKEN_SHAPES.finditer(text)]
    for variable in list(SECRET_ENV.values()) + [DRAIN_SECRET_ENV]:
        value = (ctx.env.get(variable) or "").strip()
        if len(value) >= 8 and value in text:
            found.append(f"the value of {variable}")
    if found:
        return [Check(GROUP, name, Status.FAIL, f"{ctx.config_path}: token-shaped text at " + ", ".join(found),
                      "remove it from the file, rotate the token (docs/operations.md) and set it in the environment")]
    return [Check(GROUP, name, Status.PASS, f"{ctx.config_path}: no token shapes, no secret variable's value")]


def drain_secret(ctx: Context) -> list[Check]:
    if "vercel" not in ctx.enabled:
        return []
    value = (ctx.setting(DRAIN_SECRET_ENV) or "").strip()
    name = "drain secret set (when Vercel sends drains)"
    if value:
        return [Check(GROUP, name, Status.PASS, f"{DRAIN_SECRET_ENV} set ({len(value)} characters)")]
    # Optional: a team that configured no Vercel drain needs none. Refused deliveries say one is configured.
    try:
        refused = sum(s.value for s in ctx.prom.query(
            f'sum(increase(stackwatch_drain_rejected_total{{reason="unconfigured"}}[{ctx.window}]))'))
    except PrometheusUnreachable as error:
        return [without_prometheus(GROUP, name, error)]
    if refused > 0:
        return [Check(GROUP, name, Status.FAIL, f"{DRAIN_SECRET_ENV} is not set and {refused:.0f} drain deliveries "
                      f"were refused in {ctx.window}: Vercel sends drains stackwatch cannot verify",
                      f"set {DRAIN_SECRET_ENV} to the secret Vercel signs drain deliveries with "
                      "(docs/getting-started.md), or remove the drain in Vercel")]
    return [Check(GROUP, name, Status.PASS, f"{DRAIN_SECRET_ENV} not set and no drain delivery refused in "
                  f"{ctx.window}: no Vercel drain is configured (deliveries would be refused, 503)")]


def _compose_grafana_env(ctx: Context) -> dict[str, str] | None:
    path = ctx.project_dir / "docker-compose.yml"
    if not path.is_file():
        return None
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
        env = data["services"]["grafana"].get("environment") or {}
    except (yaml.YAMLError, KeyError, TypeError, AttributeError):
        return None
    if isinstance(env, list):
        env = dict(item.split("=", 1) for item in env if "=" in item)
    return {str(k): str(v) for k, v in env.items()}


def grafana(ctx: Context) -> list[Check]:
    checks = []
    password = ctx.setting("GF_SECURITY_ADMIN_PASSWORD")
    name = "Grafana admin password not a default"
    if password is None:
        checks.append(Check(GROUP, name, Status.UNKNOWN,
                            "GF_SECURITY_ADMIN_PASSWORD is in neither the environment nor .env",
                            "set it in .env (compose refuses to start Grafana without it)"))
    elif password.strip().lower() in DEFAULT_PASSWORDS or len(password) < MIN_PASSWORD:
        checks.append(Check(GROUP, name, Status.FAIL,
                            f"GF_SECURITY_ADMIN_PASSWORD is a well-known default or shorter than {MIN_PASSWORD} characters",
                            "set a long random password in .env and restart Grafana"))
    else:
        checks.append(Check(GROUP, name, Status.PASS, f"set, {len(password)} characters, not a known default"))
    compose = _compose_grafana_env(ctx)
    name = "Grafana anonymous access off"
    override = ctx.setting("GF_AUTH_ANONYMOUS_ENABLED")
    if compose is None:
        checks.append(Check(GROUP, name, Status.UNKNOWN, "docker-compose.yml has no readable grafana service",
                            "restore docker-compose.yml"))
    else:
        value = compose.get("GF_AUTH_ANONYMOUS_ENABLED", "false")
        if "${" in value:  # the compose file defers to the environment
            value = override or "false"
        if value.strip().lower() in ("true", "1", "yes"):
            checks.append(Check(GROUP, name, Status.FAIL, f"GF_AUTH_ANONYMOUS_ENABLED={value}",
                                "set GF_AUTH_ANONYMOUS_ENABLED: \"false\" in docker-compose.yml"))
        else:
            checks.append(Check(GROUP, name, Status.PASS, f"GF_AUTH_ANONYMOUS_ENABLED={value} (docker-compose.yml)"))
    return checks


def tls(ctx: Context) -> list[Check]:
    name = "TLS certificates valid ≥ 14 d"
    limit = ctx.config.thresholds.tls_expiry_seconds
    left = ctx.prom.query('min by (instance) (probe_ssl_earliest_cert_expiry{job="blackbox"}) - time()')
    if not left:
        return [Check(GROUP, name, Status.UNKNOWN, "no probe_ssl_earliest_cert_expiry series: no HTTPS probe answered",
                      "probe the https:// URLs of the frontend and backend (prometheus/targets/)")]
    short = [f"{s.labels.get('instance')}: {s.value / 86400:.1f} d" for s in left if s.value < limit]
    evidence = f"{len(left)} certificates; shortest {min(s.value for s in left) / 86400:.1f} d (limit {limit / 86400:g} d)"
    if short:
        return [Check(GROUP, name, Status.FAIL, evidence + "; expiring: " + ", ".join(short),
                      "renew the certificate (docs/runbooks/TlsCertificateExpiring.md)")]
    return [Check(GROUP, name, Status.PASS, evidence)]


def run(ctx: Context) -> list[Check]:
    try:
        certificates = tls(ctx)
    except PrometheusUnreachable as error:  # the other checks of the group read no Prometheus
        certificates = [without_prometheus(GROUP, "TLS certificates valid", error)]
    return config_tokens(ctx) + drain_secret(ctx) + grafana(ctx) + certificates
