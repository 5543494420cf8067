"""The numeric short code (数字码): a citizen's pass as 12 digits a cashier types when the camera fails.

Only asked-for codes exist: `issue` signs a pass exactly as POST /api/pass does and keeps its text in
Redis under 12 random digits, with the pass's remaining lifetime as the key's TTL; `take` deletes
and returns it in one command (GETDEL), so a code is good once, while its pass is valid, and only
online (the scanner cannot open it). Redis down: no code is handed out or read, and the refusal
says so (`short_code_unavailable`): the QR code still works.

Guessing: 10^12 codes, of which only the few asked for in the last minute exist, against a limit
of failed look-ups per device or cashier (RATELIMIT_SHORT_CODE_PER_PRINCIPAL, docs/security.md).
"""
from __future__ import annotations

import secrets
from datetime import datetime, timezone

import redis

from ..errors import DomainError, ErrorCode
from ..extensions import redis_store
from . import flows

DIGITS = 12
_TRIES = 5  # a clash with a live code is ~1e-7 likely: a few tries are plenty


def _key(code: str) -> str:
    return redis_store.key("short-code", code)


def issue(*, ctx, subject, tier_names) -> dict:
    """A fresh pass for `subject` (resolved as for POST /api/pass) under a new 12-digit code."""
    issued = flows.issue_for(ctx=ctx, subject=subject, tier_names=tier_names)
    remaining = datetime.fromisoformat(issued["expires_at"]) - datetime.now(timezone.utc)
    ttl_ms = max(1, int(remaining.total_seconds() * 1000))
    try:
        for _ in range(_TRIES):
            code = f"{secrets.randbelow(10 ** DIGITS):0{DIGITS}d}"
            if redis_store.client.set(_key(code), issued["token"], px=ttl_ms, nx=True):
                return {"short_code": code, "expires_at": issued["expires_at"]}
    except redis.RedisError:
        raise DomainError(ErrorCode.SHORT_CODE_UNAVAILABLE) from None
    raise DomainError(ErrorCode.SERVICE_UNAVAILABLE)


def well_formed(code: str) -> bool:
    return len(code) == DIGITS and code.isascii() and code.isdigit()


def take(code: str) -> str:
    """The pass text behind `code`, which is spent by this call; a wrong, used or expired code is refused."""
    if not well_formed(code):
        raise DomainError(ErrorCode.SHORT_CODE_INVALID)
    try:
        token = redis_store.client.getdel(_key(code))
    except redis.RedisError:
        raise DomainError(ErrorCode.SHORT_CODE_UNAVAILABLE) from None
    if token is None:
        raise DomainError(ErrorCode.SHORT_CODE_INVALID)
    return token
