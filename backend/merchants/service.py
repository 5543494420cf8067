"""Partners, perks and redemption: a perk is given once, recorded once, and every refusal has a reason.

`redeem` is the one function that records a redemption; it is safe to call twice with the same
client id, and the database's unique constraints are the final word on "only once":
* `redemptions.client_id` unique: a retried request returns the first answer;
* `(pass_id, perk_id)` unique: the same pass cannot be redeemed twice at the same perk;
* `(perk_id, subject_id, local_day, day_slot)` unique: a daily limit of N gives slots 1..N.
The common case costs one autocommit statement: the perk's rules come from the worker's memory
(`PERK_FACTS`, never stale: backend/watched_cache.py), and one
`INSERT ... SELECT ... FROM credit_subjects WHERE <the holder's standing now allows it>
ON CONFLICT DO NOTHING RETURNING id` checks the holder's row and records in the same instant. When
the perk's facts are not in memory, one read of everything the judgement needs comes first (the
perk's rules, the holder's standing, the holder's use of the perk that day). When the insert writes
nothing (a retry, a replayed pass, a daily slot already taken, or a holder whose standing changed
since the pass was issued), or when the rules refuse what the pass shows, the request is judged
again in a transaction that locks the holder's row and reads every fact, which tells those cases
apart and names the reason in the documented order (docs/api.md).

Rounding (docs/api.md): payable_fen = floor((amount_fen * discount_permille + 500) / 1000), i.e. the
price rounded half up to the fen; discount_fen = amount_fen - payable_fen, then capped by the perk.
"""
from __future__ import annotations

import base64
import functools
import hashlib
import hmac
import importlib
import operator
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from sqlalchemy import Date, and_, bindparam, cast, column, exists, func, select, values
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.dialects.sqlite import insert as sqlite_insert
from sqlalchemy.exc import IntegrityError, OperationalError

from ..credit.models import CreditSubject
from ..credit.service import tier_levels as credit_tier_levels
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from .. import driver
from ..extensions import db, read_outside_transaction
from ..office import audit
from ..timeutil import SHANGHAI, local_day
from ..watched_cache import WatchedCache
from .models import FailedAttempt, HolidayCalendarDay, Partner, Perk, Redemption, RedemptionConflict

pass_service = importlib.import_module("backend.pass.service")
pass_codec = importlib.import_module("backend.pass.codec")

OFFLINE_AFTER_SECONDS = 30  # a scan that reaches us later than this was queued on the device
CONFLICT_MESSAGE = "该信用码已在其他设备核销，本次离线核销已提交信用办复核"


class _AlreadyRecorded(Exception):
    """This pass is already recorded at this perk: answered like the unique constraint firing."""


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


@dataclass
class NewRedemption:
    """A redemption as this request records it, with the attributes of a `Redemption` row (building
    an ORM instance cost more than inserting it)."""

    client_id: str
    pass_id: str
    perk_id: int
    partner_id: int
    subject_id: int | None
    holder_kind: str
    tier_level: int
    amount_fen: int | None
    payable_fen: int | None
    discount_fen: int | None
    quota: int | None
    status: str
    offline: bool
    scanned_at: datetime
    recorded_at: datetime
    local_day: date
    day_slot: int | None
    device_id: int | None
    staff_id: int | None
    id: int | None = None
    voided_at: datetime | None = None
    voided_by: str | None = None
    void_reason: str | None = None


@dataclass(frozen=True)
class RedeemOutcome:
    redemption: Redemption | NewRedemption
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


def _lock_subject(subject_id: int) -> None:
    # FOR NO KEY UPDATE serialises one holder's judged-again redemptions on PostgreSQL, so daily
    # limits count correctly, without blocking the FOR KEY SHARE that an insert's foreign-key check
    # takes on the same row. (FOR UPDATE would: an autocommit insert holding a unique-index entry
    # would wait for the lock while the lock holder's own insert waited for that entry, a deadlock.)
    # SQLite serialises all writers anyway and ignores the clause.
    db.session.execute(select(CreditSubject.id).where(CreditSubject.id == subject_id)
                       .with_for_update(key_share=True))


