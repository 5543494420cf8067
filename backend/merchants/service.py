"""Redemption: a perk is given once, recorded once, and every refusal has a reason.

`redeem` is the one function that records a redemption. It reads as the steps of
docs/architecture.md: verify the pass, open the seal, the perk's rules, the price, record, and
judge again only when nothing was written. It is safe to call twice with the same client id, and
the database's unique constraints are the final word on "only once":
* `redemptions.client_id` unique: a retried request returns the first answer;
* `(pass_id, perk_id)` unique: the same pass cannot be redeemed twice at the same perk;
* `(perk_id, subject_id, local_day, day_slot)` unique: a daily limit of N gives slots 1..N.
(`local_day` is the day the pass was issued: on PostgreSQL each key also holds it, since the table
is partitioned by it; merchants/partitions.py says why that keeps "only once".)

The common case is one autocommit statement: the perk's rules come from the worker's memory
(`PERK_FACTS`, never stale: backend/watched_cache.py), they are judged on the tier the pass shows,
and the insert (store.py) records only while the holder's standing is still that, and only if no
unique key is taken. When it writes nothing (a retry, a replayed pass, a daily slot already taken,
a holder whose standing changed since the pass was issued), or when the rules refuse what the pass
shows, the request is judged again in a transaction that locks the holder's row and reads every
fact: that tells those cases apart and names the reason in the documented order (docs/api.md).

Rounding (docs/api.md): payable_fen = floor((amount_fen * discount_permille + 500) / 1000), i.e. the
price rounded half up to the fen; discount_fen = amount_fen - payable_fen, then capped by the perk.
"""
from __future__ import annotations

import importlib
from dataclasses import dataclass, replace
from datetime import date, datetime
from types import SimpleNamespace

from sqlalchemy import Date, bindparam, exists, func, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..credit.models import CreditSubject
from ..credit.service import tier_levels as credit_tier_levels
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..extensions import db, read_outside_transaction
from ..timeutil import from_unix, local_day
from ..watched_cache import WatchedCache
from .models import FailedAttempt, HolidayCalendarDay, Partner, Perk, Redemption, RedemptionConflict
from .perk_rules import check_hours
from .store import store

pass_service = importlib.import_module("backend.pass.service")
short_codes = importlib.import_module("backend.pass.short_code")
pass_codec = importlib.import_module("backend.pass.codec")

OFFLINE_AFTER_SECONDS = 30  # a scan that reaches us later than this was queued on the device
CONFLICT_MESSAGE = "该信用码已在其他设备核销，本次离线核销已提交信用办复核"
# PostgreSQL aborts one side of a deadlock (40P01) or a serialization conflict (40001): nothing of
# that transaction was recorded, so judging again from the start is safe.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}
LOCK_PATH_ATTEMPTS = 3


@dataclass(frozen=True)
class RedeemRequest:
    token: str | None  # the pass's text, or None when the cashier typed the holder's short code
    perk_id: int
    client_id: str
    scanned_at: datetime
    amount_fen: int | None
    partner_id: int
    device_id: int | None = None
    staff_id: int | None = None
    queued: bool = False  # the device says it queued the scan while offline
    short_code: str | None = None  # 12 digits standing for a pass (backend/pass/short_code.py), online only


@dataclass(frozen=True)
class Attempt:
    """One scan being judged: the request, and what its verified pass established."""

    request: RedeemRequest
    claims: object  # the pass's claims (backend/pass/codec.py PassClaims)
    subject_id: int | None  # the holder's row; None for a partner city's pass
    # The local day the pass was issued on: daily limits and statistics count by it. It is the scan's
    # day except for a pass scanned in the minutes after the midnight it was issued before, and it
    # keeps every use of one pass on one day, so in one monthly partition (merchants/partitions.py).
    day: date
    offline: bool
    now: datetime
    visitor_tag: str | None = None  # a partner city's visitor at a limited perk: counts as subject_id does


@dataclass(frozen=True)
class RedeemOutcome:
    redemption: Redemption | SimpleNamespace  # a just-recorded one has a Redemption's attributes
    replayed: bool


