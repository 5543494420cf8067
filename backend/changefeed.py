"""The change feed: one Redis Pub/Sub subscription per worker that keeps its consumers' in-memory
copies current (auth/sessions.py: revoked sessions; watched_cache.py: the caches' generations).

Issuing and redeeming used to ask Redis on every request, and one round trip costs the client more
CPU than a whole hello-world request (docs/architecture.md), so each worker keeps what those
checks need in memory:

* a change is announced (`announce`): the announcing worker's consumer applies it at once, then
  one pipeline writes it where a loading feed finds it (Redis keys) and PUBLISHes it on
  `<REDIS_PREFIX>changes` as `<kind> <payload>`;
* the feed's thread SUBSCRIBEs, and only once Redis confirms does every consumer load its full
  state. A change is therefore either in what a consumer loads or in a message received after it
  (Redis handles one connection's commands in order, and an announcement writes before it publishes);
* it loads again every `SESSION_WARM_SECONDS` while staying subscribed, which bounds how long a
  change whose publication failed can go unseen;
* while the feed is not synced (starting, Redis down, reconnecting) `synced` is False and callers
  take their per-request path (Redis, or the database). A lost connection makes it False at once;
  Redis losing its data without dropping connections (FLUSHALL) is noticed within a second, by a
  marker key the feed writes when it loads and checks while it listens.

The thread starts with the app (`init_app`), except in a `flask` command. A worker forked from a
preloaded app inherits the feed but not its thread: its feed is not synced until gunicorn.conf.py's
`post_fork` starts it again.
"""
from __future__ import annotations

import logging
import os
import threading
import time
from typing import Callable, Iterable, Protocol

import click
import redis
from flask import current_app

from .extensions import redis_connection, redis_store

log = logging.getLogger(__name__)

CHANNEL = "changes"
LOADED_MARKER = "changes:loaded"
RETRY_SECONDS = 1.0


class Consumer(Protocol):
    kind: str  # the first word of its messages

    def reset(self) -> None:
        """Forget everything, with fresh locks (a forked process: its parent's threads may hold them)."""

    def load(self, client: redis.Redis, prefix: str) -> None:
        """Read the full state, keeping whatever was received meanwhile (it is newer)."""

    def receive(self, payload: str) -> None:
        """Apply one change: this worker's own at once, the others' as their messages land."""


class ChangeFeed:
    def __init__(self, *, prefix: str, resync_seconds: float, consumers: Iterable[Consumer],
                 redis_url: str | None = None, connect: Callable[..., redis.Redis] | None = None):
        # connect(**options) makes the feed's client (the app's: extensions.redis_connection, which with
        # Sentinel asks the sentinels for the master each time it connects); else one on redis_url.
        self._connect = connect or (lambda **options: redis.Redis.from_url(redis_url, **options))
        self._prefix, self._resync_seconds = prefix, resync_seconds
        self.channel = prefix + CHANNEL
        self.consumers = {consumer.kind: consumer for consumer in consumers}
        self.client_name = f"{prefix}change-feed".replace(" ", "_")  # how the subscription shows in CLIENT LIST
        self._pid: int | None = None
        self._synced = False
        self._stop = threading.Event()
        # Held while consumers load: stop() takes it, so once stop() returns no database read is in
        # flight (one finishing after the app disposed its engine would leak a connection).
        self._reading = threading.Lock()

    @property
    def synced(self) -> bool:
        """True while every consumer's copy is current; False in a forked process until it starts its own."""
        return self._synced and self._pid == os.getpid()

    def start(self) -> None:
        if self._pid not in (None, os.getpid()):  # forked: locks may be held by threads that stayed behind
            self._reading = threading.Lock()
            for consumer in self.consumers.values():
                consumer.reset()
        self._pid, self._synced, self._stop = os.getpid(), False, threading.Event()
        threading.Thread(target=self._run, args=(self._stop,), name="change-feed", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._synced = False
        with self._reading:  # wait for a load in flight; none starts after this
            pass

    def _run(self, stop: threading.Event) -> None:
        while not stop.is_set():
            pubsub = client = None
            try:
                # A new client each time round: after a Redis failover it subscribes on the new master.
                client = self._connect(socket_connect_timeout=1.0, socket_timeout=5.0, health_check_interval=2,
                                       decode_responses=True, client_name=self.client_name)
                pubsub = client.pubsub()
                pubsub.subscribe(self.channel)
                self._await_subscription(pubsub)
                while not stop.is_set():
                    with self._reading:
                        if stop.is_set():
                            return
                        client.set(self._prefix + LOADED_MARKER, "1")
                        for consumer in self.consumers.values():
                            consumer.load(client, self._prefix)
                    self._synced = True
                    self._listen(client, pubsub, stop, until=time.monotonic() + self._resync_seconds)
            except Exception as error:  # Redis gone, database gone: per-request paths until we are back
                if self._synced and not stop.is_set():
                    log.warning("change feed lost (%s); checks go to Redis or the database until it is back", error)
                self._synced = False
                stop.wait(RETRY_SECONDS)
            finally:
                if pubsub is not None:
                    pubsub.close()
                if client is not None:
                    client.close()

    @staticmethod
    def _await_subscription(pubsub) -> None:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            if message and message["type"] == "subscribe":
                return
        raise TimeoutError("no subscription confirmation from Redis")

    def _listen(self, client: redis.Redis, pubsub, stop: threading.Event, *, until: float) -> None:
        checked = time.monotonic()
        while not stop.is_set() and time.monotonic() < until:
            message = pubsub.get_message(timeout=1.0)
            if message and message["type"] == "message":
                kind, _, payload = message["data"].partition(" ")
                if kind in self.consumers:
                    self.consumers[kind].receive(payload)
            elif message and message["type"] == "subscribe":
                # redis-py reconnected and subscribed again by itself: what was published meanwhile is lost.
                raise ConnectionError("subscribed again after a reconnection")
            if time.monotonic() - checked >= 1.0:
                checked = time.monotonic()
                if not client.exists(self._prefix + LOADED_MARKER):
                    raise RuntimeError("Redis lost its data")


def init_app(app, *, consumers: Iterable[Consumer]) -> None:
    """Give the app its feed and start the feed's thread, except in a `flask` command.

    A command runs once and exits, and `flask db upgrade` on an empty database would have its feed
    read tables that do not exist yet: an ERROR in PostgreSQL's log every second until they do.
    Without the thread, a command's caches and checks take their per-request paths (as a worker's
    do until its feed is synced), and the changes it announces still reach Redis and the workers."""
    feed = app.extensions["change_feed"] = ChangeFeed(
        connect=lambda **options: redis_connection(app.config, **options), prefix=app.config["REDIS_PREFIX"],
        resync_seconds=app.config["SESSION_WARM_SECONDS"], consumers=consumers)
    if click.get_current_context(silent=True) is None:  # Flask's CLI builds the app inside its command
        feed.start()


def current_feed() -> ChangeFeed:
    return current_app.extensions["change_feed"]


def announce(kind: str, payloads: list[str], *, write: Callable[[redis.client.Pipeline], None]) -> bool:
    """Make a change known: this worker's consumer applies it now; then, in one pipeline, `write`
    stores it in Redis where a loading feed finds it, and each payload is published. False if Redis
    could not be written (the other workers see it at their next load)."""
    feed = current_feed()
    for payload in payloads:
        feed.consumers[kind].receive(payload)
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        write(pipe)
        for payload in payloads:
            pipe.publish(feed.channel, f"{kind} {payload}")
        pipe.execute()
    except redis.RedisError:
        return False
    return True
