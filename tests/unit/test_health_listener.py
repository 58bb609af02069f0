"""The health listener (`service.health_port`): /healthz on its own socket and thread, from
the body the event loop last published. It answers while the event loop is busy, and says
503 when the loop has not published for `LOOP_STALL_S` (a hung loop)."""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time

import pytest

from exporters.service.health_listener import LOOP_STALL_S, HealthListener, HealthSnapshot, publish_forever


def get(port: int, request: bytes = b"GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n") -> tuple[int, dict]:
    with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
        conn.sendall(request)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)


@pytest.fixture
def listener():  # type: ignore[no-untyped-def]
    now = [1000.0]
    snapshot = HealthSnapshot(clock=lambda: now[0])
    server = HealthListener("127.0.0.1", 0, snapshot)
    server.start()
    try:
        yield server, snapshot, now
    finally:
        server.stop()


def test_it_answers_503_starting_until_the_loop_has_published(listener) -> None:  # type: ignore[no-untyped-def]
    server, _snapshot, _now = listener
    assert get(server.port) == (503, {"status": "starting"})


def test_it_serves_the_published_body_and_status(listener) -> None:  # type: ignore[no-untyped-def]
    server, snapshot, _now = listener
    snapshot.publish(200, {"status": "ok", "providers": {"vercel": {"up": True}}})
    assert get(server.port) == (200, {"status": "ok", "providers": {"vercel": {"up": True}}})
    snapshot.publish(503, {"status": "unhealthy"})
    assert get(server.port) == (503, {"status": "unhealthy"})


def test_a_loop_that_stopped_publishing_is_reported_unhealthy(listener) -> None:  # type: ignore[no-untyped-def]
    server, snapshot, now = listener
    snapshot.publish(200, {"status": "ok"})
    now[0] += LOOP_STALL_S + 5
    status, body = get(server.port)
    assert status == 503
    assert body["status"] == "unhealthy" and body["event_loop_stalled_seconds"] == LOOP_STALL_S + 5
    assert body["last"] == {"status": "ok"}


def test_only_get_healthz_is_served(listener) -> None:  # type: ignore[no-untyped-def]
    server, snapshot, _now = listener
    snapshot.publish(200, {"status": "ok"})
    assert get(server.port, b"GET /metrics HTTP/1.1\r\n\r\n")[0] == 404
    assert get(server.port, b"POST /healthz HTTP/1.1\r\n\r\n")[0] == 404


def test_a_client_that_sends_nothing_does_not_keep_others_out(listener) -> None:  # type: ignore[no-untyped-def]
    server, snapshot, _now = listener
    snapshot.publish(200, {"status": "ok"})
    with socket.create_connection(("127.0.0.1", server.port)):  # silent: cut off after CLIENT_TIMEOUT_S
        assert get(server.port)[0] == 200


async def test_it_answers_while_the_event_loop_is_blocked() -> None:
    snapshot = HealthSnapshot()
    stop = asyncio.Event()
    publishing = asyncio.create_task(publish_forever(snapshot, lambda: (200, {"status": "ok"}), stop))
    await asyncio.sleep(0)  # the first publication
    server = HealthListener("127.0.0.1", 0, snapshot)
    server.start()
    answered = threading.Event()
    answers: list[tuple[int, dict]] = []

    def probe() -> None:
        answers.append(get(server.port))
        answered.set()

    try:
        threading.Thread(target=probe, daemon=True).start()
        # Block the event loop itself until the probe has its answer (or a generous bound):
        # a listener that needed the loop could not answer before the bound.
        started = time.monotonic()
        assert answered.wait(timeout=60), "no answer while the event loop was blocked"
        assert time.monotonic() - started < 60
        assert answers == [(200, {"status": "ok"})]
    finally:
        stop.set()
        await publishing
        server.stop()


async def _get_async(port: int) -> tuple[int, dict]:
    return await asyncio.to_thread(get, port)


async def test_the_service_serves_healthz_on_its_health_port(simulator) -> None:  # type: ignore[no-untyped-def]
    from simhelpers import free_port

    from exporters.service.service import serve
    from exporters.simulator import simulator_runtime_inputs

    port, health_port = free_port(), free_port()
    config, secrets = simulator_runtime_inputs(simulator.base_url, {
        "service": {"listen_host": "127.0.0.1", "listen_port": port, "health_port": health_port}})
    stop = asyncio.Event()
    serving = asyncio.create_task(serve(config, secrets, stop=stop, install_signal_handlers=False))
    try:
        deadline = time.monotonic() + 120
        while True:  # until the first publication names every provider
            assert not serving.done(), serving
            try:
                status, body = await _get_async(health_port)
                if status == 200 and set(body.get("providers", {})) == set(config.providers.enabled()):
                    break
            except OSError:
                pass
            assert time.monotonic() < deadline, "the health port never answered 200"
            await asyncio.sleep(0.2)
        # The same document as the drain port's /healthz (up to the moment each was published).
        with socket.create_connection(("127.0.0.1", port), timeout=30) as conn:
            conn.sendall(b"GET /healthz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
            data = b""
            while chunk := await asyncio.to_thread(conn.recv, 65536):
                data += chunk
        assert json.loads(data.partition(b"\r\n\r\n")[2])["providers"].keys() == body["providers"].keys()
        assert (await _get_async(health_port))[0] == 200
    finally:
        stop.set()
        assert await asyncio.wait_for(serving, 60) == 0
    with pytest.raises(OSError):  # closed with the service
        socket.create_connection(("127.0.0.1", health_port), timeout=5).close()


async def test_a_health_port_in_use_is_a_config_error(simulator) -> None:  # type: ignore[no-untyped-def]
    from simhelpers import free_port

    from exporters.core.config import ConfigError
    from exporters.service.service import serve
    from exporters.simulator import simulator_runtime_inputs

    with socket.create_server(("127.0.0.1", 0)) as taken:
        config, secrets = simulator_runtime_inputs(simulator.base_url, {
            "service": {"listen_host": "127.0.0.1", "listen_port": free_port(),
                        "health_port": taken.getsockname()[1]}})
        with pytest.raises(ConfigError) as raised:
            await asyncio.wait_for(serve(config, secrets, stop=asyncio.Event(), install_signal_handlers=False), 60)
    assert "service.health_port" in str(raised.value)