def redeem(*, ctx, request: RedeemRequest, offline_window_hours: int, tier_levels=None,
           now: datetime | None = None, could_have_been_offline=lambda *, at, now: True, visitor=None) -> RedeemOutcome:
    """Verify, check standing and rules, and record exactly one redemption (or raise with the reason).

    Raises DomainError; every refusal except a replayed client id is also written to failed_attempts.
    A client id seen before is found on the way out, when nothing could be written or a check
    refuses, and then the first answer is returned instead. `could_have_been_offline(at=, now=)`
    says whether this request's scanner was out of touch at `at` (the view asks auth's contacts).
    `visitor(claims=, text=, limited=)` gives a partner city's pass its tier here and, at a limited
    perk, the visitor's day tag, or refuses (backend/federation/visitors.py, handed in by the view).
    """
    now = now or utcnow()
    delay = (now - request.scanned_at).total_seconds()
    offline = request.queued or delay > OFFLINE_AFTER_SECONDS
    pass_id = subject_id = issuer_code = None
    try:
        if delay < -ctx.skew:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "扫码时间晚于服务器时间")
        if delay > offline_window_hours * 3600:
            raise DomainError(ErrorCode.OFFLINE_TOO_LATE)
        # An offline scan's time must fall in a silence of its scanner (backend/auth/contacts.py,
        # asked through the view): a scanner the server kept hearing from cannot have been offline then.
        if offline and not could_have_been_offline(at=request.scanned_at, now=now):
            raise DomainError(ErrorCode.OFFLINE_TIME_IMPLAUSIBLE)
        # 1. Verify the pass as it was when scanned (the window above bounds how late that may be).
        text = request.token if request.short_code is None else short_codes.take(request.short_code)  # spent now
        claims = pass_service.verify(ctx=ctx, text=text, tier_levels=tier_levels or credit_tier_levels(),
                                     now=int(min(now, request.scanned_at).timestamp()))
        pass_id, issuer_code = claims.pass_id, claims.issuer
        # 2. Open the seal: whose pass it is.
        subject_id = pass_service.open_reference(ctx=ctx, claims=claims)
        attempt = Attempt(request, claims, subject_id, local_day(from_unix(claims.issued_at)), offline, now)
        # 3. The perk's rules, from memory, judged on the tier the pass shows; 4. the price.
        perk = PERK_FACTS.get_or_load((request.perk_id, attempt.day), lambda: _read_perk(request.perk_id, attempt.day))
        if subject_id is None and visitor is not None:  # a partner city's pass: its tier here, its day tag
            limited = bool(perk and perk.rules.partner_id == request.partner_id and perk.rules.limit_per_holder_per_day)
            tier, tag = visitor(claims=claims, text=text, limited=limited)
            attempt = replace(attempt, claims=replace(claims, tier=tier), visitor_tag=tag)
        try:  # optimistically the holder's first use that day: if slot 1 is taken, nothing is written
            row = _row(attempt, perk, tier_level=attempt.claims.tier, day_slot=1)
        except DomainError:
            row = None  # refused on what the pass shows: the standing now may differ (judged again below)
        # 5. Record, if the holder's standing is still what the pass shows and no unique key is taken.
        new_id = store.insert(row) if row is not None else None
        if new_id is not None:
            return RedeemOutcome(SimpleNamespace(id=new_id, voided_at=None, voided_by=None, void_reason=None, **row),
                                 replayed=False)
        # 6. Nothing written: judge again on every fact, holding the holder's row.
        redemption = _record_under_lock(attempt)
        if redemption is not None:
            return RedeemOutcome(redemption, replayed=False)
        refusal = None  # a unique key is taken: which one is told below, after a retry's first answer
    except DomainError as error:
        refusal = error
    db.session.rollback()
    # The client's id short-circuits: a retry of a scan already answered gets that answer,
    # whatever would be refused now.
    existing = _first_answer_or_record(request, pass_id=pass_id, offline=offline)
    if existing is not None:
        return RedeemOutcome(existing, replayed=True)
    if refusal is None:
        refusal = _taken(request, pass_id=pass_id, offline=offline)
    elif refusal.detail.get("reason") == "holder":
        subject_id = None  # the reference opened to no holder row: nothing to point the attempt at
    _record_failure(request, refusal, pass_id=pass_id, subject_id=subject_id, offline=offline, issuer_code=issuer_code)
    raise refusal


def price(*, amount_fen: int, discount_permille: int, max_discount_fen: int | None = None) -> tuple[int, int]:
    """(payable_fen, discount_fen) for a discount perk, by the one rounding rule above."""
    payable = (amount_fen * discount_permille + 500) // 1000
    discount = amount_fen - payable
    if max_discount_fen is not None and discount > max_discount_fen:
        discount = max_discount_fen
        payable = amount_fen - discount
    return payable, discount


