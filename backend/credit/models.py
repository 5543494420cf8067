"""Credit subjects (people and companies) as the public credit platform reports them, and the tiers."""
from __future__ import annotations

from sqlalchemy import Boolean, CheckConstraint, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import BigId, UTCDateTime, utcnow
from ..extensions import db


class Tier(db.Model):
    """A tier level as carried in the pass (1..15), with its stable code and its Chinese name."""

    __tablename__ = "tiers"
    level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    code: Mapped[str] = mapped_column(String(32), unique=True)
    name: Mapped[str] = mapped_column(String(64))


class TierRule(db.Model):
    """One rung of a tier ladder: a holder kind and a criterion that, when met, gives a tier.

    criterion is one of: `score_at_least` (threshold: integer points), `rating_in` (threshold:
    comma-separated ratings such as "A,AA,AAA"), `tax_grade_in` (e.g. "A"), `red_list`.
    A subject's tier is the highest tier of the rules it meets; the black list overrides all.
    """

    __tablename__ = "tier_rules"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    holder_kind: Mapped[str] = mapped_column(String(16))
    criterion: Mapped[str] = mapped_column(String(32))
    threshold: Mapped[str | None] = mapped_column(String(128))
    tier_level: Mapped[int] = mapped_column(Integer)
    __table_args__ = (
        CheckConstraint("holder_kind in ('person', 'company')", name="holder_kind"),
        CheckConstraint("criterion in ('score_at_least', 'rating_in', 'tax_grade_in', 'red_list')", name="criterion"),
    )


class CreditSubject(db.Model):
    """A person or company known to the credit platform. Identity only as a keyed hash."""

    __tablename__ = "credit_subjects"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(16))
    # HMAC-SHA256(pepper, normalised ID number or unified social credit code), hex.
    identity_hash: Mapped[str] = mapped_column(String(64), unique=True)
    score: Mapped[int | None] = mapped_column(Integer)  # 诚信积分, persons
    rating: Mapped[str | None] = mapped_column(String(8))  # 信易评价, companies (AAA..D)
    tax_grade: Mapped[str | None] = mapped_column(String(1))  # 纳税信用 A/B/M/C/D, companies
    red_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    black_listed: Mapped[bool] = mapped_column(Boolean, default=False)
    tier_level: Mapped[int] = mapped_column(Integer, default=0)  # 0: does not qualify
    # The credit platform's own key for this subject (opaque to us): cases are reported back by it,
    # never by the ID number, which is not kept at all.
    subject_key: Mapped[str | None] = mapped_column(String(64))
    source_updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
    __table_args__ = (CheckConstraint("kind in ('person', 'company')", name="kind"),)


class ImportJob(db.Model):
    """A bulk load of tiers and red/black lists, with progress for the office's progress bar."""

    __tablename__ = "import_jobs"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    kind: Mapped[str] = mapped_column(String(32))
    status: Mapped[str] = mapped_column(String(16), default="pending")
    total_rows: Mapped[int | None] = mapped_column(Integer)
    processed_rows: Mapped[int] = mapped_column(Integer, default=0)
    rejected_rows: Mapped[int] = mapped_column(Integer, default=0)
    started_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    finished_at: Mapped[object | None] = mapped_column(UTCDateTime)
    error: Mapped[str | None] = mapped_column(Text)
