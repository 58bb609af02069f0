"""Network errors in words: the host and the cause, from real failed connections (no mocks)."""

from __future__ import annotations

import socket
import threading

import httpx
import pytest
from simhelpers import free_port

from exporters.core.neterrors import describe, endpoint


def failure(url: str, timeout: float = 5.0) -> httpx.HTTPError:
    with pytest.raises(httpx.HTTPError) as caught:
        httpx.get(url, timeout=timeout)
    return caught.value


def test_a_refused_connection_names_the_host_port_and_refused():
    port = free_port()
    assert describe(failure(f"http://127.0.0.1:{port}/v10/projects?teamId=team_x")) == (
        f"cannot connect to 127.0.0.1:{port}: connection refused (nothing listens on that port)")


def test_a_name_that_does_not_resolve_says_so():
    text = describe(failure("https://api.stackwatch-test.invalid/v1/services"))  # .invalid never resolves (RFC 2606)
    assert text.startswith("cannot connect to api.stackwatch-test.invalid: the name does not resolve")


def serve(greeting: bytes):  # type: ignore[no-untyped-def]
    """Accepts connections, sends `greeting` (nothing: a hung API) and holds them open."""
    server = socket.socket()
    server.bind(("127.0.0.1", 0))
    server.listen(8)
    held: list[socket.socket] = []
    stop = threading.Event()

    def accept() -> None:
        server.settimeout(0.2)
        while not stop.is_set():
            try:
                conn, _ = server.accept()
            except OSError:
                continue
            held.append(conn)
            try:
                if greeting:
                    conn.sendall(greeting)
            except OSError:
                pass

    thread = threading.Thread(target=accept, daemon=True)
    thread.start()
    yield server.getsockname()[1]
    stop.set()
    thread.join(timeout=5)
    for conn in held:
        conn.close()
    server.close()


@pytest.fixture
def plain_server():
    yield from serve(b"not TLS, not HTTP\r\n\r\n")


@pytest.fixture
def silent_server():
    yield from serve(b"")


def test_a_tls_handshake_with_a_plain_server_names_tls(plain_server: int):
    text = describe(failure(f"https://127.0.0.1:{plain_server}/"))
    assert text.startswith(f"cannot connect to 127.0.0.1:{plain_server}: TLS handshake failed"), text


def test_a_server_that_never_answers_is_a_timeout_naming_the_host(silent_server: int):
    with pytest.raises(httpx.HTTPError) as caught:
        httpx.get(f"http://127.0.0.1:{silent_server}/", timeout=httpx.Timeout(5.0, read=0.5))
    assert describe(caught.value) == f"127.0.0.1:{silent_server} did not answer in time: no answer within the timeout"


def test_a_server_that_breaks_http_says_so(plain_server: int):
    assert describe(failure(f"http://127.0.0.1:{plain_server}/")) == (
        f"connection to 127.0.0.1:{plain_server} failed: the server closed the connection or broke the HTTP protocol")


def test_no_path_query_or_credentials_are_shown():
    port = free_port()
    text = describe(failure(f"http://user:secret-token@127.0.0.1:{port}/private/path?key=abc"))
    assert "secret-token" not in text and "private" not in text and "abc" not in text
    assert endpoint("https://api.vercel.com/v10/projects") == "api.vercel.com"
    assert endpoint("http://localhost:9090") == "localhost:9090"