def check_perk_rules(*, perk, partner_active: bool, blacked_out: bool, holder_kind: str, tier_level: int,
                     day) -> None:
    """Refuse if the perk is off, out of its dates or blacked out, or not for this kind and tier."""
    if not perk.active or not partner_active:
        raise DomainError(ErrorCode.PERK_UNAVAILABLE)
    if (perk.active_from and day < perk.active_from) or (perk.active_until and day > perk.active_until):
        raise DomainError(ErrorCode.PERK_UNAVAILABLE, "该优惠不在有效期内")
    if blacked_out:
        raise DomainError(ErrorCode.PERK_UNAVAILABLE, "节假日期间暂停该优惠")
    if holder_kind not in perk.holder_kinds.split(","):
        raise DomainError(ErrorCode.TIER_NOT_ELIGIBLE, "该优惠不适用于此类主体")
    if tier_level < perk.min_tier_level:
        raise DomainError(ErrorCode.TIER_NOT_ELIGIBLE)


def _row(attempt: Attempt, perk: PerkFacts | None, *, tier_level: int, day_slot: int) -> dict:
    """The redemption to record (a value for each of store.COLUMNS), if the perk's rules give it to
    this holder kind and tier at this merchant on this day; `day_slot` counts for limited perks only."""
    request = attempt.request
    if perk is None or perk.rules.partner_id != request.partner_id:
        raise DomainError(ErrorCode.PERK_UNAVAILABLE, "本商户没有该优惠")
    rules = perk.rules
    if tier_level < 1:
        raise DomainError(ErrorCode.TIER_NOT_ELIGIBLE)
    check_perk_rules(perk=rules, partner_active=perk.partner_active, blacked_out=perk.blacked_out,
                     holder_kind=attempt.claims.kind, tier_level=tier_level, day=attempt.day)
    check_hours(rules.time_windows, request.scanned_at)
    amount = payable = discount = None
    if rules.kind == "discount":
        if request.amount_fen is None or request.amount_fen <= 0:
            raise DomainError(ErrorCode.AMOUNT_REQUIRED)
        amount = request.amount_fen
        payable, discount = price(amount_fen=amount, discount_permille=rules.discount_permille,
                                  max_discount_fen=rules.max_discount_fen)
    limited = rules.limit_per_holder_per_day and (attempt.subject_id is not None or attempt.visitor_tag is not None)
    return {
        "client_id": request.client_id, "pass_id": attempt.claims.pass_id, "perk_id": rules.id,
        "partner_id": rules.partner_id, "subject_id": attempt.subject_id, "issuer_code": attempt.claims.issuer,
        "visitor_tag": attempt.visitor_tag, "holder_kind": attempt.claims.kind,
        "tier_level": tier_level, "amount_fen": amount, "payable_fen": payable, "discount_fen": discount,
        "quota": _quota_for(rules.quota_by_tier, tier_level) if rules.quota_by_tier else None,
        "status": "recorded", "offline": attempt.offline, "scanned_at": request.scanned_at,
        "recorded_at": attempt.now, "local_day": attempt.day, "day_slot": day_slot if limited else None,
        "device_id": request.device_id, "staff_id": request.staff_id,
    }


def _quota_for(quota_by_tier: dict, tier_level: int) -> int | None:
    eligible = [int(level) for level in quota_by_tier if int(level) <= tier_level]
    return quota_by_tier[str(max(eligible))] if eligible else None


# -- the perk's facts, and every fact -------------------------------------------------------------

@dataclass(frozen=True)
class PerkRules:
    """A perk's rules as read for one judgement (the attributes `check_perk_rules` and `_row` use)."""

    id: int
    partner_id: int
    kind: str
    active: bool
    active_from: date | None
    active_until: date | None
    holder_kinds: str
    min_tier_level: int
    discount_permille: int | None
    max_discount_fen: int | None
    quota_by_tier: dict | None
    limit_per_holder_per_day: int | None
    blackout_calendar: str | None
    time_windows: list | None


@dataclass(frozen=True)
class PerkFacts:
    """What judging a perk needs besides the holder: its rules, its partner's state, the day's blackout."""

    rules: PerkRules
    partner_active: bool
    blacked_out: bool


# Keyed by (perk id, local day). The office changes perks, partners and calendars rarely; every
# redemption reads them.
PERK_FACTS = WatchedCache("perks", generation_key="perks:generation", watched={
    Perk: None, Partner: ("active",), HolidayCalendarDay: None,
}, entry_seconds=300, max_entries=10_000)

