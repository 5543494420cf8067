"""Builds the pass service's KeyContext from the running app's configuration."""
from __future__ import annotations

from flask import current_app

from .service import KeyContext


def key_context() -> KeyContext:
    config = current_app.config
    return KeyContext(
        issuer_code=config["ISSUER_CODE"], secret=config["PASS_KEY_SECRET"], owner=current_app._get_current_object(),
        skew=config["PASS_CLOCK_SKEW_SECONDS"], ttl=config["PASS_TTL_SECONDS"],
    )
