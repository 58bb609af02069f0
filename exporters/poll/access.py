"""What one read of a provider's API says a token can see: the reads behind `check-config --probe`.

Each provider implements `probe(now)` next to its polls (exporters/providers/<name>/exporter.py)
with `read()` below; exporters/ops/probe.py runs them and prints the outcome.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any, TypeVar

from exporters.core.http import ProviderError

T = TypeVar("T")


class NotVisible(Exception):
    """The read answered, but what the config names is not in it (an id the token cannot see)."""


@dataclass(frozen=True)
class Access:
    """What one read said about a token: `what` is readable (ok) or not, and why."""

    provider: str
    what: str
    ok: bool
    detail: str


async def read(provider: str, what: str, call: Awaitable[T], seen: Callable[[T], str],
               hints: dict[int, str]) -> tuple[Access, T | None]:
    """Run one read; an Access saying what it showed (`seen(result)`) or why it failed (with the hint)."""
    try:
        result = await call
    except ProviderError as error:
        hint = hints.get(error.status or 0, "")
        return Access(provider, what, False, f"{error}" + (f"; {hint}" if hint else "")), None
    try:
        detail = seen(result)
    except NotVisible as missing:
        return Access(provider, what, False, str(missing)), result
    except (AttributeError, KeyError, TypeError, ValueError):
        return Access(provider, what, False, "answered, but not in the documented shape"), None
    return Access(provider, what, True, detail), result


def count_of(items: Any, noun: str) -> str:
    """`n <noun>` on the first page (a read asks for one page only)."""
    if not isinstance(items, list):
        raise ValueError("not a list")
    if len(items) == 1 and noun.endswith("s") and " series" not in noun:
        noun = noun[:-1]
    return f"readable ({len(items)} {noun} on the first page)" if items else f"readable (no {noun})"
