"""Extension objects, created unbound at import time and bound to an app by the factory."""
from __future__ import annotations

from typing import Callable

import redis
from flask import current_app, g
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData

# Named constraints keep migrations identical on SQLite and PostgreSQL and make them reversible.
NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

db = SQLAlchemy(metadata=MetaData(naming_convention=NAMING_CONVENTION))
migrate = Migrate()
limiter = Limiter(key_func=get_remote_address, default_limits=[], headers_enabled=True)


def read_outside_transaction(statement, params=None):
    """Run one read on its own autocommit connection and return all its rows.

    A read in the request's session costs PostgreSQL three round trips (BEGIN, the query, the
    ROLLBACK at teardown); hot read-only paths such as issuing a pass use this and pay one.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, params or {}).all()


NOT_READ = object()  # a key this request did not read along with its session check


class RedisStore:
    """The app's Redis client; every caller must survive `redis.RedisError` (Redis is a fast path only).

    Every authenticated request already makes one pipelined round trip to Redis (the session
    check). Keys registered with `read_along` ride in that same pipeline, so a hot request that
    also needs, say, the key ring's generation pays one round trip, not one per key. The values
    are kept for the rest of the request (`read_this_request`); a key not read (no session
    check, Redis down) answers NOT_READ and its owner asks Redis itself, or the database.
    """

    def __init__(self):
        self._along: list[Callable[[object], str | None]] = []

    def read_along(self, name_for: Callable[[object], str | None]) -> None:
        """Register `name_for(principal)` -> a key name (unprefixed) to read with every session check, or None."""
        self._along.append(name_for)

    def names_to_read_along(self, principal) -> list[str]:
        return [name for name in (name_for(principal) for name_for in self._along) if name is not None]

    def remember_reads(self, values: dict[str, str | None]) -> None:
        g.redis_reads = values

    def read_this_request(self, name: str):
        """The value of `name` read along with this request's session check (None: no such key), or NOT_READ."""
        return g.get("redis_reads", {}).get(name, NOT_READ)

    def init_app(self, app) -> None:
        app.extensions["redis"] = redis.Redis.from_url(
            app.config["REDIS_URL"], socket_timeout=0.25, socket_connect_timeout=0.25, decode_responses=True
        )

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"]

    def key(self, *parts) -> str:
        return current_app.config["REDIS_PREFIX"] + ":".join(str(p) for p in parts)


redis_store = RedisStore()