_RULE_COLUMNS = [getattr(Perk, name) for name in PerkRules.__dataclass_fields__]
_PERK = (  # the perk, its partner's state and whether the day is blacked out
    select(*_RULE_COLUMNS, Partner.active.label("partner_active"),
           exists().where(HolidayCalendarDay.calendar == Perk.blackout_calendar,
                          HolidayCalendarDay.day == bindparam("day", type_=Date),
                          HolidayCalendarDay.kind == "holiday").label("blacked_out"))  # 调休上班 is no holiday
    .select_from(Perk).join(Partner, Partner.id == Perk.partner_id).where(Perk.id == bindparam("perk_id"))
)
_SAME_HOLDER_DAY = (Redemption.perk_id == bindparam("perk_id"), Redemption.subject_id == bindparam("subject_id"),
                    Redemption.local_day == bindparam("day", type_=Date))
# Everything the lock path judges on, in one statement: the perk as above, the holder's standing now
# (no row for a partner city's pass), and the holder's use of the perk that day (recorded uses for
# the limit; the highest slot ever taken).
_EVERY_FACT = _PERK.add_columns(
    CreditSubject.id.label("holder_id"), CreditSubject.black_listed, CreditSubject.tier_level.label("holder_tier"),
    select(func.count()).where(*_SAME_HOLDER_DAY, Redemption.status == "recorded").scalar_subquery().label("used"),
    select(func.max(Redemption.day_slot)).where(*_SAME_HOLDER_DAY).scalar_subquery().label("max_slot"),
).outerjoin(CreditSubject, CreditSubject.id == bindparam("subject_id"))
# The same for a partner city's visitor: no holder row here; their day tag counts their uses.
_SAME_VISITOR_DAY = (Redemption.perk_id == bindparam("perk_id"), Redemption.visitor_tag == bindparam("visitor_tag"),
                     Redemption.local_day == bindparam("day", type_=Date))
_EVERY_VISITOR_FACT = _PERK.add_columns(
    select(func.count()).where(*_SAME_VISITOR_DAY, Redemption.status == "recorded").scalar_subquery().label("used"),
    select(func.max(Redemption.day_slot)).where(*_SAME_VISITOR_DAY).scalar_subquery().label("max_slot"))


def _read_perk(perk_id: int, day: date) -> PerkFacts | None:
    rows = read_outside_transaction(_PERK, {"perk_id": perk_id, "day": day})
    return _perk_facts_of(rows[0]) if rows else None


def _perk_facts_of(row) -> PerkFacts:
    return PerkFacts(PerkRules(*row[:len(_RULE_COLUMNS)]), row.partner_active, row.blacked_out)


# -- judged again under the holder's lock ----------------------------------------------------------

def _record_under_lock(attempt: Attempt) -> Redemption | None:
    """Judge on every fact and record in one transaction holding the holder's row, so one holder's
    redemptions take turns: a daily slot is then either free or truly used up. Raises the first
    failing step's refusal; None when a unique key is taken (a retry, a replayed pass, a full day).

    A transaction PostgreSQL aborted for a deadlock is judged again from the start: one can happen
    between this and an autocommit insert of the same holder, perk and day, each waiting on a
    unique entry of the other."""
    request, subject_id = attempt.request, attempt.subject_id
    for attempt_number in range(1, LOCK_PATH_ATTEMPTS + 1):
        try:
            if subject_id is not None:
                _lock_subject(subject_id)  # the facts are read after the lock: they include every earlier turn
            facts = db.session.execute(_EVERY_FACT if attempt.visitor_tag is None else _EVERY_VISITOR_FACT, {
                "perk_id": request.perk_id, "subject_id": subject_id, "visitor_tag": attempt.visitor_tag,
                "day": attempt.day}).first()
            if facts is None or facts.partner_id != request.partner_id:
                raise DomainError(ErrorCode.PERK_UNAVAILABLE, "本商户没有该优惠")
            tier_level = attempt.claims.tier
            if subject_id is not None:
                if facts.holder_id is None:
                    raise DomainError(ErrorCode.PASS_INVALID, reason="holder")
                if facts.black_listed:
                    raise DomainError(ErrorCode.HOLDER_BLACKLISTED)
                tier_level = facts.holder_tier  # the standing now decides, not the tier printed in the pass
            row = _row(attempt, _perk_facts_of(facts), tier_level=tier_level, day_slot=(facts.max_slot or 0) + 1)
            limit = facts.limit_per_holder_per_day
            if limit and (subject_id is not None or attempt.visitor_tag is not None) and facts.used >= limit:
                return None  # the day is full, or this pass is a replay: the caller names which
            redemption = Redemption(**row)
            db.session.add(redemption)
            db.session.commit()
            return redemption
        except IntegrityError:
            db.session.rollback()
            return None
        except OperationalError as error:
            db.session.rollback()
            if getattr(error.orig, "sqlstate", None) not in _RETRYABLE_SQLSTATES or attempt_number == LOCK_PATH_ATTEMPTS:
                raise
    raise AssertionError("unreachable")


