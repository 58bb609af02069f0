"""One module per board; each defines `board() -> Board` (see common.py). BOARDS lists them in link order."""

from __future__ import annotations

from . import ai, costs, overview, render, slo, stackwatch_self, supabase, vercel
from .common import Board

BOARDS = (overview, costs, vercel, render, supabase, ai, slo, stackwatch_self)


def boards() -> list[Board]:
    return [module.board() for module in BOARDS]
