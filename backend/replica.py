"""Reads that may go to a PostgreSQL streaming replica: the office's statistics, exports and case feed.

With DATABASE_REPLICA_URL set, config.py makes it Flask-SQLAlchemy's `replica` bind, and `read(work)`
runs `work(session, complete_as_of)` on a session of the replica while the replica is fresh enough,
on the request's session of the primary otherwise. Whatever must read its own writes (office edits,
redemption) never calls it, so it stays on the primary.

Fresh enough: each worker process asks at most once a second, first the primary for its current WAL
position, then the replica for the position it has replayed and the commit time of the last
transaction it replayed. Caught up (replayed at least that position): the replica holds everything
committed on the primary before the moment of asking. Behind: everything committed up to that last
replayed commit, as WAL is replayed in commit order. That moment is `complete_as_of`; its distance
from now is the lag. Over DATABASE_REPLICA_MAX_LAG_SECONDS the replica is "lagging"; unreachable,
or out of recovery (promoted: no longer following our primary), it is "down". Either way reads go
to the primary, and /api/health says which. A read that fails on the replica is run again on the
primary and the next read asks again.
"""
from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from datetime import datetime
from typing import Callable, Iterator, TypeVar

from flask import current_app
from sqlalchemy import text
from sqlalchemy.exc import OperationalError, SQLAlchemyError
from sqlalchemy.orm import Session

from .dbtypes import utcnow
from .extensions import db

BIND = "replica"
ASK_EVERY_SECONDS = 1.0
T = TypeVar("T")


@dataclass(frozen=True)
class Standing:
    """`status` is "off" (no replica set), "ok", "lagging" or "down"; the replica holds everything
    the primary committed before `complete_as_of`."""

    status: str
    complete_as_of: datetime | None = None
    lag_seconds: float | None = None


class Watch:
    """One process's view of the replica, asked again at most once every ASK_EVERY_SECONDS."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._standing = Standing("down")
        self._asked = float("-inf")

    def standing(self, max_lag_seconds: float) -> Standing:
        if time.monotonic() - self._asked >= ASK_EVERY_SECONDS:
            with self._lock:  # one request asks; the others meanwhile use the last answer
                if time.monotonic() - self._asked >= ASK_EVERY_SECONDS:
                    self._standing = _ask(max_lag_seconds)
                    self._asked = time.monotonic()
        return self._standing

    def forget(self) -> None:
        self._asked = float("-inf")


def standing() -> Standing:
    if BIND not in (current_app.config.get("SQLALCHEMY_BINDS") or {}):
        return Standing("off")
    return _watch().standing(current_app.config["DATABASE_REPLICA_MAX_LAG_SECONDS"])


def read(work: Callable[[Session, datetime | None], T]) -> T:
    """work(session, complete_as_of) on the replica when it is fresh enough, else work(db.session, None)."""
    now = standing()
    if now.status == "ok":
        try:
            with Session(db.engines[BIND]) as session:
                return work(session, now.complete_as_of)
        except OperationalError:  # gone since it was asked, or a query cancelled by replay
            _watch().forget()
    return work(db.session, None)


def stream(work: Callable[[Session], Iterator[T]]) -> Iterator[T]:
    """`read` for an export that is sent while it is read: work(session) yields on the replica when it
    is fresh enough, else on the primary. A replica lost half-way ends the export with an error (what
    was sent cannot be taken back); the next export asks again."""
    if standing().status == "ok":
        try:
            with Session(db.engines[BIND]) as session:
                yield from work(session)
            return
        except OperationalError:
            _watch().forget()
            raise
    yield from work(db.session)


def _watch() -> Watch:
    return current_app.extensions.setdefault("replica_watch", Watch())


def _ask(max_lag_seconds: float) -> Standing:
    asked_at = utcnow()
    try:
        with db.engine.connect() as connection:
            primary_position = connection.execute(text("select pg_current_wal_lsn()::text")).scalar_one()
        with db.engines[BIND].connect() as connection:
            following, caught_up, replayed_at = connection.execute(text(
                "select pg_is_in_recovery(), pg_last_wal_replay_lsn() >= cast(:position as pg_lsn), "
                "pg_last_xact_replay_timestamp()"), {"position": primary_position}).one()
    except SQLAlchemyError:
        return Standing("down")
    if not following:
        return Standing("down")
    complete_as_of = asked_at if caught_up else replayed_at
    if complete_as_of is None:  # behind, and nothing replayed since it started
        return Standing("lagging")
    lag = max(0.0, (utcnow() - complete_as_of).total_seconds())
    return Standing("ok" if lag <= max_lag_seconds else "lagging", complete_as_of, round(lag, 3))
