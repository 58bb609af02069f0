"""Logs never carry a secret, whatever code logs it and in which field."""

from __future__ import annotations

import io
import json

import structlog

import exporters.core.logs as logs
from exporters.core.logs import REDACTED, SecretRedactor, configure


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


# --- fragments: no 8-character run of a secret survives, however the text was cut ---

CANARY = "sk-admin-CANARY0123456789abcdefXYZ"


def eight_char_runs(secret: str) -> set[str]:
    return {secret[i:i + 8] for i in range(len(secret) - 7)}


def test_a_token_cut_at_any_position_leaves_no_eight_character_fragment() -> None:
    redactor = SecretRedactor([CANARY])
    body = '{"error": {"message": "Incorrect API key provided: ' + CANARY + '", "type": "invalid"}}'
    for cut in range(len(body)):
        for text in (body[:cut], body[cut:]):
            scrubbed = redactor.scrub(text)
            assert not any(run in scrubbed for run in eight_char_runs(CANARY)), (cut, scrubbed)


def test_fragments_shorter_than_eight_characters_and_ordinary_text_are_kept() -> None:
    redactor = SecretRedactor([CANARY])
    assert redactor.scrub("project sk-admi ok") == "project sk-admi ok"
    assert redactor.scrub("key 0123456789 seen") == f"key {REDACTED} seen"


def test_non_string_values_are_scrubbed_as_they_will_be_printed(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    class Leaky:
        def __repr__(self) -> str:
            return f"Leaky({CANARY})"
    monkeypatch.setattr(logs, "REDACTOR", SecretRedactor([CANARY]))
    out = io.StringIO()
    configure("info", "json", stream=out)
    structlog.get_logger("t").warning("x", thing=Leaky())
    assert "CANARY" not in out.getvalue()


# --- every stdlib logging source goes through the same JSON pipeline and redactor ---

def json_lines(text: str) -> list[dict]:
    lines = [line for line in text.splitlines() if line.strip()]
    return [json.loads(line) for line in lines]  # raises if any line is not JSON


def test_library_log_records_are_json_and_redacted(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import logging

    monkeypatch.setattr(logs, "REDACTOR", SecretRedactor([CANARY]))
    out = io.StringIO()
    configure("info", "json", stream=out)
    logging.getLogger("aiohttp.server").error("Error handling request with %s", CANARY)
    logging.getLogger("opentelemetry.exporter").warning("export failed, header %s", CANARY[5:30])
    try:
        raise ValueError(f"boom {CANARY}")
    except ValueError:
        logging.getLogger("asyncio").exception("Task exception was never retrieved")
    events = json_lines(out.getvalue())
    assert {e["logger"] for e in events} >= {"aiohttp.server", "opentelemetry.exporter", "asyncio"}
    asyncio_event = next(e for e in events if e["logger"] == "asyncio")
    assert asyncio_event["level"] == "error" and "ValueError" in asyncio_event["exception"]
    assert not any(run in out.getvalue() for run in eight_char_runs(CANARY))


def test_real_asyncio_and_otlp_exporter_errors_are_json(monkeypatch) -> None:  # type: ignore[no-untyped-def]
    import asyncio
    import gc

    from opentelemetry.exporter.otlp.proto.http.metric_exporter import OTLPMetricExporter
    from opentelemetry.sdk.metrics import MeterProvider
    from opentelemetry.sdk.metrics.export import PeriodicExportingMetricReader
    from simhelpers import free_port

    out = io.StringIO()
    configure("info", "json", stream=out)

    async def fails() -> None:
        raise RuntimeError("never awaited")

    async def main() -> None:
        task = asyncio.get_running_loop().create_task(fails())
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        del task

    asyncio.run(main())
    gc.collect()  # the "never retrieved" report is made when the task is collected
    # A closed port: the exporter logs its failure through `logging`.
    exporter = OTLPMetricExporter(endpoint=f"http://127.0.0.1:{free_port()}/v1/metrics", timeout=2)
    provider = MeterProvider(metric_readers=[PeriodicExportingMetricReader(exporter, export_interval_millis=600_000)])
    provider.get_meter("t").create_counter("c").add(1)
    provider.force_flush(timeout_millis=10_000)
    provider.shutdown(timeout_millis=10_000)
    events = json_lines(out.getvalue())
    loggers = {e.get("logger", "") for e in events}
    assert "asyncio" in loggers
    assert any(name.startswith("opentelemetry.exporter") for name in loggers)


def test_warnings_and_uncaught_exceptions_in_threads_and_main_are_json_and_redacted() -> None:
    # Outside pytest, which captures warnings and uncaught exceptions itself.
    import subprocess
    import sys

    script = (
        "from exporters.core.logs import REDACTOR, configure\n"
        f"REDACTOR.add([{CANARY!r}])\n"
        "configure('info', 'json')\n"
        "import threading, warnings\n"
        f"def crash(): raise RuntimeError('thread died ' + {CANARY!r})\n"
        "t = threading.Thread(target=crash, name='worker'); t.start(); t.join()\n"
        f"warnings.warn('deprecated ' + {CANARY!r}[3:20], DeprecationWarning)\n"
        f"raise SystemError('fatal ' + {CANARY!r})\n"
    )
    result = subprocess.run([sys.executable, "-W", "always", "-c", script], capture_output=True, text=True,
                            timeout=60)
    assert result.returncode == 1
    events = json_lines(result.stderr)
    assert events[0]["where"] == "thread worker" and "RuntimeError" in events[0]["exception"]
    assert events[1]["logger"] == "py.warnings"
    assert events[-1]["level"] == "critical" and "SystemError" in events[-1]["exception"]
    assert not any(run in result.stderr for run in eight_char_runs(CANARY))
