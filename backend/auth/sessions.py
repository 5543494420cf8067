"""Revocation of sessions: Redis answers fast, the database answers when Redis is down."""
from __future__ import annotations

import redis
from sqlalchemy import select

from ..extensions import db, redis_store
from .models import RevokedSession


def is_session_revoked(session_id: str | None) -> bool:
    if not session_id:
        return False
    try:
        value = redis_store.client.get(redis_store.key("revoked", session_id))
        if value is not None:
            return True
        # Redis only knows about revocations since it last started; the database is the record.
    except redis.RedisError:
        pass
    return db.session.scalar(select(RevokedSession.id).where(RevokedSession.session_id == session_id)) is not None
