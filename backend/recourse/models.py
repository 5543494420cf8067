"""Objections (异议) and complaints, each answered by the credit office within its time limit."""
from __future__ import annotations

from sqlalchemy import CheckConstraint, ForeignKey, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from ..dbtypes import BigId, UTCDateTime, utcnow
from ..extensions import db

OBJECTION_KINDS = ("credit", "redemption", "complaint")
# 已提交 → 已受理 → 处理中 → 已办结 (issue 16 item 7); each change is audited and texted to the citizen.
OBJECTION_STATUSES = ("submitted", "accepted", "in_progress", "closed")
STATUS_NAMES = {"submitted": "已提交", "accepted": "已受理", "in_progress": "处理中", "closed": "已办结"}


class Objection(db.Model):
    __tablename__ = "objections"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    account_id: Mapped[int] = mapped_column(ForeignKey("citizen_accounts.id"), index=True)
    # The holder it concerns (the citizen's own or a represented company's), when known.
    subject_id: Mapped[int | None] = mapped_column(ForeignKey("credit_subjects.id"))
    kind: Mapped[str] = mapped_column(String(16))
    text: Mapped[str] = mapped_column(Text)
    redemption_id: Mapped[int | None] = mapped_column(ForeignKey("redemptions.id"))
    # The partner a complaint is about (or whose redemption is disputed): its back-office lists it.
    partner_id: Mapped[int | None] = mapped_column(ForeignKey("partners.id"), index=True)
    status: Mapped[str] = mapped_column(String(16), default="submitted")
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
    due_at: Mapped[object] = mapped_column(UTCDateTime)
    accepted_at: Mapped[object | None] = mapped_column(UTCDateTime)
    assigned_to: Mapped[int | None] = mapped_column(ForeignKey("office_users.id"))
    answer: Mapped[str | None] = mapped_column(Text)
    answered_at: Mapped[object | None] = mapped_column(UTCDateTime)
    answered_by: Mapped[str | None] = mapped_column(String(64))
    __table_args__ = (
        CheckConstraint("kind in ('credit', 'redemption', 'complaint')", name="kind"),
        CheckConstraint("status in ('submitted', 'accepted', 'in_progress', 'closed')", name="status"),
    )


class ObjectionPhoto(db.Model):
    """A photo attached to an objection. The bytes live in a file (OBJECTION_PHOTO_DIR) under a
    random name; the row only says which file, so the table stays small and a backup of the
    database holds no pictures."""

    __tablename__ = "objection_photos"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    objection_id: Mapped[int] = mapped_column(ForeignKey("objections.id", ondelete="CASCADE"), index=True)
    stored_name: Mapped[str] = mapped_column(String(64), unique=True)
    content_type: Mapped[str] = mapped_column(String(16))
    size_bytes: Mapped[int] = mapped_column(Integer)
    created_at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow)
