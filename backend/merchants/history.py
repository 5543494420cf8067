"""The merchant's own view of its redemptions: a day's list and totals, and holders under an alias."""
from __future__ import annotations

import base64
import functools
import hashlib
import importlib
import hmac
from datetime import date, datetime, timedelta

from sqlalchemy import func, select

from ..extensions import db
from ..timeutil import local_day
from .models import Redemption

pass_service = importlib.import_module("backend.pass.service")


def holder_alias(*, secret: str, partner_id: int, subject_id: int | None) -> str | None:
    """A short name for a holder that is stable at one merchant and means nothing at any other.

    Six base32 characters of HMAC-SHA256(secret, "partner|subject"): a merchant can see that a
    regular came back, but cannot link the alias to a person or to another merchant's alias.
    """
    if subject_id is None:
        return None
    digest = hmac.new(_alias_key(secret), f"{partner_id}|{subject_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest[:5]).decode()[:6]  # base32 encodes 5-byte groups: the first group's 6 letters


@functools.lru_cache(maxsize=4)
def _alias_key(secret: str) -> bytes:
    """The alias key derived from the app's secret (once per secret: every redemption's answer carries an alias)."""
    return hmac.new(secret.encode(), b"holder-alias-v1", hashlib.sha256).digest()


def history(*, partner_id: int, day: date, perk_id: int | None = None) -> tuple[list[Redemption], dict]:
    """A merchant's redemptions of one local day (newest first) and the totals of those not voided."""
    query = select(Redemption).where(Redemption.partner_id == partner_id, Redemption.local_day == day)
    if perk_id is not None:
        query = query.where(Redemption.perk_id == perk_id)
    rows = list(db.session.scalars(query.order_by(Redemption.recorded_at.desc(), Redemption.id.desc())))
    recorded = [r for r in rows if r.status == "recorded"]
    totals = {"count": len(recorded), "amount_fen": sum(r.amount_fen or 0 for r in recorded),
              "discount_fen": sum(r.discount_fen or 0 for r in recorded)}
    return rows, totals


def recent_visits(*, partner_id: int, subject_id: int | None, minutes: int, now: datetime,
                  exclude_id: int | None = None) -> int:
    """How many redemptions, not voided, the holder had at this partner in the `minutes` before `now`:
    the cashier is warned of a repeat without learning anything else about the holder."""
    if subject_id is None:
        return 0
    since = now - timedelta(minutes=minutes)
    return db.session.scalar(select(func.count()).where(
        Redemption.partner_id == partner_id, Redemption.local_day >= local_day(since),
        Redemption.subject_id == subject_id, Redemption.status == "recorded", Redemption.id != (exclude_id or 0),
        Redemption.recorded_at >= since, Redemption.recorded_at <= now)) or 0


def recent_visits_of_pass(*, ctx, token: str, partner_id: int, minutes: int, tier_levels, now: datetime) -> int:
    """recent_visits for the holder of a pass the scanner has just verified (refused as a pass would be)."""
    claims = pass_service.verify(ctx=ctx, text=token, tier_levels=tier_levels, now=int(now.timestamp()))
    return recent_visits(partner_id=partner_id, subject_id=pass_service.open_reference(ctx=ctx, claims=claims),
                         minutes=minutes, now=now)
