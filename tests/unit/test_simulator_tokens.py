"""The simulator's tokens must not collide with words the logs carry.

The redactor hides every 8-character piece of a secret (exporters/core/logs.py); a
token containing "supabase" once turned the provider's name into [REDACTED] in
the service's start-up line.
"""

from exporters.core.logs import SecretRedactor
from exporters.providers.registry import PROVIDERS, all_metrics
from exporters.simulator.world import DEFAULT_DRAIN_SECRET, DEFAULT_TOKENS


def _words_logs_carry() -> set[str]:
    words = set(DEFAULT_TOKENS) | {p.display_name for p in PROVIDERS} | {w for p in PROVIDERS for w in p.module.split(".")}
    for spec in all_metrics():
        words.update({spec.name, spec.prometheus_name, *spec.attributes})
    return words


def test_no_simulator_token_shares_eight_characters_with_a_provider_or_metric_name():
    secrets = [*DEFAULT_TOKENS.values(), DEFAULT_DRAIN_SECRET]
    for word in _words_logs_carry():
        for secret in secrets:
            pieces = {secret[i:i + 8] for i in range(len(secret) - 7)}
            assert not any(piece in word for piece in pieces), (word, secret)


def test_provider_names_survive_redaction_with_the_simulator_tokens_registered():
    line = "providers=" + ",".join(sorted(DEFAULT_TOKENS))
    redactor = SecretRedactor([*DEFAULT_TOKENS.values(), DEFAULT_DRAIN_SECRET])
    assert redactor.scrub(line) == line
