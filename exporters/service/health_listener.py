"""A `/healthz` that a connection flood on the drain port cannot starve (`service.health_port`):
its own socket and thread, answering from the health body the event loop publishes, and 503
when that loop has stalled. Why and how: docs/operations.md, "Health".
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass

import structlog

log = structlog.get_logger("stackwatch.health")

PUBLISH_INTERVAL_S = 0.5
LOOP_STALL_S = 10.0
CLIENT_TIMEOUT_S = 2.0
MAX_HEAD_BYTES = 8 * 1024
QUEUE = 64


@dataclass(frozen=True)
class Published:
    status: int
    body: bytes
    at: float  # time.monotonic() when the loop published it


class HealthSnapshot:
    """The latest health body, written by the event loop, read by the listener's thread
    (one reference swap each way, so no lock is needed)."""

    def __init__(self, clock: Callable[[], float] = time.monotonic):
        self._clock = clock
        self._latest: Published | None = None

    def publish(self, status: int, body: dict) -> None:
        self._latest = Published(status, json.dumps(body).encode(), self._clock())

    def answer(self) -> tuple[int, bytes]:
        latest = self._latest
        if latest is None:
            return 503, json.dumps({"status": "starting"}).encode()
        age = self._clock() - latest.at
        if age > LOOP_STALL_S:
            return 503, json.dumps({"status": "unhealthy", "event_loop_stalled_seconds": round(age, 1),
                                    "last": json.loads(latest.body)}).encode()
        return latest.status, latest.body


async def publish_forever(snapshot: HealthSnapshot, health: Callable[[], tuple[int, dict]],
                          stop: asyncio.Event) -> None:
    while not stop.is_set():
        status, body = health()
        snapshot.publish(status, body)
        try:
            await asyncio.wait_for(stop.wait(), PUBLISH_INTERVAL_S)
        except asyncio.TimeoutError:
            pass


def _response(status: int, body: bytes) -> bytes:
    reason = {200: "OK", 404: "Not Found", 503: "Service Unavailable"}.get(status, "")
    return (f"HTTP/1.1 {status} {reason}\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n").encode() + body


class HealthListener:
    """`GET /healthz` on its own socket and thread. `start()` raises OSError if it cannot listen."""

    def __init__(self, host: str, port: int, snapshot: HealthSnapshot):
        self._snapshot = snapshot
        self._address = (host, port)
        self._socket: socket.socket | None = None
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()

    @property
    def port(self) -> int:
        return self._socket.getsockname()[1] if self._socket else self._address[1]

    def start(self) -> None:
        self._socket = socket.create_server(self._address, backlog=QUEUE,
                                            family=socket.AF_INET6 if ":" in self._address[0] else socket.AF_INET)
        self._socket.settimeout(0.5)  # so stop() is noticed
        self._thread = threading.Thread(target=self._serve, name="health-listener", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        self._stopping.set()
        if self._thread is not None:
            self._thread.join(timeout=2.0)
        if self._socket is not None:
            self._socket.close()

    def _serve(self) -> None:
        assert self._socket is not None
        while not self._stopping.is_set():
            try:
                conn, _addr = self._socket.accept()
            except TimeoutError:
                continue
            except OSError:
                if self._stopping.is_set():
                    return
                time.sleep(0.1)  # EMFILE and the like: try again shortly, without a log flood
                continue
            with conn:
                try:
                    self._handle(conn)
                except OSError:
                    pass  # the client went away or was too slow: nothing to answer

    def _handle(self, conn: socket.socket) -> None:
        conn.settimeout(CLIENT_TIMEOUT_S)
        head = b""
        while b"\r\n\r\n" not in head and b"\n\n" not in head and len(head) < MAX_HEAD_BYTES:
            chunk = conn.recv(MAX_HEAD_BYTES - len(head))
            if not chunk:
                break
            head += chunk
        line = head.split(b"\r\n", 1)[0].split()
        if len(line) >= 2 and line[0] == b"GET" and line[1].split(b"?", 1)[0] == b"/healthz":
            status, body = self._snapshot.answer()
        else:
            status, body = 404, b'{"error": "only GET /healthz is served on the health port"}'
        conn.sendall(_response(status, body))
