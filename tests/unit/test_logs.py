"""Logs never carry a secret, whatever code logs it and in which field."""

from __future__ import annotations

import io
import json

import structlog

import exporters.logs as logs
from exporters.logs import REDACTED, SecretRedactor, configure


def test_known_secrets_are_redacted_in_events_fields_and_nested_values(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    redactor = SecretRedactor(["sk-admin-topsecret"])
    monkeypatch.setattr(logs, "REDACTOR", redactor)
    out = io.StringIO()
    configure("info", "json", stream=out)
    structlog.get_logger("t").warning("failed with sk-admin-topsecret", headers={"a": ["Bearer sk-admin-topsecret"]})
    line = json.loads(out.getvalue())
    assert "topsecret" not in out.getvalue()
    assert line["event"] == f"failed with {REDACTED}"
    assert line["headers"] == {"a": [f"Bearer {REDACTED}"]}


def test_unknown_bearer_tokens_are_redacted_too() -> None:
    assert SecretRedactor().scrub("Authorization: Bearer abcdefgh12345") == f"Authorization: Bearer {REDACTED}"


def test_text_format_is_one_line_per_event() -> None:
    out = io.StringIO()
    configure("info", "text", stream=out)
    structlog.get_logger("t").info("hello", provider="render")
    assert out.getvalue().count("\n") == 1 and "provider=render" in out.getvalue()
