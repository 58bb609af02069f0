"""Structured logs (text or JSON) with every known secret redacted.

The redactor is the last processor before rendering, so no event, key or
exception text can carry a token out, whatever code logged it.
"""

from __future__ import annotations

import logging
import re
import sys
from collections.abc import Iterable

import structlog

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
REDACTED = "[REDACTED]"


class SecretRedactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret and len(secret) >= 4 and secret not in self._secrets:
                self._secrets.append(secret)
        self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)

    def __call__(self, _logger: object, _method: str, event: dict) -> dict:
        return {k: self._scrub_value(v) for k, v in event.items()}

    def _scrub_value(self, value: object) -> object:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self._scrub_value(v) for v in value)
        if isinstance(value, dict):
            return {k: self._scrub_value(v) for k, v in value.items()}
        return value


REDACTOR = SecretRedactor()


def configure(level: str = "info", fmt: str = "text", stream=None) -> None:  # type: ignore[no-untyped-def]
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(getattr(logging, level.upper())),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
