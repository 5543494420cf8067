"""The audit log, below every domain: every change made by the office, a merchant or a command is
written here with who, what and when, in the same transaction as the change."""
from __future__ import annotations

from datetime import timedelta
from typing import Iterator

from sqlalchemy import JSON, String, select
from sqlalchemy.orm import Mapped, mapped_column

from .dbtypes import BigId, UTCDateTime, utcnow
from .extensions import db
from .timeutil import check_day_range, day_start


class AuditEntry(db.Model):
    """Who did what to what, and when. Append-only."""

    __tablename__ = "audit_log"
    id: Mapped[int] = mapped_column(BigId, primary_key=True)
    at: Mapped[object] = mapped_column(UTCDateTime, default=utcnow, index=True)
    actor: Mapped[str] = mapped_column(String(64))  # e.g. "office:3", "staff:7", "cli"
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str | None] = mapped_column(String(64))
    detail: Mapped[dict | None] = mapped_column(JSON)


def record(*, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> AuditEntry:
    """Add an entry in the caller's transaction, so the change and its record commit together."""
    entry = AuditEntry(actor=actor, action=action, target=target, detail=detail)
    db.session.add(entry)
    return entry


def entries(*, actor: str | None = None, action: str | None = None, day_from=None, day_to=None,
            before: int | None = None, limit: int = 200, session=None) -> list[AuditEntry]:
    """The log, newest first, filtered; `before`: an entry id, for the next page."""
    check_day_range(day_from, day_to)
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if day_from:
        query = query.where(AuditEntry.at >= day_start(day_from))
    if day_to:
        query = query.where(AuditEntry.at < day_start(day_to + timedelta(days=1)))
    if before:
        query = query.where(AuditEntry.id < before)
    return list((session or db.session).scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def every_entry(*, session, batch: int = 1000, **filters) -> Iterator[AuditEntry]:
    """Every entry `entries` would page through with these filters, newest first, read `batch` at a time."""
    before = None
    while True:
        page = entries(**filters, before=before, limit=batch, session=session)
        yield from page
        if len(page) < batch:
            return
        before = page[-1].id
