"""Extension objects, created unbound at import time and bound to an app by the factory."""
from __future__ import annotations

import sqlite3

import redis
from flask import current_app
from redis.sentinel import Sentinel, SentinelConnectionPool
from flask_limiter import Limiter
from flask_limiter.util import get_remote_address
from flask_migrate import Migrate
from flask_sqlalchemy import SQLAlchemy
from sqlalchemy import MetaData, create_engine, event
from sqlalchemy.engine import Engine

from .config import parse_sentinels

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


class AutocommitEngine:
    """A second engine on the app's database whose connections stay in autocommit mode.

    A single statement in the request's session costs PostgreSQL three round trips (BEGIN, the
    statement, the ROLLBACK or COMMIT); here it costs one. Its own pool, never switching isolation on
    checkout (that switch cost ~90 us of CPU per statement) nor resetting on return, holds at most
    DATABASE_AUTOCOMMIT_CONNECTIONS per worker on PostgreSQL (a gevent worker serves many requests
    at once). A request's statement here never waits for the session's pool, nor the other way round.
    Disposing the app's engine disposes this one too, and its listeners are told of this one's statements."""

    def init_app(self, app) -> None:
        with app.app_context():
            main = db.engine
        given = app.config.get("SQLALCHEMY_ENGINE_OPTIONS", {})
        options = {"isolation_level": "AUTOCOMMIT", "pool_reset_on_return": None,
                   "pool_pre_ping": bool(given.get("pool_pre_ping"))}
        if main.dialect.name == "postgresql":  # SQLite's connections are file handles: its default pool
            # The most recently used connection first (it is warm; idle ones may then time out).
            options.update(pool_size=app.config["DATABASE_AUTOCOMMIT_CONNECTIONS"], max_overflow=0,
                           pool_timeout=given.get("pool_timeout", 30), pool_use_lifo=True)
        engine = app.extensions["autocommit_engine"] = create_engine(main.url, **options)
        event.listen(main, "engine_disposed", lambda _main: engine.dispose())

        @event.listens_for(engine, "before_cursor_execute")
        def _tell_the_apps_listeners(*statement) -> None:
            # One statement log per app, whichever engine sent it (logging; tests that count statements).
            if main.dispatch.before_cursor_execute:
                main.dispatch.before_cursor_execute(*statement)

    @property
    def engine(self) -> Engine:
        return current_app.extensions["autocommit_engine"]


autocommit = AutocommitEngine()


def read_outside_transaction(statement, params=None):
    """Run one read on an autocommit connection and return all its rows (one round trip; hot
    read-only paths such as issuing a pass use it)."""
    with autocommit.engine.connect() as connection:
        return connection.execute(statement, params or {}).all()


def redis_connection(config, **options) -> redis.Redis:
    """The one place a Redis client is made (the app's, and each worker's change feed).

    Without REDIS_SENTINELS: REDIS_URL's server. With them: a client of the master that the sentinels
    name REDIS_SENTINEL_MASTER, through redis-py's Sentinel. Its pool asks the sentinels for the
    master's address whenever it opens a connection and closes the connections to an old master, so
    after a failover the next command (or the change feed's next subscription) goes to the new one.
    The database number and password still come from REDIS_URL."""
    sentinels = parse_sentinels(config.get("REDIS_SENTINELS"))
    if not sentinels:
        return redis.Redis.from_url(config["REDIS_URL"], **options)
    for name, value in redis.connection.parse_url(config["REDIS_URL"]).items():
        if name in {"db", "username", "password"}:
            options.setdefault(name, value)
    # A sentinel that does not answer must not hold a request longer than Redis itself may.
    asking = {name: options[name] for name in ("socket_timeout", "socket_connect_timeout") if name in options}
    return Sentinel(sentinels, sentinel_kwargs=asking).master_for(config["REDIS_SENTINEL_MASTER"], **options)


def rate_limit_storage(config) -> tuple[str, dict]:
    """Flask-Limiter's storage URI and options: the same Redis, found the same way, as redis_connection."""
    options = {"socket_timeout": 0.25, "socket_connect_timeout": 0.25, "key_prefix": config["REDIS_PREFIX"] + "rl"}
    sentinels = parse_sentinels(config.get("REDIS_SENTINELS"))
    if not sentinels:
        return config["REDIS_URL"], options
    url = redis.connection.parse_url(config["REDIS_URL"])
    options.update({name: url[name] for name in ("db", "password") if name in url})
    # Counters are read where they are written: a replica's copy may lag behind the master's.
    options.update(use_replicas=False, sentinel_kwargs={"socket_timeout": 0.25, "socket_connect_timeout": 0.25})
    hosts = ",".join(f"{host}:{port}" for host, port in sentinels)
    return f"redis+sentinel://{hosts}/{config['REDIS_SENTINEL_MASTER']}", options


def sentinel_view(client: redis.Redis) -> dict | None:
    """With Sentinel: the master the sentinels name now ("host:port", or None while none is agreed)
    and their configuration epoch, which grows by one at every failover. None without Sentinel."""
    pool = client.connection_pool
    if not isinstance(pool, SentinelConnectionPool):
        return None
    manager, name = pool.sentinel_manager, pool.service_name
    try:
        host, port = manager.discover_master(name)
        master = f"{host}:{port}"
    except redis.RedisError:
        master = None
    epoch = None
    for sentinel in manager.sentinels:
        try:
            epoch = int(sentinel.sentinel_master(name)["config-epoch"])
            break
        except (redis.RedisError, KeyError):
            continue
    return {"master": master, "epoch": epoch}


class RedisStore:
    """The app's Redis client; every caller must survive `redis.RedisError` (Redis is a fast path only)."""

    def init_app(self, app) -> None:
        app.extensions["redis"] = redis_connection(
            app.config, socket_timeout=0.25, socket_connect_timeout=0.25, decode_responses=True
        )

    @property
    def client(self) -> redis.Redis:
        return current_app.extensions["redis"]

    def key(self, *parts) -> str:
        return current_app.config["REDIS_PREFIX"] + ":".join(str(p) for p in parts)


redis_store = RedisStore()