def _pass_id_of(token: str) -> str | None:
    try:
        return pass_codec.decode_unverified(token)[0].pass_id
    except pass_codec.PassRejected:
        return None


def _first_answer(request: RedeemRequest) -> Redemption | None:
    """The redemption already recorded under this client id, or the conflict it already raised.

    A client id names one scan: sent again with another pass, perk or merchant it is refused, so
    that nobody can read another scan's answer by guessing its id.
    """
    # One round trip for the common case, a client id never seen before.
    redemption_id, conflict_id = db.session.execute(select(
        select(Redemption.id).where(Redemption.client_id == request.client_id).scalar_subquery(),
        select(RedemptionConflict.id).where(RedemptionConflict.client_id == request.client_id).scalar_subquery(),
    )).one()
    if redemption_id is not None:
        existing = db.session.get(Redemption, redemption_id)
        if (existing.partner_id != request.partner_id or existing.perk_id != request.perk_id
                or existing.pass_id != _pass_id_of(request.token)):
            raise DomainError(ErrorCode.CLIENT_ID_REUSED)
        return existing
    if conflict_id is not None:
        conflict = db.session.get(RedemptionConflict, conflict_id)
        first = db.session.get(Redemption, conflict.redemption_id)
        if (first.partner_id != request.partner_id or first.perk_id != request.perk_id
                or first.pass_id != _pass_id_of(request.token)):
            raise DomainError(ErrorCode.CLIENT_ID_REUSED)
        raise DomainError(ErrorCode.PASS_ALREADY_USED, CONFLICT_MESSAGE, conflict_id=conflict.id)
    return None


def _record_failure(request: RedeemRequest, error: DomainError, *, pass_id=None, subject_id=None, offline=False):
    db.session.rollback()
    db.session.add(FailedAttempt(
        code=error.code, reason=error.detail.get("reason"), client_id=request.client_id,
        partner_id=request.partner_id, perk_id=request.perk_id, device_id=request.device_id,
        staff_id=request.staff_id, pass_id=pass_id, subject_id=subject_id, offline=offline,
        scanned_at=request.scanned_at,
    ))
    db.session.commit()


def redeem(*, ctx, request: RedeemRequest, offline_window_hours: int, tier_levels=None,
           now: datetime | None = None, batches_in_flight: int = 1) -> RedeemOutcome:
    """Verify, check standing and rules, and record exactly one redemption (or raise with the reason).

    Raises DomainError; every refusal except a replayed client id is also written to failed_attempts.
    A client id seen before is found on the way out, when the insert meets its unique constraint or
    a check refuses, and then the first answer is returned instead.
    """
    now = now or utcnow()
    delay = (now - request.scanned_at).total_seconds()
    offline = request.queued or delay > OFFLINE_AFTER_SECONDS
    pass_id = subject_id = None
    try:
        if delay < -ctx.skew:
            raise DomainError(ErrorCode.VALIDATION_ERROR, "扫码时间晚于服务器时间")
        if delay > offline_window_hours * 3600:
            raise DomainError(ErrorCode.OFFLINE_TOO_LATE)
        # A queued scan is judged at the moment it was scanned; the window above bounds how late.
        verify_at = min(now, request.scanned_at)
        claims = pass_service.verify(ctx=ctx, text=request.token, tier_levels=tier_levels or credit_tier_levels(),
                                     now=int(verify_at.timestamp()))
        pass_id = claims.pass_id
        subject_id = pass_service.open_reference(ctx=ctx, claims=claims)
        day = local_day(request.scanned_at)
        redemption = _record_unless_contested(request, claims, subject_id, day, offline, now, batches_in_flight)
        if redemption is None:
            redemption = _record_under_lock_retrying(request, claims, subject_id, day, offline, now)
    except DomainError as error:
        db.session.rollback()
        # A retry of a scan already answered gets that answer, whatever would be refused now.
        existing = _first_answer_or_record(request, pass_id=pass_id, offline=offline)
        if existing is not None:
            return RedeemOutcome(existing, replayed=True)
        if error.detail.get("reason") == "holder":
            subject_id = None  # the reference opened to no holder row: nothing to point the attempt at
        _record_failure(request, error, pass_id=pass_id, subject_id=subject_id, offline=offline)
        raise
    except (IntegrityError, _AlreadyRecorded):
        return _resolve_conflict(request, pass_id=pass_id, subject_id=subject_id, offline=offline)
    return RedeemOutcome(redemption, replayed=False)


