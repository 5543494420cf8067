"""Rate limits of sign-in, SMS codes, identity binding and enrolment (Flask-Limiter, Redis storage).

Limits run before the view, so keys come from the raw request: the client address, the phone or
username in the body, or the subject of a correctly signed bearer token. Every limit is a setting
named in backend/config.py (RATE_LIMITS, e.g. RATELIMIT_SMS_PER_PHONE).
"""
from __future__ import annotations

import logging
import math
import time
from contextlib import contextmanager

from flask import current_app, request
from flask_limiter.util import get_remote_address
from limits import parse_many

from ..config import RATE_LIMITS
from ..errors import DomainError, ErrorCode
from ..extensions import limiter
from .citizens import normalise_phone
from .service import unverified_subject

def setting(name: str):
    """The limit `name` as the app is configured, or its default (backend/config.py RATE_LIMITS)."""
    return lambda: current_app.config.get(name, RATE_LIMITS[name])


def _body_field(field: str) -> str:
    body = request.get_json(silent=True)
    value = body.get(field) if isinstance(body, dict) else None
    return str(value).strip().lower()[:64] if value is not None else ""


def client_ip() -> str:
    return "ip:" + (get_remote_address() or "unknown")


def phone_key() -> str:
    """One counter per phone however it is written (`normalise_phone`); a number that is no phone
    keeps its own text as key, and the view refuses it."""
    phone = _body_field("phone")
    try:
        return "phone:" + normalise_phone(phone)
    except DomainError:
        return "phone:" + phone


def username_key() -> str:
    return "user:" + _body_field("username")


def account_key() -> str:
    header = request.headers.get("Authorization", "")
    token = header[7:] if header[:7].lower() == "bearer " else ""
    subject = unverified_subject(secret=current_app.config["SECRET_KEY"], token=token) if token else None
    return subject or client_ip()


def failed(response) -> bool:
    """Count only refusals: staff who type their password right are never locked out by a neighbour."""
    return response.status_code >= 400


log = logging.getLogger(__name__)


@contextmanager
def failures_counted(setting_name: str, *, scope: str):
    """Refuse with 429 `rate_limited` (and the wait) while the caller's failures in `scope` are at
    the limit `setting_name` (e.g. "10/minute;30/hour"), and count one more failure when the block
    raises a refusal (a DomainError).

    For a limit that only some requests of a route pay, such as the short code's failed look-ups
    at POST /api/redemptions: a route-wide `@limiter.limit` made Flask-Limiter evaluate every request
    of the route, every scanned pass included, to exempt it. The counters are Flask-Limiter's own
    (its strategy and storage through the `limits` library, under the same key prefix, with its
    in-memory fallback); if the storage fails, the request goes on, as with its other limits."""
    if not limiter.enabled:
        yield
        return
    items = parse_many(current_app.config[setting_name])
    key = account_key()
    strategy = limiter.limiter
    try:
        for item in items:
            if not strategy.test(item, scope, key):
                reset_at, _remaining = strategy.get_window_stats(item, scope, key)
                raise DomainError(ErrorCode.RATE_LIMITED, retry_after=max(1, math.ceil(reset_at - time.time())))
    except DomainError:
        raise
    except Exception as error:  # noqa: BLE001 - the storage's own errors: limits never fail a request
        log.warning("rate limit %s not checked: %s", setting_name, error)
    try:
        yield
    except DomainError:
        try:
            for item in items:
                strategy.hit(item, scope, key)
        except Exception as error:  # noqa: BLE001 - as above
            log.warning("rate limit %s not counted: %s", setting_name, error)
        raise
