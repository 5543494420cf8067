"""The merchant's own view of its redemptions: a day's list and totals, and holders under an alias."""
from __future__ import annotations

import base64
import hashlib
import hmac
from datetime import date

from sqlalchemy import select

from ..extensions import db
from .models import Redemption


def holder_alias(*, secret: str, partner_id: int, subject_id: int | None) -> str | None:
    """A short name for a holder that is stable at one merchant and means nothing at any other.

    Six base32 characters of HMAC-SHA256(secret, "partner|subject"): a merchant can see that a
    regular came back, but cannot link the alias to a person or to another merchant's alias.
    """
    if subject_id is None:
        return None
    key = hmac.new(secret.encode(), b"holder-alias-v1", hashlib.sha256).digest()
    digest = hmac.new(key, f"{partner_id}|{subject_id}".encode(), hashlib.sha256).digest()
    return base64.b32encode(digest).decode()[:6]


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
