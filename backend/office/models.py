"""What the credit office keeps of its own: where the push of the case feed stands, and the statistics' daily rollups."""
from __future__ import annotations

from sqlalchemy import BigInteger, Date, Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import BigId, UTCDateTime, utcnow
from ..extensions import db


class CaseFeedState(db.Model):
    """Where `flask cases push` stands: the cursor the platform acknowledged last, and the end of the
    batch it is sending (kept before sending, so that a restart sends that same batch again)."""

    __tablename__ = "case_feed_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    acknowledged: Mapped[str] = mapped_column(String(80), default="c1.0.0.0")
    pending: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)


class DailyStats(db.Model):
    """Recorded redemptions of one local day, partner, tier, holder kind and issuing city (this city's,
    or a partner city's for a visitor), as of the rollup (backend/office/rollup.py).

    Only the statistics read it, always together with what changed since the rollup, so an answer
    is exact whether or not the rollup has run.
    """

    __tablename__ = "daily_stats"
    local_day: Mapped[object] = mapped_column(Date, primary_key=True)
    partner_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    tier_level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The pass's issuing city as recorded; rollup.UNKNOWN_VISITOR, rollup.HERE_UNRECORDED for rows without it.
    issuer_code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    redemptions: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    offline: Mapped[int] = mapped_column(BigInteger)  # of the redemptions, those scanned offline


class MonthlyStats(db.Model):
    """The daily rollup summed over each month (`month` is its first day): a year is twelve of these."""

    __tablename__ = "monthly_stats"
    month: Mapped[object] = mapped_column(Date, primary_key=True)
    partner_id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=False)
    tier_level: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    holder_kind: Mapped[str] = mapped_column(String(16), primary_key=True)
    # The pass's issuing city as recorded; rollup.UNKNOWN_VISITOR, rollup.HERE_UNRECORDED for rows without it.
    issuer_code: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    redemptions: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    offline: Mapped[int] = mapped_column(BigInteger)  # of the redemptions, those scanned offline


class DayTotals(db.Model):
    """The daily rollup summed over partners and tiers: the statistics by day read one row a day."""

    __tablename__ = "day_totals"
    local_day: Mapped[object] = mapped_column(Date, primary_key=True)
    redemptions: Mapped[int] = mapped_column(BigInteger)
    amount_fen: Mapped[int] = mapped_column(BigInteger)
    discount_fen: Mapped[int] = mapped_column(BigInteger)
    offline: Mapped[int] = mapped_column(BigInteger)


class StatsRollup(db.Model):
    """Where the rollup stands (one row): it holds every redemption up to `redemption_id`, with the
    voids made up to `voids_through` taken out and none made later."""

    __tablename__ = "stats_rollup"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    redemption_id: Mapped[int] = mapped_column(BigInteger)
    voids_through: Mapped[object] = mapped_column(UTCDateTime)
    ran_at: Mapped[object | None] = mapped_column(UTCDateTime)

