"""The audit log: every change made by the office or a merchant is written here with who, what and when."""
from __future__ import annotations

from datetime import date, datetime, timedelta

from sqlalchemy import select

from ..extensions import db
from ..timeutil import SHANGHAI
from .models import AuditEntry


def record(*, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> AuditEntry:
    """Add an entry in the caller's transaction, so the change and its record commit together."""
    entry = AuditEntry(actor=actor, action=action, target=target, detail=detail)
    db.session.add(entry)
    return entry


def entries(*, actor: str | None = None, action: str | None = None, day_from=None, day_to=None,
            before: int | None = None, limit: int = 200) -> list[AuditEntry]:
    """The log, newest first, filtered; `before`: an entry id, for the next page."""
    query = select(AuditEntry)
    if actor:
        query = query.where(AuditEntry.actor == actor)
    if action:
        query = query.where(AuditEntry.action == action)
    if day_from:
        query = query.where(AuditEntry.at >= _start_of(day_from))
    if day_to:
        query = query.where(AuditEntry.at < _start_of(day_to + timedelta(days=1)))
    if before:
        query = query.where(AuditEntry.id < before)
    return list(db.session.scalars(query.order_by(AuditEntry.id.desc()).limit(limit)))


def _start_of(day: date) -> datetime:
    return datetime(day.year, day.month, day.day, tzinfo=SHANGHAI)
