"""A citizen account's standing (its subject, tier, black list; the company it represents), cached
in each worker for issuing.

Issuing a pass runs every ~45 s for every citizen with the code on screen, and the database read
of the standing was its largest cost. Each worker keeps the rows it read, tagged with the standing
*generation* its change feed knew before the read (backend/changefeed.py):
* an entry counts only while its tag equals the current generation;
* any committed change that can alter a standing (a subject's tier, kind or black list, an
  account's binding or status, a representative's authorisation; the credit import) writes a new
  random generation to Redis *after* the commit and publishes it; every worker's feed applies it.
So a read racing a change can only miss, never serve stale. While the feed is not synced (Redis
down, reconnecting) nothing is served from the cache: every issue reads the database. Entries
also expire after ENTRY_SECONDS, which bounds the lag if a change could not reach Redis while the
other workers still could. Redemption never relies on this cache (it reads the holder's row when
it records).
"""
from __future__ import annotations

import time

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from .. import changefeed
from ..auth.models import CitizenAccount, CompanyRepresentative
from .models import CreditSubject

FEED_NAME = "standing"
GENERATION_KEY = "standing:generation"
changefeed.watch_generation(FEED_NAME, GENERATION_KEY)
MAX_ENTRIES = 100_000  # per worker; a few hundred bytes each
ENTRY_SECONDS = 300
_CHANGED = "standing_changed"  # session.info flag: this transaction changed some standing

# What a standing depends on; a change to any other column (a sign-in time, a score) leaves it alone.
_WATCHED = {
    CreditSubject: ("kind", "tier_level", "black_listed"),
    CitizenAccount: ("subject_id", "disabled"),
    CompanyRepresentative: ("account_id", "company_subject_id", "revoked_at"),
}
_WATCHED_TABLES = {model.__tablename__ for model in _WATCHED}


def _entries() -> dict:
    return current_app.extensions.setdefault("standing_cache", {})


def current_generation() -> str | None:
    """The generation to tag a database read with (read it *before* the read); None: do not cache."""
    feed = changefeed.current_feed()
    return feed.generation(FEED_NAME) if feed.synced else None


def cached(account_id: int) -> list | None:
    """The row remembered for this account under the current generation, or None (ask the database)."""
    generation = current_generation()
    entry = _entries().get(account_id) if generation is not None else None
    if entry is None or entry[0] != generation or time.monotonic() - entry[1] > ENTRY_SECONDS:
        return None
    return entry[2]


def remember(account_id: int, row: list, generation: str | None) -> None:
    """Keep a row read from the database, tagged with the generation read before it."""
    if generation is None:
        return
    entries = _entries()
    if len(entries) >= MAX_ENTRIES:
        entries.clear()  # rare and cheap: the next issues read the database again
    entries[account_id] = (generation, time.monotonic(), row)


def mark_changed(session: Session) -> None:
    """For writes the ORM cannot see (COPY): this transaction changes standings."""
    session.info[_CHANGED] = True


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
        changefeed.announce_generation(FEED_NAME)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_CHANGED, None)
