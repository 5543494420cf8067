"""Builds the pass service's KeyContext from the running app's configuration."""
from __future__ import annotations

import time

from flask import current_app

from ..credit.service import tiers
from ..changefeed import announce_generation, current_feed, watch_generation
from ..extensions import redis_store
from .keyring import GENERATION_KEY
from .service import KeyContext


FEED_NAME = "keyring"
watch_generation(FEED_NAME, GENERATION_KEY)


def key_context() -> KeyContext:
    config = current_app.config
    feed = current_feed()
    return KeyContext(
        issuer_code=config["ISSUER_CODE"], secret=config["PASS_KEY_SECRET"], owner=current_app._get_current_object(),
        skew=config["PASS_CLOCK_SKEW_SECONDS"], ttl=config["PASS_TTL_SECONDS"],
        redis_client=redis_store.client, generation_key=redis_store.key(GENERATION_KEY),
        # The worker's change feed knows the ring's generation without a round trip while it is synced.
        generation=feed.generation(FEED_NAME) if feed.synced else None,
    )


def key_ring_changed() -> bool:
    """After a committed key ring change: make every worker reload it now. False if Redis is down."""
    return announce_generation(FEED_NAME)


TIER_CACHE_SECONDS = 30


def tier_table() -> dict[int, tuple[str, str]]:
    """Tier level -> (code, name), cached per app for a few seconds: every issue and verify reads it,
    the office changes it almost never, and a pass carries only the level, never the name."""
    cached = current_app.extensions.get("pass_tier_table")
    if cached is None or time.monotonic() - cached[0] > TIER_CACHE_SECONDS:
        cached = (time.monotonic(), {tier.level: (tier.code, tier.name) for tier in tiers()})
        current_app.extensions["pass_tier_table"] = cached
    return cached[1]
