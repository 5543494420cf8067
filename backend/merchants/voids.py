"""Voiding a redemption: the merchant its own within a window, the office any with a reason; audited."""
from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from .. import audit
from .models import Redemption


def void(*, redemption_id: int, actor: str, reason: str | None, partner_id: int | None = None,
         window_minutes: int | None = None, now: datetime | None = None) -> Redemption:
    """Void a redemption, audited. A merchant (partner_id given) only its own, within the window;
    the office (partner_id None) any, at any time, with a reason."""
    now = now or utcnow()
    reason = (reason or "").strip() or None
    redemption = db.session.scalar(select(Redemption).where(Redemption.id == redemption_id).with_for_update())
    if redemption is None or (partner_id is not None and redemption.partner_id != partner_id):
        raise DomainError(ErrorCode.NOT_FOUND, "找不到该核销记录")
    if partner_id is None and reason is None:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "信用办撤销核销须填写原因", field="reason")
    if redemption.status == "voided":
        raise DomainError(ErrorCode.ALREADY_VOIDED)
    if partner_id is not None and now > voidable_until(redemption, window_minutes):
        raise DomainError(ErrorCode.VOID_WINDOW_CLOSED)
    redemption.status, redemption.voided_at, redemption.voided_by = "voided", now, actor
    redemption.void_reason = reason
    audit.record(actor=actor, action="redemption.void", target=f"redemption:{redemption.id}",
                 detail={"reason": reason, "partner_id": redemption.partner_id, "perk_id": redemption.perk_id,
                         "amount_fen": redemption.amount_fen, "discount_fen": redemption.discount_fen,
                         "by": "merchant" if partner_id is not None else "office"})
    db.session.commit()
    return redemption


def voidable_until(redemption: Redemption, window_minutes: int | None) -> datetime | None:
    """Until when the merchant may void it (counted from when the server recorded it)."""
    if window_minutes is None:
        return None
    return redemption.recorded_at + timedelta(minutes=window_minutes)
