"""What the credit office keeps of its own: where the push of the case feed stands."""
from __future__ import annotations

from sqlalchemy import Integer, String
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import UTCDateTime, utcnow
from ..extensions import db


class CaseFeedState(db.Model):
    """Where `flask cases push` stands: the cursor the platform acknowledged last, and the end of the
    batch it is sending (kept before sending, so that a restart sends that same batch again)."""

    __tablename__ = "case_feed_state"
    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)  # always 1
    acknowledged: Mapped[str] = mapped_column(String(80), default="c1.0.0.0")
    pending: Mapped[str | None] = mapped_column(String(80))
    updated_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, onupdate=utcnow)
