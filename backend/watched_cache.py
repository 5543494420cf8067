"""Per-worker caches of database reads that must never be served stale after a change: holders'
standings, perk facts, the key ring, tier names.

Each cache watches some tables (some columns of them, or every column) and is tagged with a
*generation* that every worker's change feed carries (backend/changefeed.py):
* `get_or_load` reads the generation *before* it loads, and an entry counts only while its tag
  equals the current generation: a load racing a change can only miss, never serve stale;
* any committed change to what a cache watches (an ORM flush of a watched column, an ORM bulk
  INSERT/UPDATE/DELETE on a watched table) announces a new random generation *after* the commit:
  the worker that made the change knows at once, the others when the message lands. SQL the ORM
  does not build (COPY, hand-written statements) is not guessed at: its writer calls `mark_written`;
* while the feed is not synced (Redis down, reconnecting) nothing is served: every call loads;
* entries also expire after `entry_seconds`, which bounds the lag if a change could not reach
  Redis while the other workers still could, or was made outside the app (psql): docs/running.md.
"""
from __future__ import annotations

import logging
import threading
import time
import uuid

import redis
from flask import current_app, has_app_context
from sqlalchemy import event, inspect
from sqlalchemy.orm import Session

from . import changefeed
from .extensions import redis_store

log = logging.getLogger(__name__)

_CHANGED = "watched_caches_changed"  # session.info: names of the caches this transaction changed
_CACHES: dict[str, "WatchedCache"] = {}


class WatchedCache:
    """`watched`: model -> the columns whose change matters, or None for any change to a row."""

    def __init__(self, name: str, *, generation_key: str, watched: dict[type, tuple[str, ...] | None],
                 entry_seconds: float, max_entries: int):
        self.name, self.generation_key, self.watched = name, generation_key, watched
        self.watched_tables = {model.__tablename__ for model in watched}
        self.entry_seconds, self.max_entries = entry_seconds, max_entries
        self._extension = f"watched_cache:{name}"  # its entries live in the app: each app is a worker
        _CACHES[name] = self

    def _entries(self) -> dict:
        return current_app.extensions.setdefault(self._extension, {})

    def current_generation(self) -> str | None:
        """The generation to tag a load with (read it *before* the load); None: do not cache."""
        feed = changefeed.current_feed()
        return feed.consumers[Generations.kind].values.get(self.name) if feed.synced else None

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

    def get(self, key):
        """The value remembered under the current generation, or None."""
        return self.get_or_load(key, lambda: None)

    def put(self, key, value, generation: str | None) -> None:
        """Keep a value read from the database, tagged with the generation read before it."""
        if generation is None:
            return
        entries = self._entries()
        if len(entries) >= self.max_entries:
            entries.clear()  # rare and cheap: the next requests read the database again
        entries[key] = (generation, time.monotonic(), value)

    def mark_changed(self, session: Session) -> None:
        """This transaction changes what the cache holds: announce a new generation after its commit."""
        session.info.setdefault(_CHANGED, set()).add(self.name)

    def announce_change(self) -> bool:
        """After a committed change: a new random generation (a counter could come back to a value a
        worker holds after a Redis flush). False if Redis could not be written."""
        value = uuid.uuid4().hex
        written = changefeed.announce(Generations.kind, [f"{self.name} {value}"],
                                      write=lambda pipe: pipe.set(redis_store.key(self.generation_key), value))
        if not written:
            log.warning("%s changed but Redis is unreachable: other workers notice at their next load", self.name)
        return written

    def changes(self, instance) -> bool:
        if type(instance) not in self.watched:
            return False
        columns = self.watched[type(instance)]
        state = inspect(instance)
        if columns is None or state.pending or state.deleted or not state.persistent:
            return True
        return any(state.attrs[name].history.has_changes() for name in columns)


class Generations:
    """The change feed's consumer of `generation <cache name> <value>`: the generations of the caches
    that exist when the app is built (`Generations()` in the factory, after every module is imported)."""
    kind = "generation"

    def __init__(self):
        self._keys = {cache.name: cache.generation_key for cache in _CACHES.values()}
        self.reset()

    def reset(self) -> None:
        self._lock = threading.Lock()
        self.values: dict[str, str] = {}
        self._received_while_loading: set[str] = set()

    def load(self, client: redis.Redis, prefix: str) -> None:
        with self._lock:
            self._received_while_loading = set()
        pipe = client.pipeline(transaction=False)
        for key in self._keys.values():
            # A generation must exist for a cache to be tagged with it: the first reader creates it.
            pipe.set(prefix + key, uuid.uuid4().hex, nx=True)
            pipe.get(prefix + key)
        loaded = dict(zip(self._keys, pipe.execute()[1::2]))
        with self._lock:  # a value this worker announced during the load is newer than what it read
            self.values.update({name: value for name, value in loaded.items()
                                if name not in self._received_while_loading})

    def receive(self, payload: str) -> None:
        name, _, value = payload.partition(" ")
        with self._lock:
            self.values[name] = value
            self._received_while_loading.add(name)


def mark_written(session: Session, *models: type) -> None:
    """For SQL the ORM does not build (COPY, hand-written statements): this transaction writes these
    models' tables, so every cache watching one of them renews its generation after the commit."""
    _mark_tables(session, {model.__tablename__ for model in models})


def _mark_tables(session: Session, tables: set) -> None:
    for cache in _CACHES.values():
        if tables & cache.watched_tables:
            cache.mark_changed(session)


@event.listens_for(Session, "after_flush")
def _note_flushed_changes(session, _flush_context):
    marked = session.info.get(_CHANGED, ())
    for cache in _CACHES.values():
        # A cache already marked in this transaction needs no second look at later flushes.
        if cache.name not in marked and any(
                cache.changes(instance) for instance in (*session.new, *session.dirty, *session.deleted)):
            cache.mark_changed(session)


@event.listens_for(Session, "do_orm_execute")
def _note_bulk_changes(orm_execute_state):
    if orm_execute_state.is_insert or orm_execute_state.is_update or orm_execute_state.is_delete:
        table = getattr(orm_execute_state.statement, "table", None)
        _mark_tables(orm_execute_state.session, {getattr(table, "name", None)})


@event.listens_for(Session, "after_commit")
def _announce_after_commit(session):
    names = session.info.pop(_CHANGED, None)
    if names and has_app_context():
        for name in sorted(names):
            _CACHES[name].announce_change()


@event.listens_for(Session, "after_rollback")
def _forget_after_rollback(session):
    session.info.pop(_CHANGED, None)
