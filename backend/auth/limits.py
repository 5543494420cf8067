"""Rate limits of sign-in, SMS codes, identity binding and enrolment (Flask-Limiter, Redis storage).

Limits run before the view, so keys come from the raw request: the client address, the phone or
username in the body, or the subject of a correctly signed bearer token. Every limit is a setting
named in backend/config.py (RATE_LIMITS, e.g. RATELIMIT_SMS_PER_PHONE).
"""
from __future__ import annotations

from flask import current_app, request
from flask_limiter.util import get_remote_address

from ..config import RATE_LIMITS
from ..errors import DomainError
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
