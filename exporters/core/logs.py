"""Structured logs (text or JSON) with every known secret redacted.

The redactor is the last processor before rendering, so no event, key or
exception text can carry a token out, whatever code logged it. Records from
the standard library's `logging` (aiohttp, asyncio, the OpenTelemetry SDK and
exporters, `warnings`), uncaught exceptions in any thread and unhandled task
errors are forwarded into the same pipeline: one format, one redactor.
"""

from __future__ import annotations

import logging
import re
import sys
import threading
from collections.abc import Iterable
from types import TracebackType

import structlog

_BEARER = re.compile(r"(?i)(bearer\s+)[A-Za-z0-9._~+/=-]{8,}")
REDACTED = "[REDACTED]"
# Any run of this many characters of a secret is redacted, not only the whole value:
# an excerpt cut mid-token, or a token split across two fields, still leaks nothing.
FRAGMENT = 8


class SecretRedactor:
    def __init__(self, secrets: Iterable[str] = ()):
        self._secrets: list[str] = []
        self._fragments: set[str] = set()
        self.add(secrets)

    def add(self, secrets: Iterable[str]) -> None:
        for secret in secrets:
            if secret and len(secret) >= 4 and secret not in self._secrets:
                self._secrets.append(secret)
                self._fragments.update(secret[i:i + FRAGMENT] for i in range(len(secret) - FRAGMENT + 1))
        self._secrets.sort(key=len, reverse=True)

    def scrub(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, REDACTED)
        text = self._scrub_fragments(text)
        return _BEARER.sub(lambda m: m.group(1) + REDACTED, text)

    def _scrub_fragments(self, text: str) -> str:
        if not self._fragments or len(text) < FRAGMENT:
            return text
        covered_until = -1
        spans: list[list[int]] = []
        for i in range(len(text) - FRAGMENT + 1):
            if text[i:i + FRAGMENT] in self._fragments:
                if spans and i <= covered_until:
                    spans[-1][1] = i + FRAGMENT
                else:
                    spans.append([i, i + FRAGMENT])
                covered_until = i + FRAGMENT
        if not spans:
            return text
        out, last = [], 0
        for start, end in spans:
            out += [text[last:start], REDACTED]
            last = end
        out.append(text[last:])
        return "".join(out)

    def __call__(self, _logger: object, _method: str, event: dict) -> dict:
        return {k: self._scrub_value(v) for k, v in event.items()}

    def _scrub_value(self, value: object) -> object:
        if isinstance(value, str):
            return self.scrub(value)
        if isinstance(value, (list, tuple)):
            return type(value)(self._scrub_value(v) for v in value)
        if isinstance(value, dict):
            return {k: self._scrub_value(v) for k, v in value.items()}
        if isinstance(value, (int, float, bool)) or value is None:
            return value
        # Anything else is rendered with str()/repr() later: scrub what it will print.
        return self.scrub(repr(value))


REDACTOR = SecretRedactor()


class StdlibToStructlog(logging.Handler):
    """Forwards a `logging` record (aiohttp, asyncio, opentelemetry, warnings) to structlog."""

    def emit(self, record: logging.LogRecord) -> None:
        try:
            message = record.getMessage()
        except Exception:  # a bad format string in a library's call: still log what we have
            message = str(record.msg)
        fields: dict[str, object] = {"logger": record.name}
        if record.exc_info and record.exc_info[0] is not None:
            fields["exc_info"] = record.exc_info
        try:
            structlog.get_logger(record.name).log(record.levelno, message, **fields)
        except Exception:
            self.handleError(record)


def _log_uncaught(exc_type: type[BaseException], exc: BaseException, tb: TracebackType | None,
                  where: str) -> None:
    structlog.get_logger("stackwatch").critical("uncaught exception", where=where,
                                                exc_info=(exc_type, exc, tb))


def _route_stdlib_logging(level: int) -> None:
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, StdlibToStructlog):
            root.removeHandler(handler)
    root.addHandler(StdlibToStructlog())
    root.setLevel(level)
    # One line per HTTP request at info would drown the service's own lines.
    for chatty in ("httpx", "httpcore", "urllib3", "hpack"):
        logging.getLogger(chatty).setLevel(max(level, logging.WARNING))
    # Libraries that install their own stderr handler would bypass redaction: send them to root.
    for name in ("aiohttp", "asyncio", "opentelemetry", "py.warnings", "grpc", "httpx", "urllib3"):
        lib = logging.getLogger(name)
        for handler in list(lib.handlers):
            lib.removeHandler(handler)
        lib.propagate = True
    logging.captureWarnings(True)
    sys.excepthook = lambda t, e, tb: _log_uncaught(t, e, tb, "main thread")
    threading.excepthook = lambda args: _log_uncaught(
        args.exc_type, args.exc_value or args.exc_type(), args.exc_traceback,
        f"thread {args.thread.name if args.thread else '?'}")


def configure(level: str = "info", fmt: str = "text", stream=None) -> None:  # type: ignore[no-untyped-def]
    renderer = (structlog.processors.JSONRenderer() if fmt == "json"
                else structlog.dev.ConsoleRenderer(colors=False))
    numeric = getattr(logging, level.upper())
    structlog.configure(
        processors=[
            structlog.contextvars.merge_contextvars,
            structlog.processors.add_log_level,
            structlog.processors.TimeStamper(fmt="iso", utc=True),
            structlog.processors.format_exc_info,
            REDACTOR,
            renderer,
        ],
        wrapper_class=structlog.make_filtering_bound_logger(numeric),
        logger_factory=structlog.PrintLoggerFactory(file=stream or sys.stderr),
        cache_logger_on_first_use=False,
    )
    _route_stdlib_logging(numeric)
