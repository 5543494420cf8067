"""Builds the pass service's KeyContext from the running app's configuration."""
from __future__ import annotations

from flask import current_app

from ..extensions import redis_store
from .keyring import GENERATION_KEY, announce_change
from .service import KeyContext


def key_context() -> KeyContext:
    config = current_app.config
    return KeyContext(
        issuer_code=config["ISSUER_CODE"], secret=config["PASS_KEY_SECRET"], owner=current_app._get_current_object(),
        skew=config["PASS_CLOCK_SKEW_SECONDS"], ttl=config["PASS_TTL_SECONDS"],
        redis_client=redis_store.client, generation_key=redis_store.key(GENERATION_KEY),
    )


def key_ring_changed() -> bool:
    """After a committed key ring change: make every worker reload it now. False if Redis is down."""
    return announce_change(redis_store.client, redis_store.key(GENERATION_KEY))
