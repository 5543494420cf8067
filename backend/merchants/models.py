"""Partners (merchants and offices), their perks, and the redemptions of those perks."""
from __future__ import annotations

from sqlalchemy import (JSON, Boolean, CheckConstraint, Date, ForeignKey, ForeignKeyConstraint, Index, Integer, String,
                        Text, UniqueConstraint)
from sqlalchemy.orm import Mapped, mapped_column, relationship

from ..dbtypes import BigId, UTCDateTime, one_of, utcnow
from ..extensions import db

PERK_KINDS = ("discount", "green_channel", "deposit_waived", "extra_quota", "free_entry")


class Scenario(db.Model):
    __tablename__ = "scenarios"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))


class Partner(db.Model):
    __tablename__ = "partners"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    name: Mapped[str] = mapped_column(String(128))
    scenario_id: Mapped[int] = mapped_column(ForeignKey("scenarios.id"))
    address: Mapped[str | None] = mapped_column(String(256))
    area_id: Mapped[int | None] = mapped_column(ForeignKey("areas.id"))  # backend/city/models.py
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    hours: Mapped[str | None] = mapped_column(String(128))  # opening hours as people write them
    # A partner that left the programme is kept (redemptions point at it) and shown in 公示's history.
    left_on: Mapped[object | None] = mapped_column(Date)
    exit_reason: Mapped[str | None] = mapped_column(String(256))
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    scenario: Mapped[Scenario] = relationship()
    perks: Mapped[list["Perk"]] = relationship(back_populates="partner", order_by="Perk.id")


# A day of a holiday calendar is a day off (放假), or a weekend day worked in exchange (调休上班),
# as the State Council's yearly notice lists both.
CALENDAR_DAY_KINDS = ("holiday", "workday")


def not_a_makeup_day(day) -> str | None:
    """Why `day` cannot be a make-up working day (调休上班 is a Saturday or Sunday worked), e.g.
    "是星期一：调休上班日须为周六或周日"; None for a weekend day. The office's API and the city loader
    both refuse with it."""
    if day.weekday() < 5:
        return f"是星期{'一二三四五'[day.weekday()]}：调休上班日须为周六或周日"
    return None


class HolidayCalendarDay(db.Model):
    """A day of a named holiday calendar, e.g. `major_holidays`: a holiday (春节, 国庆...), on which a
    perk naming the calendar as its blackout calendar pauses and which no due date counts; or a
    make-up working day (调休上班, a Saturday or Sunday), which due dates count as a working day."""

    __tablename__ = "holiday_calendar_days"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    calendar: Mapped[str] = mapped_column(String(32))
    day: Mapped[object] = mapped_column(Date)
    name: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(16), default="holiday", server_default="holiday")
    __table_args__ = (UniqueConstraint("calendar", "day"), CheckConstraint(one_of("kind", CALENDAR_DAY_KINDS), name="kind"))


class HolidayCalendarYear(db.Model):
    """What a year of a holiday calendar rests on: `basis` names the notice its days were checked
    against (e.g. 国务院办公厅关于2026年部分节假日安排的通知). Without one the year is provisional
    (预排): loaded before the notice came out, and the office is told so while due dates reach into it."""

    __tablename__ = "holiday_calendar_years"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    calendar: Mapped[str] = mapped_column(String(32))
    year: Mapped[int] = mapped_column(Integer)
    basis: Mapped[str | None] = mapped_column(String(200))
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    __table_args__ = (UniqueConstraint("calendar", "year"),)


class Perk(db.Model):
    """A perk is data: who qualifies, when, how often, and what it gives."""

    __tablename__ = "perks"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    partner_id: Mapped[int] = mapped_column(ForeignKey("partners.id"))
    kind: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(128))
    discount_permille: Mapped[int | None] = mapped_column(Integer)  # 980 = pay 98%
    max_discount_fen: Mapped[int | None] = mapped_column(Integer)
    holder_kinds: Mapped[str] = mapped_column(String(32), default="person,company")
    min_tier_level: Mapped[int] = mapped_column(Integer, default=1)
    quota_by_tier: Mapped[dict | None] = mapped_column(JSON)  # {"1": 3, "2": 4, "3": 5}: e.g. books
    quota_unit: Mapped[str | None] = mapped_column(String(16))
    active_from: Mapped[object | None] = mapped_column(Date)
    active_until: Mapped[object | None] = mapped_column(Date)
    blackout_calendar: Mapped[str | None] = mapped_column(String(32))
    # ["09:00-11:30", "14:00-17:00"] in the city's local time (特定场次、时段): backend/merchants/perk_rules.py
    time_windows: Mapped[list | None] = mapped_column(JSON)
    limit_per_holder_per_day: Mapped[int | None] = mapped_column(Integer)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    partner: Mapped[Partner] = relationship(back_populates="perks")
    __table_args__ = (
        CheckConstraint(one_of("kind", PERK_KINDS), name="kind"),
        CheckConstraint(
            "(kind = 'discount') = (discount_permille is not null)", name="discount_needs_permille"
        ),
        CheckConstraint("discount_permille is null or (discount_permille > 0 and discount_permille < 1000)",
                        name="permille_range"),
        UniqueConstraint("id", "partner_id"),  # what a redemption's (perk, partner) key refers to
    )