@dataclass(frozen=True)
class PerkRules:
    """A perk's rules as read for one judgement (the attributes `check_perk_rules` and `_build` use)."""

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


_RULE_COLUMNS = [getattr(Perk, name) for name in PerkRules.__dataclass_fields__]
_SAME_HOLDER_DAY = (Redemption.perk_id == bindparam("perk_id"), Redemption.subject_id == bindparam("subject_id"),
                    Redemption.local_day == bindparam("day", type_=Date))
# Everything one redemption is judged on, in one statement: the perk and its partner, whether the
# day is blacked out, the holder's standing now (no row for a partner city's pass), and the
# holder's use of the perk that day (recorded uses for the limit; the highest slot ever taken).
_FACTS = (
    select(
        *_RULE_COLUMNS,
        Partner.active.label("partner_active"),
        exists().where(HolidayCalendarDay.calendar == Perk.blackout_calendar,
                       HolidayCalendarDay.day == bindparam("day", type_=Date)).label("blacked_out"),
        CreditSubject.id.label("holder_id"), CreditSubject.black_listed, CreditSubject.tier_level.label("holder_tier"),
        select(func.count()).where(*_SAME_HOLDER_DAY, Redemption.status == "recorded").scalar_subquery().label("used"),
        select(func.max(Redemption.day_slot)).where(*_SAME_HOLDER_DAY).scalar_subquery().label("max_slot"),
    )
    .select_from(Perk)
    .join(Partner, Partner.id == Perk.partner_id)
    .outerjoin(CreditSubject, CreditSubject.id == bindparam("subject_id"))
    .where(Perk.id == bindparam("perk_id"))
)


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


class _LimitReached(Exception):
    """The holder has used the perk as often as the day allows (or this is a replay: the caller tells)."""


def _record_unless_contested(request, claims, subject_id, day, offline, now,
                             batches_in_flight: int = 1) -> NewRedemption | None:
    """The common case in one autocommit statement (two when the perk's facts are not in memory); None
    when the request must be judged under the holder's lock: the insert wrote nothing, or a rule
    refused what the pass shows (the standing now may differ)."""
    key = (request.perk_id, day)
    perk_facts = PERK_FACTS.get(key)
    if perk_facts is None:
        generation = PERK_FACTS.current_generation()  # before the read: a change during it makes a miss
        rows = read_outside_transaction(_FACTS, _facts_params(request, subject_id, day))
        facts = rows[0] if rows else None
        if facts is not None:
            PERK_FACTS.put(key, _perk_facts_of(facts), generation)
        perk, tier_level = _judge(request, claims, facts, subject_id, day)
        used, max_slot, standing_checked = facts.used, facts.max_slot, True
    else:
        # The pass's tier stands in for the holder's until the insert checks the row: if the
        # standing changed since the pass was issued, nothing is written and the lock path judges.
        tier_level = claims.tier
        # Optimistically the holder's first use that day: slot 1 is taken if it is not.
        used, max_slot, standing_checked = 0, None, subject_id is None
        try:
            perk = _judge_perk(request, claims, perk_facts, tier_level, day)
        except DomainError:
            # Refused on what the pass says: the lock path reads the standing now (a tier raised
            # since the pass may qualify) and names the first failing step in the documented order.
            return None
    try:
        redemption = _build(request, perk, claims, subject_id, tier_level, day, offline, now,
                            used=used, max_slot=max_slot)
    except _LimitReached:
        return None
    except DomainError:
        if standing_checked:
            raise
        return None  # e.g. a missing amount: a black-listed holder is told that first, as on the lock path
    dialect = db.engine.dialect.name
    if standing_checked:
        new_id = driver.first_value(_insert_unless_taken(dialect), _column_values(redemption))
    elif dialect == "postgresql":  # written together with the inserts other threads have waiting
        new_id = _grouped_inserts(batches_in_flight).insert(_column_values(redemption))
    else:
        new_id = driver.first_value(_insert_if_standing(dialect), _column_values(redemption))
    if new_id is None:
        return None
    redemption.id = new_id
    return redemption


