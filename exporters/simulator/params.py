"""Query-parameter parsing the simulated providers share.

Real clients encode an array parameter in one of three ways, and the providers
accept all of them, so the simulator does too:

- repeated keys: `group_by=model&group_by=project_id` (OpenAPI `form`, explode=true;
  stackwatch's own client, `requests`, `httpx`);
- bracket keys: `group_by[]=model&group_by[]=project_id` (the OpenAI and Stainless
  SDKs' `array_format="brackets"`, PHP and Rails clients), and indexed brackets
  `group_by[0]=model` (`qs`'s `indices` form);
- comma-joined values: `group_by=model,project_id` (OpenAPI `form`, explode=false,
  which Render's document declares for its list filters).
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from multidict import MultiMapping

_BRACKETS = re.compile(r"^(?P<name>[^\[\]]+)\[\d*\]$")


def base_name(key: str) -> str:
    """`group_by[]` and `group_by[3]` are spellings of `group_by`."""
    match = _BRACKETS.match(key)
    return match.group("name") if match else key


def array_param(query: MultiMapping[str], name: str) -> list[str]:
    """Every value of array parameter `name`, in order, whichever encoding the client used
    (duplicates dropped, empty items ignored)."""
    values: list[str] = []
    for key, raw in query.items():
        if base_name(key) != name:
            continue
        for item in raw.split(","):
            item = item.strip()
            if item and item not in values:
                values.append(item)
    return values


def scalar_param(query: MultiMapping[str], name: str) -> str | None:
    """The single value of a scalar parameter (the last one when repeated, as most servers do)."""
    values = query.getall(name, [])
    return values[-1] if values else None


def parse_int(value: str | None) -> int | None:
    """A decimal integer, or None when absent or not one (`1e3`, `7.0`, `` are not)."""
    if value is None or not re.fullmatch(r"[+-]?\d{1,18}", value.strip()):
        return None
    return int(value)


def parse_bool(value: str | None) -> bool | None:
    """`true`/`false` (any case, also 1/0), None when absent; ValueError for anything else."""
    if value is None:
        return None
    lowered = value.strip().lower()
    if lowered in ("true", "1"):
        return True
    if lowered in ("false", "0"):
        return False
    raise ValueError(f"{value!r} is not a boolean")


def unknown_values(values: Iterable[str], allowed: Iterable[str]) -> list[str]:
    allowed_set = set(allowed)
    return [v for v in values if v not in allowed_set]