class Redemption(db.Model):
    """One perk given once. The unique constraints are the final word on "only once"."""

    __tablename__ = "redemptions"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    client_id: Mapped[str] = mapped_column(String(36), unique=True)  # idempotency key from the device
    pass_id: Mapped[str] = mapped_column(String(32))  # hex of the sealed reference
    # Both point at the perk together (constraint below): a perk recorded is one of this partner's.
    perk_id: Mapped[int] = mapped_column(BigId)
    partner_id: Mapped[int] = mapped_column(BigId)
    # None for a partner city's pass: only its issuer can open the holder reference.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("credit_subjects.id"))
    # The pass's issuer (this city or a partner city: statistics and the case feed by issuing city),
    # and for a partner city's pass at a limited perk the visitor's day tag from that city, which
    # stands in for subject_id in the daily limit (docs/federation.md).
    issuer_code: Mapped[int | None] = mapped_column(Integer)
    visitor_tag: Mapped[str | None] = mapped_column(String(32))
    holder_kind: Mapped[str] = mapped_column(String(16))
    tier_level: Mapped[int] = mapped_column(Integer)
    amount_fen: Mapped[int | None] = mapped_column(Integer)
    payable_fen: Mapped[int | None] = mapped_column(Integer)
    discount_fen: Mapped[int | None] = mapped_column(Integer)
    quota: Mapped[int | None] = mapped_column(Integer)
    status: Mapped[str] = mapped_column(String(16), default="recorded")
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    scanned_at: Mapped[object] = mapped_column(UTCDateTime)
    recorded_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    # The Asia/Shanghai day the pass was issued on (the scan's, but for a pass scanned just after the
    # midnight it was issued before): every use of one pass on one day, so in one monthly partition.
    local_day: Mapped[object] = mapped_column(Date)
    # n-th use of a perk by a holder on a local day; unique, so a daily limit is a database fact.
    day_slot: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_staff.id"))
    voided_at: Mapped[object | None] = mapped_column(UTCDateTime)
    voided_by: Mapped[str | None] = mapped_column(String(64))
    void_reason: Mapped[str | None] = mapped_column(Text)
    perk: Mapped[Perk] = relationship()
    __table_args__ = (
        # One key for perk and partner: the database refuses a redemption of another partner's perk,
        # and each insert checks (and key-share locks) one hot parent row where two keys checked two.
        ForeignKeyConstraint(["perk_id", "partner_id"], ["perks.id", "perks.partner_id"]),
        UniqueConstraint("pass_id", "perk_id"),
        UniqueConstraint("perk_id", "subject_id", "local_day", "day_slot"),
        UniqueConstraint("perk_id", "visitor_tag", "local_day", "day_slot"),
        CheckConstraint("status in ('recorded', 'voided')", name="status"),
        # Without a scan: a merchant's day (its history and today's totals, asked by every scanner)
        # and the office's range of days across partners (statistics, exports).
        Index("ix_redemptions_day_partner", "local_day", "partner_id"),
    )


class FailedAttempt(db.Model):
    """A refused redemption, with its reason; no holder for passes that did not verify."""

    __tablename__ = "failed_attempts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    code: Mapped[str] = mapped_column(String(48))
    reason: Mapped[str | None] = mapped_column(String(48))
    client_id: Mapped[str | None] = mapped_column(String(36))
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"))
    perk_id: Mapped[int | None] = mapped_column(Integer)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_staff.id"))
    pass_id: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("credit_subjects.id"))
    issuer_code: Mapped[int | None] = mapped_column(Integer)  # of a pass that verified
    offline: Mapped[bool] = mapped_column(Boolean, default=False)
    scanned_at: Mapped[object | None] = mapped_column(UTCDateTime)


class RedemptionConflict(db.Model):
    """A pass redeemed offline on two devices: one redemption stands, the other arrives here for review."""

    __tablename__ = "redemption_conflicts"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    redemption_id: Mapped[int] = mapped_column(ForeignKey("redemptions.id"))
    client_id: Mapped[str] = mapped_column(String(36), unique=True)
    device_id: Mapped[int | None] = mapped_column(ForeignKey("devices.id"))
    staff_id: Mapped[int | None] = mapped_column(ForeignKey("merchant_staff.id"))
    scanned_at: Mapped[object] = mapped_column(UTCDateTime)
    amount_fen: Mapped[int | None] = mapped_column(Integer)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    resolved_at: Mapped[object | None] = mapped_column(UTCDateTime)
    resolution: Mapped[str | None] = mapped_column(Text)
