"""The audit log: every change made by the office or a merchant is written here with who, what and when."""
from __future__ import annotations

from ..extensions import db
from .models import AuditEntry


def record(*, actor: str, action: str, target: str | None = None, detail: dict | None = None) -> AuditEntry:
    """Add an entry in the caller's transaction, so the change and its record commit together."""
    entry = AuditEntry(actor=actor, action=action, target=target, detail=detail)
    db.session.add(entry)
    return entry
