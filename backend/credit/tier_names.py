"""Tier level -> code and name, read by every issue, verification and redemption: one watched cache
for the whole app (backend/watched_cache.py), so a tier the office renames shows on the next request."""
from __future__ import annotations

from typing import NamedTuple

from ..watched_cache import WatchedCache
from .models import Tier
from .service import tiers


class TierName(NamedTuple):
    code: str
    name: str


TIER_NAMES = WatchedCache("tiers", generation_key="tiers:generation", watched={Tier: None},
                          entry_seconds=300, max_entries=1)


def tier_table() -> dict[int, TierName]:
    return TIER_NAMES.get_or_load("levels", lambda: {tier.level: TierName(tier.code, tier.name) for tier in tiers()})
