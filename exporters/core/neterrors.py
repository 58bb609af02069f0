"""Network errors in words: which host, and what went wrong (refused, no such name, TLS, timeout).

httpx names the exception class (`ConnectError`) and the OS error deep in its cause chain; an
operator needs `cannot connect to api.vercel.com: connection refused`. Every client in stackwatch
(the provider polls, `check-config --probe`, `validate` and `report`'s Prometheus reads) words its
transport failures here, so the wording is the same everywhere. No URL path, query or header is
shown: they can carry ids or tokens.
"""

from __future__ import annotations

import errno
import socket
import ssl

import httpx

_ERRNO_WORDS = {
    errno.ECONNREFUSED: "connection refused (nothing listens on that port)",
    errno.ECONNRESET: "connection reset by the peer",
    errno.EHOSTUNREACH: "host unreachable",
    errno.ENETUNREACH: "network unreachable",
    errno.ETIMEDOUT: "timed out",
    errno.ECONNABORTED: "connection aborted",
    errno.EPIPE: "connection closed by the peer",
}


def endpoint(url: httpx.URL | str) -> str:
    """`host` or `host:port` (the port only when it is not the scheme's default)."""
    parsed = httpx.URL(str(url)) if not isinstance(url, httpx.URL) else url
    host = parsed.host or "(no host)"
    default = {"http": 80, "https": 443}.get(parsed.scheme)
    return host if parsed.port in (None, default) else f"{host}:{parsed.port}"


def _causes(error: BaseException) -> list[BaseException]:
    chain, seen = [], set()
    current: BaseException | None = error
    while current is not None and id(current) not in seen and len(chain) < 10:
        chain.append(current)
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return chain


def cause(error: BaseException) -> str:
    """What went wrong, in words, from the deepest error that says it."""
    for inner in reversed(_causes(error)):
        if isinstance(inner, ssl.SSLCertVerificationError):
            return f"TLS certificate not trusted ({inner.verify_message or 'verification failed'})"
        if isinstance(inner, ssl.SSLError):
            return f"TLS handshake failed ({inner.reason or inner.__class__.__name__})"
        if isinstance(inner, socket.gaierror):
            return "the name does not resolve (DNS: no such host, or no network)"
        if isinstance(inner, OSError) and inner.errno in _ERRNO_WORDS:
            return _ERRNO_WORDS[inner.errno]
    if isinstance(error, httpx.ConnectTimeout):
        return "timed out while connecting"
    if isinstance(error, httpx.ReadTimeout):
        return "no answer within the timeout"
    if isinstance(error, httpx.WriteTimeout | httpx.PoolTimeout):
        return "timed out while sending"
    if isinstance(error, httpx.RemoteProtocolError):
        return "the server closed the connection or broke the HTTP protocol"
    if isinstance(error, httpx.UnsupportedProtocol):
        return "the URL has no http:// or https:// scheme"
    text = str(error).strip()
    # httpx's own texts are short and carry no URL; keep the first line only.
    return text.splitlines()[0][:160] if text else error.__class__.__name__


def describe(error: BaseException, url: httpx.URL | str | None = None) -> str:
    """`cannot connect to <host>: <cause>`, `<host> did not answer: …`, or the cause alone."""
    if url is None:
        request = getattr(error, "_request", None)
        url = request.url if request is not None else None
    where = endpoint(url) if url is not None else "the server"
    if isinstance(error, httpx.ConnectError | httpx.ConnectTimeout):
        return f"cannot connect to {where}: {cause(error)}"
    if isinstance(error, httpx.TimeoutException):
        return f"{where} did not answer in time: {cause(error)}"
    if isinstance(error, httpx.UnsupportedProtocol):
        return f"cannot reach {where}: {cause(error)}"
    return f"connection to {where} failed: {cause(error)}"