def _lock_subject(subject_id: int) -> None:
    # FOR NO KEY UPDATE serialises one holder's judged-again redemptions on PostgreSQL, so daily
    # limits count correctly, without blocking the FOR KEY SHARE that an insert's foreign-key check
    # takes on the same row. (FOR UPDATE would: an autocommit insert holding a unique-index entry
    # would wait for the lock while the lock holder's own insert waited for that entry, a deadlock.)
    # SQLite serialises all writers anyway and ignores the clause.
    db.session.execute(select(CreditSubject.id).where(CreditSubject.id == subject_id)
                       .with_for_update(key_share=True))


# -- on the way out: first answers, taken keys, failure records ------------------------------------

def _first_answer(request: RedeemRequest) -> Redemption | None:
    """The redemption already recorded under this client id, or the conflict it already raised.

    A client id names one scan: sent again with another pass, perk or merchant it is refused, so
    that nobody can read another scan's answer by guessing its id.
    """
    # One round trip for the common case, a client id never seen before.
    redemption_id, conflict_id = db.session.execute(select(
        # The first, should there be two: on PostgreSQL a client id is unique per pass day (partitions.py).
        select(Redemption.id).where(Redemption.client_id == request.client_id).order_by(Redemption.id).limit(1)
        .scalar_subquery(),
        select(RedemptionConflict.id).where(RedemptionConflict.client_id == request.client_id).scalar_subquery(),
    )).one()
    if redemption_id is None and conflict_id is None:
        return None
    conflict = db.session.get(RedemptionConflict, conflict_id) if redemption_id is None else None
    first = db.session.get(Redemption, redemption_id if conflict is None else conflict.redemption_id)
    # A retried short code is spent and names no pass any more: the merchant and perk must match.
    if (first.partner_id != request.partner_id or first.perk_id != request.perk_id
            or (request.token is not None and first.pass_id != _pass_id_of(request.token))):
        raise DomainError(ErrorCode.CLIENT_ID_REUSED)
    if conflict is not None:
        raise DomainError(ErrorCode.PASS_ALREADY_USED, CONFLICT_MESSAGE, conflict_id=conflict.id)
    return first


def _pass_id_of(token: str) -> str | None:
    try:
        return pass_codec.decode_unverified(token)[0].pass_id
    except pass_codec.PassRejected:
        return None


def _first_answer_or_record(request: RedeemRequest, *, pass_id, offline) -> Redemption | None:
    try:
        return _first_answer(request)
    except DomainError as error:
        if error.code is ErrorCode.CLIENT_ID_REUSED:
            _record_failure(request, error, pass_id=pass_id, offline=offline)
        raise


def _taken(request: RedeemRequest, *, pass_id, offline: bool) -> DomainError:
    """Nothing was written and this is no retry: the pass was used at this perk already, or the
    holder's day is full. Two devices that gave the perk for one pass while offline: the first
    stands, the second is filed for the office's review."""
    first = db.session.scalar(select(Redemption).where(Redemption.pass_id == pass_id,
                                                      Redemption.perk_id == request.perk_id))
    if first is None:
        return DomainError(ErrorCode.LIMIT_REACHED)
    if not offline:
        return DomainError(ErrorCode.PASS_ALREADY_USED)
    conflict = RedemptionConflict(
        redemption_id=first.id, client_id=request.client_id, device_id=request.device_id,
        staff_id=request.staff_id, scanned_at=request.scanned_at, amount_fen=request.amount_fen,
    )
    db.session.add(conflict)
    try:
        db.session.commit()
    except IntegrityError:  # the same client id raced itself here: its twin filed the conflict
        db.session.rollback()
        conflict = db.session.scalar(select(RedemptionConflict).where(RedemptionConflict.client_id == request.client_id))
    return DomainError(ErrorCode.PASS_ALREADY_USED, CONFLICT_MESSAGE, conflict_id=conflict.id)


def _record_failure(request: RedeemRequest, error: DomainError, *, pass_id=None, subject_id=None, offline=False,
                    issuer_code=None):
    db.session.rollback()
    db.session.add(FailedAttempt(
        code=error.code, reason=error.detail.get("reason"), client_id=request.client_id,
        partner_id=request.partner_id, perk_id=request.perk_id, device_id=request.device_id,
        staff_id=request.staff_id, pass_id=pass_id, subject_id=subject_id, offline=offline,
        scanned_at=request.scanned_at, issuer_code=issuer_code,
    ))
    db.session.commit()