def _facts_params(request, subject_id, day) -> dict:
    return {"perk_id": request.perk_id, "subject_id": subject_id, "day": day}


def _perk_facts_of(facts) -> PerkFacts:
    return PerkFacts(PerkRules(*facts[:len(_RULE_COLUMNS)]), facts.partner_active, facts.blacked_out)


# A new redemption's columns: not its id (the database's), nor the void columns (empty until voided).
_INSERTED_COLUMNS = [column for column in Redemption.__table__.columns
                     if column.key not in ("id", "voided_at", "voided_by", "void_reason")]
_INSERTED_KEYS = tuple(column.key for column in _INSERTED_COLUMNS)
_inserted_values = operator.attrgetter(*_INSERTED_KEYS)  # one C call instead of a getattr per column


# Each statement is built once per dialect: building one anew for every redemption cost more than executing it.
@functools.cache
def _insert_unless_taken(dialect: str):
    """`INSERT ... VALUES ... ON CONFLICT DO NOTHING RETURNING id`."""
    table = Redemption.__table__
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    statement = insert.values({column.key: bindparam(column.key, type_=column.type) for column in _INSERTED_COLUMNS})
    return statement.on_conflict_do_nothing().returning(table.c.id)


@functools.cache
def _insert_if_standing(dialect: str):
    """`INSERT ... SELECT <the values> FROM credit_subjects WHERE id = :subject_id AND NOT black_listed
    AND tier_level = :tier_level ON CONFLICT DO NOTHING RETURNING id`: the holder's standing now is
    checked by the statement that records, so nothing can change between the check and the record."""
    table = Redemption.__table__
    params = {column.key: bindparam(column.key, type_=column.type) for column in _INSERTED_COLUMNS}
    # PostgreSQL types a bare parameter in a select list as text; SQLite must not cast (CAST AS
    # DATETIME would turn a timestamp into a number).
    values = [cast(params[column.key], column.type) if dialect == "postgresql" else params[column.key]
              for column in _INSERTED_COLUMNS]
    holder = CreditSubject.__table__.c
    source = select(*values).where(holder.id == params["subject_id"], holder.black_listed.is_(False),
                                   holder.tier_level == params["tier_level"])
    insert = (pg_insert if dialect == "postgresql" else sqlite_insert)(table)
    statement = insert.from_select(list(_INSERTED_KEYS), source)
    return statement.on_conflict_do_nothing().returning(table.c.id)


@functools.cache
def _insert_rows_if_standing(rows: int):
    """`_insert_if_standing` for `rows` rows at once (PostgreSQL): `INSERT ... SELECT <each row> FROM
    (VALUES ...) v JOIN credit_subjects ON <that row's holder, not black-listed, tier as in its pass>
    ON CONFLICT DO NOTHING RETURNING id, client_id`; row n's parameters are named `<column>_<n>`."""
    table = Redemption.__table__
    given = values(*[column(column_.key, column_.type) for column_ in _INSERTED_COLUMNS], name="v").data(
        [tuple(bindparam(f"{key}_{n}", type_=column_.type) for key, column_ in zip(_INSERTED_KEYS, _INSERTED_COLUMNS))
         for n in range(rows)])
    holder = CreditSubject.__table__
    source = select(*[given.c[key] for key in _INSERTED_KEYS]).select_from(given.join(holder, and_(
        holder.c.id == given.c.subject_id, holder.c.black_listed.is_(False),
        holder.c.tier_level == given.c.tier_level)))
    statement = pg_insert(table).from_select(list(_INSERTED_KEYS), source).on_conflict_do_nothing()
    return statement.returning(table.c.id, table.c.client_id)


