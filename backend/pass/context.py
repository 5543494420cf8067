"""Builds the pass service's KeyContext from the running app's configuration."""
from __future__ import annotations

from flask import current_app

from .keyring import KEY_RING
from .service import KeyContext


def key_context() -> KeyContext:
    config = current_app.config
    return KeyContext(issuer_code=config["ISSUER_CODE"], secret=config["PASS_KEY_SECRET"],
                      skew=config["PASS_CLOCK_SKEW_SECONDS"], ttl=config["PASS_TTL_SECONDS"])


def key_ring_changed() -> bool:
    """After a committed key ring change: make every worker reload it now. False if Redis is down.
    (A commit through the ORM announces by itself; the CLI asks again to learn whether Redis heard.)"""
    return KEY_RING.announce_change()
