"""Extension objects, created unbound at import time and bound to an app by the factory."""
from __future__ import annotations

import sqlite3

import redis
from flask import current_app
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, event
from sqlalchemy.engine import Engine

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


@event.listens_for(Engine, "connect")
def _sqlite_enforces_foreign_keys(dbapi_connection, connection_record) -> None:
    """SQLite checks foreign keys only when each connection asks it to; PostgreSQL always does.
    (Migrations turn it off for their own connection: see migrations/env.py.)"""
    if isinstance(dbapi_connection, sqlite3.Connection):
        cursor = dbapi_connection.cursor()
        cursor.execute("PRAGMA foreign_keys = ON")
        cursor.close()


def read_outside_transaction(statement, params=None):
    """Run one read on its own autocommit connection and return all its rows.

    A read in the request's session costs PostgreSQL three round trips (BEGIN, the query, the
    ROLLBACK at teardown); hot read-only paths such as issuing a pass use this and pay one.
    """
    with db.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as connection:
        return connection.execute(statement, params or {}).all()


class RedisStore:
    """The app's Redis client; every caller must survive `redis.RedisError` (Redis is a fast path only)."""

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