def _grouped_inserts(in_flight: int) -> driver.GroupCommit:
    """Concurrent redemptions of one worker (its greenlets under gevent, its threads under gthread)
    share a statement and a commit (see driver.GroupCommit): each commit waits for the disk, and
    while every thread of a gthread worker waited on its own commit the worker's core sat idle
    (~12% of the cores in the benchmark). `in_flight`
    (REDEMPTION_BATCHES_IN_FLIGHT, read when the group is made): with 2 instead of 1, threads wait
    less for another batch's round trip (cores ~2-4 points busier on loopback), but batches are
    smaller and PostgreSQL spends ~25% more CPU per redemption: no faster on this machine
    (bench/redemption_ab.py, docs/benchmarks.md), so 1 stays the default."""
    return driver.group_commit(db.engine, "redemptions", lambda: driver.GroupCommit(
        one_row=_insert_if_standing("postgresql"), rows=_insert_rows_if_standing, key="client_id",
        max_in_flight=in_flight))


# PostgreSQL aborts one side of a deadlock (40P01) or a serialization conflict (40001): nothing of
# that transaction was recorded, so judging again from the start is safe.
_RETRYABLE_SQLSTATES = {"40P01", "40001"}
LOCK_PATH_ATTEMPTS = 3


def _record_under_lock_retrying(request, claims, subject_id, day, offline, now) -> NewRedemption:
    """`_record_under_lock`, judged again when the database aborted it for a deadlock. One can
    happen with group commit: a batch and a lock-path transaction of one holder, perk and day can
    each wait on a unique entry of the other."""
    for attempt in range(1, LOCK_PATH_ATTEMPTS + 1):
        try:
            return _record_under_lock(request, claims, subject_id, day, offline, now)
        except OperationalError as error:
            if getattr(error.orig, "sqlstate", None) not in _RETRYABLE_SQLSTATES or attempt == LOCK_PATH_ATTEMPTS:
                raise
            db.session.rollback()
    raise AssertionError("unreachable")


def _record_under_lock(request, claims, subject_id, day, offline, now) -> NewRedemption:
    """Judge and record in one transaction holding the holder's row, so one holder's redemptions take
    turns: a daily slot is then either free or truly used up, and a replay is told from the limit."""
    if subject_id is not None:
        _lock_subject(subject_id)  # the facts are read after the lock, so they include every earlier turn
    facts = db.session.execute(_FACTS, _facts_params(request, subject_id, day)).first()
    perk, tier_level = _judge(request, claims, facts, subject_id, day)
    try:
        redemption = _build(request, perk, claims, subject_id, tier_level, day, offline, now,
                            used=facts.used, max_slot=facts.max_slot)
    except _LimitReached:
        # A replayed pass is named as such, not as the limit it would also exceed.
        if db.session.scalar(select(Redemption.id).where(Redemption.pass_id == claims.pass_id,
                                                         Redemption.perk_id == perk.id)):
            raise _AlreadyRecorded() from None
        raise DomainError(ErrorCode.LIMIT_REACHED) from None
    redemption.id = db.session.execute(Redemption.__table__.insert().values(**_column_values(redemption))
                                       .returning(Redemption.__table__.c.id)).scalar_one()
    db.session.commit()
    return redemption


def _judge(request, claims, facts, subject_id, day) -> tuple[PerkRules, int]:
    """The perk's rules and the tier the redemption is given at, or the refusal; `facts`: a `_FACTS` row."""
    if facts is None or facts.partner_id != request.partner_id:
        raise DomainError(ErrorCode.PERK_UNAVAILABLE, "本商户没有该优惠")
    tier_level = claims.tier
    if subject_id is not None:
        if facts.holder_id is None:
            raise DomainError(ErrorCode.PASS_INVALID, reason="holder")
        if facts.black_listed:
            raise DomainError(ErrorCode.HOLDER_BLACKLISTED)
        # The standing now decides, not the tier printed in a pass issued a minute ago.
        tier_level = facts.holder_tier
    return _judge_perk(request, claims, _perk_facts_of(facts), tier_level, day), tier_level


