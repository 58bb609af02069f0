"""One module per board; each defines `board() -> Board` (see common.py). BOARDS lists them in link order."""

from __future__ import annotations

from importlib import import_module

from .common import Board

BOARD_MODULES = ("overview", "costs", "vercel", "render", "supabase", "ai", "slo", "stackwatch_self")


def boards() -> list[Board]:
    return [import_module(f"{__name__}.{name}").board() for name in BOARD_MODULES]
