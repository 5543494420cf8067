"""Per-worker caches of database rows that must never be served stale after a change.

Each cache watches some tables (some columns of them, or every column) and is tagged with a
*generation* that its change feed carries (backend/changefeed.py):
* an entry counts only while its tag equals the current generation, and the tag is the generation
  read *before* the database read, so a read racing a change can only miss, never serve stale;
* any committed change to what the cache watches (an ORM flush of a watched column, a bulk
  INSERT/UPDATE/DELETE on a watched table, hand-written SQL through the session that writes to
  one, or a write the session cannot see that marks itself with `mark_changed`) writes a new
  random generation to Redis *after* the commit and publishes it; the worker that made the change
  knows at once, the others when the message lands;
* while the feed is not synced (Redis down, reconnecting) nothing is served: callers read the
  database every time;
* entries also expire after `entry_seconds`, which bounds the lag if a change could not reach
  Redis while the other workers still could, or was made outside the app (psql): docs/running.md.
"""
from __future__ import annotations

import re
import time

from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session
from sqlalchemy.sql.elements import TextClause

from . import changefeed

_CHANGED = "watched_caches_changed"  # session.info: names of the caches this transaction changed
_CACHES: list["WatchedCache"] = []


class WatchedCache:
    """`watched`: model -> the columns whose change matters, or None for any change to a row."""

    def __init__(self, name: str, *, generation_key: str, watched: dict[type, tuple[str, ...] | None],
                 entry_seconds: float, max_entries: int):
        self.name = name
        self.generation_key = generation_key
        self.watched = watched
        self.watched_tables = {model.__tablename__ for model in watched}
        self.entry_seconds = entry_seconds
        self.max_entries = max_entries
        changefeed.watch_generation(name, generation_key)
        _CACHES.append(self)

    def _entries(self) -> dict:
        return current_app.extensions.setdefault(f"watched_cache:{self.name}", {})

    def current_generation(self) -> str | None:
        """The generation to tag a database read with (read it *before* the read); None: do not cache."""
        feed = changefeed.current_feed()
        return feed.generation(self.name) if feed.synced else None

    def get(self, key):
        """The value remembered under the current generation, or None (ask the database)."""
        generation = self.current_generation()
        entry = self._entries().get(key) if generation is not None else None
        if entry is None or entry[0] != generation or time.monotonic() - entry[1] > self.entry_seconds:
            return None
        return entry[2]

    def get_or_load(self, key, load):
        """The remembered value, or `load()`'s (remembered unless None). The generation is read before
        `load` runs, so a change committed during the load can only cause a miss, never a stale hit."""
        generation = self.current_generation()
        entry = self._entries().get(key) if generation is not None else None
        if entry is not None and entry[0] == generation and time.monotonic() - entry[1] <= self.entry_seconds:
            return entry[2]
        value = load()
        if value is not None:
            self.put(key, value, generation)
        return value

    def put(self, key, value, generation: str | None) -> None:
        """Keep a value read from the database, tagged with the generation read before it."""
        if generation is None:
            return
        entries = self._entries()
        if len(entries) >= self.max_entries:
            entries.clear()  # rare and cheap: the next requests read the database again
        entries[key] = (generation, time.monotonic(), value)

    def mark_changed(self, session: Session) -> None:
        """For writes the ORM cannot see (COPY, raw SQL): this transaction changes what the cache holds."""
        session.info.setdefault(_CHANGED, set()).add(self.name)

    def changes(self, instance) -> bool:
        if type(instance) not in self.watched:
            return False
        columns = self.watched[type(instance)]
        state = inspect(instance)
        if columns is None or state.pending or state.deleted or not state.persistent:
            return True
        return any(state.attrs[name].history.has_changes() for name in columns)


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session, _flush_context):
    marked = session.info.get(_CHANGED, ())
    for cache in _CACHES:
        # A cache already marked in this transaction needs no second look at later flushes.
        if cache.name not in marked and any(
                cache.changes(instance) for instance in (*session.new, *session.dirty, *session.deleted)):
            cache.mark_changed(session)


_WRITE = re.compile(r"^\s*(insert|update|delete|truncate|merge|copy)\b", re.IGNORECASE)
_WORDS = re.compile(r"[a-z_][a-z0-9_]*", re.IGNORECASE)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(orm_execute_state):
    statement = orm_execute_state.statement
    if isinstance(statement, TextClause):
        # Hand-written SQL through the session (scripts, tests): a write naming a watched table counts.
        if not _WRITE.match(statement.text):
            return
        tables = {word.lower() for word in _WORDS.findall(statement.text)}
    elif orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete:
        tables = {getattr(getattr(statement, "table", None), "name", None)}
    else:
        return
    for cache in _CACHES:
        if tables & cache.watched_tables:
            cache.mark_changed(orm_execute_state.session)


@event.listens_for(Session, "after_commit")
def _announce_after_commit(session):
    names = session.info.pop(_CHANGED, None)
    if names and has_app_context():
        for name in sorted(names):
            changefeed.announce_generation(name)


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_CHANGED, None)