def _judge_perk(request, claims, perk_facts: PerkFacts, tier_level: int, day) -> PerkRules:
    """The perk's rules if they give it to this holder kind and tier at this merchant on this day."""
    perk = perk_facts.rules
    if perk.partner_id != request.partner_id:
        raise DomainError(ErrorCode.PERK_UNAVAILABLE, "本商户没有该优惠")
    if tier_level < 1:
        raise DomainError(ErrorCode.TIER_NOT_ELIGIBLE)
    check_perk_rules(perk=perk, partner_active=perk_facts.partner_active, blacked_out=perk_facts.blacked_out,
                     holder_kind=claims.kind, tier_level=tier_level, day=day)
    return perk


def _column_values(redemption: NewRedemption) -> dict:
    """The row to insert through Core (the ORM unit of work cost more than the rest of the request)."""
    return dict(zip(_INSERTED_KEYS, _inserted_values(redemption)))


def _first_answer_or_record(request: RedeemRequest, *, pass_id, offline) -> Redemption | None:
    try:
        return _first_answer(request)
    except DomainError as error:
        if error.code is ErrorCode.CLIENT_ID_REUSED:
            _record_failure(request, error, pass_id=pass_id, offline=offline)
        raise


def _build(request, perk, claims, subject_id, tier_level, day, offline, now, *, used: int,
           max_slot: int | None) -> NewRedemption:
    """The redemption to record; `used`/`max_slot`: the holder's recorded uses and highest slot that day."""
    amount = payable = discount = quota = None
    if perk.kind == "discount":
        if request.amount_fen is None or request.amount_fen <= 0:
            raise DomainError(ErrorCode.AMOUNT_REQUIRED)
        amount = request.amount_fen
        payable, discount = price(amount_fen=amount, discount_permille=perk.discount_permille,
                                  max_discount_fen=perk.max_discount_fen)
    if perk.quota_by_tier:
        quota = _quota_for(perk.quota_by_tier, tier_level)
    slot = None
    if perk.limit_per_holder_per_day and subject_id is not None:
        if used >= perk.limit_per_holder_per_day:
            raise _LimitReached()
        # Slots of voided redemptions stay taken, so the next slot follows the highest ever used.
        slot = (max_slot or 0) + 1
    return NewRedemption(
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
    existing = _first_answer_or_record(request, pass_id=pass_id, offline=offline)
    if existing is not None:
        return RedeemOutcome(existing, replayed=True)
    used = db.session.scalar(select(Redemption).where(Redemption.pass_id == pass_id,
                                                     Redemption.perk_id == request.perk_id))
    if used is None:
        error = DomainError(ErrorCode.LIMIT_REACHED)
    elif offline:
        error = _record_offline_conflict(request, used)
    else:
        error = DomainError(ErrorCode.PASS_ALREADY_USED)
    _record_failure(request, error, pass_id=pass_id, subject_id=subject_id, offline=offline)
    raise error


def _record_offline_conflict(request: RedeemRequest, first: Redemption) -> DomainError:
    """Two devices gave the perk for one pass while offline: keep the first, file the second for review."""
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


# -- voids ----------------------------------------------------------------------------------------

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


# -- the merchant's view --------------------------------------------------------------------------

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


# -- the office's review --------------------------------------------------------------------------

def list_conflicts(*, unresolved_only: bool = True) -> list[RedemptionConflict]:
    query = select(RedemptionConflict)
    if unresolved_only:
        query = query.where(RedemptionConflict.resolved_at.is_(None))
    return list(db.session.scalars(query.order_by(RedemptionConflict.id)))


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
    query = select(FailedAttempt)
    if code:
        query = query.where(FailedAttempt.code == code)
    if partner_id:
        query = query.where(FailedAttempt.partner_id == partner_id)
    if day_from:
        query = query.where(FailedAttempt.at >= _day_start(day_from))
    if day_to:
        query = query.where(FailedAttempt.at < _day_start(day_to + timedelta(days=1)))
    return list(db.session.scalars(query.order_by(FailedAttempt.id.desc()).limit(limit)))


def _day_start(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
