"""Partners, perks and redemption: a perk is given once, recorded once, and every refusal has a reason.

`redeem` is the one function that records a redemption; it is safe to call twice with the same
client id, and the database's unique constraints are the final word on "only once":
* `redemptions.client_id` unique: a retried request returns the first answer;
* `(pass_id, perk_id)` unique: the same pass cannot be redeemed twice at the same perk;
* `(perk_id, subject_id, local_day, day_slot)` unique: a daily limit of N gives slots 1..N.

Rounding (docs/api.md): payable_fen = floor((amount_fen * discount_permille + 500) / 1000), i.e. the
price rounded half up to the fen; discount_fen = amount_fen - payable_fen, then capped by the perk.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from sqlalchemy import func, select
from sqlalchemy.exc import IntegrityError

from ..credit.models import CreditSubject
from ..dbtypes import utcnow
from ..errors import DomainError
from ..extensions import db
from ..timeutil import local_day
from .models import FailedAttempt, HolidayCalendarDay, Partner, Perk, Redemption

pass_service = importlib.import_module("backend.pass.service")

OFFLINE_AFTER_SECONDS = 30  # a scan that reaches us later than this was queued on the device


@dataclass(frozen=True)
class RedeemRequest:
    token: str
    perk_id: int
    client_id: str
    scanned_at: datetime
    amount_fen: int | None
    partner_id: int
    device_id: int | None = None
    staff_id: int | None = None
    queued: bool = False  # the device says it queued the scan while offline


@dataclass(frozen=True)
class RedeemOutcome:
    redemption: Redemption
    replayed: bool


def list_partners() -> list[Partner]:
    return list(db.session.scalars(select(Partner).where(Partner.active.is_(True)).order_by(Partner.id)))


def price(*, amount_fen: int, discount_permille: int, max_discount_fen: int | None = None) -> tuple[int, int]:
    """(payable_fen, discount_fen) for a discount perk, by the one rounding rule above."""
    payable = (amount_fen * discount_permille + 500) // 1000
    discount = amount_fen - payable
    if max_discount_fen is not None and discount > max_discount_fen:
        discount = max_discount_fen
        payable = amount_fen - discount
    return payable, discount


def check_perk_rules(*, perk: Perk, holder_kind: str, tier_level: int, day) -> None:
    """Refuse if the perk is off, out of its dates or blacked out, or not for this kind and tier."""
    if not perk.active or not perk.partner.active:
        raise DomainError("perk_unavailable")
    if (perk.active_from and day < perk.active_from) or (perk.active_until and day > perk.active_until):
        raise DomainError("perk_unavailable", "该优惠不在有效期内")
    if perk.blackout_calendar and db.session.scalar(
        select(HolidayCalendarDay.id).where(HolidayCalendarDay.calendar == perk.blackout_calendar,
                                            HolidayCalendarDay.day == day)
    ):
        raise DomainError("perk_unavailable", "节假日期间暂停该优惠")
    if holder_kind not in perk.holder_kinds.split(","):
        raise DomainError("tier_not_eligible", "该优惠不适用于此类主体")
    if tier_level < perk.min_tier_level:
        raise DomainError("tier_not_eligible")


def _lock_subject(subject_id: int) -> CreditSubject | None:
    # FOR UPDATE serialises one holder's redemptions on PostgreSQL, so daily limits count correctly;
    # SQLite serialises all writers anyway and ignores the clause.
    return db.session.scalar(select(CreditSubject).where(CreditSubject.id == subject_id).with_for_update())


def _existing_for_client(request: RedeemRequest) -> Redemption | None:
    existing = db.session.scalar(select(Redemption).where(Redemption.client_id == request.client_id))
    if existing is not None and (existing.partner_id != request.partner_id or existing.perk_id != request.perk_id):
        raise DomainError("client_id_reused")
    return existing


def _record_failure(request: RedeemRequest, error: DomainError, *, pass_id=None, subject_id=None, offline=False):
    db.session.rollback()
    db.session.add(FailedAttempt(
        code=error.code, reason=error.detail.get("reason"), client_id=request.client_id,
        partner_id=request.partner_id, perk_id=request.perk_id, device_id=request.device_id,
        staff_id=request.staff_id, pass_id=pass_id, subject_id=subject_id, offline=offline,
        scanned_at=request.scanned_at,
    ))
    db.session.commit()


def redeem(*, ctx, request: RedeemRequest, offline_window_hours: int, now: datetime | None = None) -> RedeemOutcome:
    """Verify, check standing and rules, and record exactly one redemption (or raise with the reason)."""
    now = now or utcnow()
    existing = _existing_for_client(request)
    if existing is not None:
        return RedeemOutcome(existing, replayed=True)
    delay = (now - request.scanned_at).total_seconds()
    offline = request.queued or delay > OFFLINE_AFTER_SECONDS
    pass_id = subject_id = None
    try:
        if delay < -ctx.skew:
            raise DomainError("validation_error", "扫码时间晚于服务器时间")
        if delay > offline_window_hours * 3600:
            raise DomainError("offline_too_late")
        # A queued scan is judged at the moment it was scanned; the window above bounds how late.
        verify_at = min(now, request.scanned_at)
        claims = pass_service.verify(ctx=ctx, text=request.token, tier_levels=_tier_levels(),
                                     now=int(verify_at.timestamp()))
        pass_id = claims.pass_id
        perk = db.session.get(Perk, request.perk_id)
        if perk is None or perk.partner_id != request.partner_id:
            raise DomainError("perk_unavailable", "本商户没有该优惠")
        subject_id = pass_service.open_reference(ctx=ctx, claims=claims)
        tier_level = claims.tier
        if subject_id is not None:
            subject = _lock_subject(subject_id)
            if subject is None:
                raise DomainError("pass_invalid", reason="holder")
            if subject.black_listed:
                raise DomainError("holder_blacklisted")
            # The standing now decides, not the tier printed in a pass issued a minute ago.
            tier_level = subject.tier_level
            if tier_level < 1:
                raise DomainError("tier_not_eligible")
        day = local_day(request.scanned_at)
        check_perk_rules(perk=perk, holder_kind=claims.kind, tier_level=tier_level, day=day)
        redemption = _build(request, perk, claims, subject_id, tier_level, day, offline, now)
        db.session.add(redemption)
        db.session.flush()
    except DomainError as error:
        _record_failure(request, error, pass_id=pass_id, subject_id=subject_id, offline=offline)
        raise
    except IntegrityError:
        return _resolve_conflict(request, pass_id=pass_id, subject_id=subject_id, offline=offline)
    db.session.commit()
    return RedeemOutcome(redemption, replayed=False)


def _tier_levels():
    from ..credit.service import tier_levels
    return tier_levels()


def _build(request, perk, claims, subject_id, tier_level, day, offline, now) -> Redemption:
    amount = payable = discount = quota = None
    if perk.kind == "discount":
        if request.amount_fen is None or request.amount_fen <= 0:
            raise DomainError("amount_required")
        amount = request.amount_fen
        payable, discount = price(amount_fen=amount, discount_permille=perk.discount_permille,
                                  max_discount_fen=perk.max_discount_fen)
    if perk.quota_by_tier:
        quota = _quota_for(perk.quota_by_tier, tier_level)
    slot = None
    if perk.limit_per_holder_per_day and subject_id is not None:
        used = db.session.scalar(select(func.count()).select_from(Redemption).where(
            Redemption.perk_id == perk.id, Redemption.subject_id == subject_id, Redemption.local_day == day,
            Redemption.status == "recorded"))
        if used >= perk.limit_per_holder_per_day:
            raise DomainError("limit_reached")
        # Slots of voided redemptions stay taken, so the next slot follows the highest ever used.
        slot = (db.session.scalar(select(func.max(Redemption.day_slot)).where(
            Redemption.perk_id == perk.id, Redemption.subject_id == subject_id, Redemption.local_day == day)) or 0) + 1
    return Redemption(
        client_id=request.client_id, pass_id=claims.pass_id, perk_id=perk.id, partner_id=perk.partner_id,
        subject_id=subject_id, holder_kind=claims.kind, tier_level=tier_level, amount_fen=amount,
        payable_fen=payable, discount_fen=discount, quota=quota, status="recorded", offline=offline,
        scanned_at=request.scanned_at, recorded_at=now, local_day=day, day_slot=slot,
        device_id=request.device_id, staff_id=request.staff_id,
    )


def _quota_for(quota_by_tier: dict, tier_level: int) -> int | None:
    eligible = [int(level) for level in quota_by_tier if int(level) <= tier_level]
    return quota_by_tier[str(max(eligible))] if eligible else None


def _resolve_conflict(request: RedeemRequest, *, pass_id, subject_id, offline) -> RedeemOutcome:
    """A unique constraint fired: tell a retry, a replayed pass and a lost daily-limit race apart."""
    db.session.rollback()
    existing = _existing_for_client(request)
    if existing is not None:
        return RedeemOutcome(existing, replayed=True)
    used = db.session.scalar(select(Redemption.id).where(Redemption.pass_id == pass_id,
                                                        Redemption.perk_id == request.perk_id))
    error = DomainError("pass_already_used") if used else DomainError("limit_reached")
    _record_failure(request, error, pass_id=pass_id, subject_id=subject_id, offline=offline)
    raise error
