"""Objections (异议) and complaints, each answered by the credit office within its time limit."""
from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import BigId, UTCDateTime, utcnow
from ..extensions import db

OBJECTION_KINDS = ("credit", "redemption", "complaint")
OBJECTION_STATUSES = ("open", "answered")


class Objection(db.Model):
    __tablename__ = "objections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("citizen_accounts.id"), index=True)
    # The holder it concerns (the citizen's own or a represented company's), when known.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("credit_subjects.id"))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    status: Mapped[str] = mapped_column(String(16), default="open")
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[object] = mapped_column(UTCDateTime)
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[object | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        CheckConstraint("kind in ('credit', 'redemption', 'complaint')", name="kind"),
        CheckConstraint("status in ('open', 'answered')", name="status"),
    )
