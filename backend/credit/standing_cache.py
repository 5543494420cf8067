"""A citizen account's standing (its subject, tier, black list; the company it represents), cached in Redis.

Issuing a pass runs every ~45 s for every citizen with the code on screen, and the database read
of the standing was its largest cost. The entry for an account is read in the same Redis round
trip as the session check (`redis_store.read_along`), so a hit costs nothing more.

Correctness rests on one generation for all entries:
* every entry is written tagged with the generation read *before* the database read;
* an entry counts only while its tag equals the current generation;
* any committed change that can alter a standing (a subject's tier, kind or black list, an
  account's binding or status, a representative's authorisation; the credit import) writes a new
  random generation *after* the commit. So a read racing a change can only miss, never serve stale.

Entries also expire after ENTRY_TTL_SECONDS: if Redis was unreachable at the moment of a change,
issuing can lag it by at most that long, and redemption never relies on this cache (it reads the
holder's row when it records).
"""
from __future__ import annotations

import json
import logging
import uuid

import redis
from flask import has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from ..auth.models import CitizenAccount, CompanyRepresentative
from ..extensions import NOT_READ, redis_store
from .models import CreditSubject

log = logging.getLogger(__name__)

GENERATION_KEY = "standing:generation"
ENTRY_TTL_SECONDS = 300
_CHANGED = "standing_changed"  # session.info flag: this transaction changed some standing

# What a standing depends on; a change to any other column (a sign-in time, a score) leaves it alone.
_WATCHED = {
    CreditSubject: ("kind", "tier_level", "black_listed"),
    CitizenAccount: ("subject_id", "disabled"),
    CompanyRepresentative: ("account_id", "company_subject_id", "revoked_at"),
}
_WATCHED_TABLES = {model.__tablename__ for model in _WATCHED}


def entry_key(account_id: int) -> str:
    return f"standing:account:{account_id}"


# Only citizens issue passes; their entry rides along with the session check.
redis_store.read_along(lambda principal: GENERATION_KEY if principal.kind == "citizen" else None)
redis_store.read_along(lambda principal: entry_key(principal.id) if principal.kind == "citizen" else None)


def cached(account_id: int) -> list | None:
    """The row remembered for this account under the current generation, or None (ask the database)."""
    generation = redis_store.read_this_request(GENERATION_KEY)
    entry = redis_store.read_this_request(entry_key(account_id))
    if not generation or entry is NOT_READ or not entry:
        return None
    tag, _, payload = entry.partition("|")
    return json.loads(payload) if tag == generation else None


def remember(account_id: int, row: list) -> None:
    """Keep the row just read from the database, tagged with the generation read before it."""
    generation = redis_store.read_this_request(GENERATION_KEY)
    if generation is NOT_READ:
        return  # Redis was not asked (or failed) this request: nothing to tag the entry with
    client = redis_store.client
    try:
        if generation is None:
            # No generation yet (new or flushed Redis): start one; entries count from the next request.
            client.set(redis_store.key(GENERATION_KEY), uuid.uuid4().hex, nx=True)
            return
        client.set(redis_store.key(entry_key(account_id)), f"{generation}|{json.dumps(row)}", ex=ENTRY_TTL_SECONDS)
    except redis.RedisError:
        pass


def mark_changed(session: Session) -> None:
    """For writes the ORM cannot see (COPY): this transaction changes standings."""
    session.info[_CHANGED] = True


def _announce() -> None:
    try:
        redis_store.client.set(redis_store.key(GENERATION_KEY), uuid.uuid4().hex)
    except redis.RedisError:
        log.warning("standing changed but Redis is unreachable: cached standings expire within %s s",
                    ENTRY_TTL_SECONDS)


def _changes_standing(instance) -> bool:
    columns = _WATCHED.get(type(instance))
    if columns is None:
        return False
    state = inspect(instance)
    if state.pending or state.deleted or not state.persistent:
        return True
    return any(state.attrs[name].history.has_changes() for name in columns)


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session, _flush_context):
    if not session.info.get(_CHANGED) and any(
            _changes_standing(instance) for instance in (*session.new, *session.dirty, *session.deleted)):
        session.info[_CHANGED] = True


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(orm_execute_state):
    if orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete:
        table = getattr(orm_execute_state.statement, "table", None)
        if getattr(table, "name", None) in _WATCHED_TABLES:
            orm_execute_state.session.info[_CHANGED] = True


@event.listens_for(Session, "after_commit")
def _announce_after_commit(session):
    if session.info.pop(_CHANGED, False) and has_app_context():
        _announce()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_CHANGED, None)
