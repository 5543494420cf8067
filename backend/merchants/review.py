"""The office's review of redemptions: offline conflicts to resolve, and the failed attempts."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db
from .. import audit
from ..timeutil import check_day_range, day_start
from .models import FailedAttempt, Redemption, RedemptionConflict


def list_conflicts(*, unresolved_only: bool = True) -> list[RedemptionConflict]:
    query = select(RedemptionConflict)
    if unresolved_only:
        query = query.where(RedemptionConflict.resolved_at.is_(None))
    return list(db.session.scalars(query.order_by(RedemptionConflict.id)))


def first_redemption(conflict: RedemptionConflict) -> Redemption:
    """The redemption that stands, of the two a conflict is about."""
    return db.session.get(Redemption, conflict.redemption_id)


def resolve_conflict(*, conflict_id: int, actor: str, resolution: str, now: datetime | None = None) -> RedemptionConflict:
    """The office closes a reviewed conflict with what it decided; audited."""
    resolution = (resolution or "").strip()
    if not resolution:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "请填写处理结论", field="resolution")
    conflict = db.session.scalar(select(RedemptionConflict).where(RedemptionConflict.id == conflict_id)
                                 .with_for_update())
    if conflict is None:
        raise DomainError(ErrorCode.NOT_FOUND)
    if conflict.resolved_at is not None:
        raise DomainError(ErrorCode.CONFLICT, "该冲突已处理")
    conflict.resolved_at, conflict.resolution = now or utcnow(), resolution
    audit.record(actor=actor, action="redemption_conflict.resolve", target=f"redemption_conflict:{conflict.id}",
                 detail={"resolution": resolution, "redemption_id": conflict.redemption_id})
    db.session.commit()
    return conflict


def list_failed_attempts(*, day_from: date | None = None, day_to: date | None = None, code: str | None = None,
                         partner_id: int | None = None, limit: int = 500) -> list[FailedAttempt]:
    check_day_range(day_from, day_to)
    query = select(FailedAttempt)
    if code:
        query = query.where(FailedAttempt.code == code)
    if partner_id:
        query = query.where(FailedAttempt.partner_id == partner_id)
    if day_from:
        query = query.where(FailedAttempt.at >= day_start(day_from))
    if day_to:
        query = query.where(FailedAttempt.at < day_start(day_to + timedelta(days=1)))
    return list(db.session.scalars(query.order_by(FailedAttempt.id.desc()).limit(limit)))
