"""Each worker's live copy of what must reach every worker at once: revoked sessions, and the
generations of the key ring and of holders' standings.

Issuing and redeeming used to ask Redis on every request. On this kind of machine one Redis round
trip costs ~75 us of the client's CPU alone (cross-CPU wake-ups in a VM), more than a whole
hello-world request, so each worker instead keeps what those checks need in memory, kept current
by one Redis Pub/Sub subscription:

* a change is first written where it lives (the database, a Redis key), then PUBLISHed on
  `<REDIS_PREFIX>changes` as `revoked <session id> <expires unix>` or `generation <name> <value>`;
  the process that made the change applies it to its own copy at once (`note_*`);
* the worker's feed thread SUBSCRIBEs, and only once Redis confirms does it load the full state:
  live revocations from the database and from Redis (`revoked:*`), generations from Redis. A change
  is therefore either in what it loads or in a message it receives after (Redis handles one
  connection's commands in order, and a revoker writes its key before it publishes);
* it loads again every `SESSION_WARM_SECONDS` while staying subscribed, which bounds how long a
  change whose publication failed can go unseen (the per-request Redis check had the same bound);
* while the feed is not synced (starting, Redis down, reconnecting) `synced` is False and callers
  take their per-request path (Redis, or the database). A lost connection makes it False at once;
  Redis losing its data without dropping connections (FLUSHALL) is noticed within a second, by a
  marker key the feed writes when it loads and checks while it listens.

A change reaches the other workers within the time Redis takes to deliver a message (well under a
millisecond on loopback, a few milliseconds when the worker is saturated): "at once" for people; a
request already past its check when the message lands completes, as it did before.
"""
from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Callable

import redis
from flask import current_app

log = logging.getLogger(__name__)

CHANNEL = "changes"
RETRY_SECONDS = 1.0
LOADED_MARKER = "changes:loaded"
# Generations a feed keeps: name -> Redis key without the prefix. Domains register theirs at import.
WATCHED: dict[str, str] = {}


def watch_generation(name: str, key: str) -> None:
    WATCHED[name] = key


class ChangeFeed:
    """One app's subscription. `load_revocations()` -> {session id: expires unix}, run in the feed thread."""

    def __init__(self, *, redis_url: str, prefix: str, resync_seconds: float,
                 load_revocations: Callable[[], dict[str, float]]):
        self._url = redis_url
        self._prefix = prefix
        self.channel = prefix + CHANNEL
        self._resync_seconds = resync_seconds
        self._load_revocations = load_revocations
        self._revoked: dict[str, float] = {}
        self._generations: dict[str, str] = {}
        self._synced = False
        self._pid: int | None = None
        self._start_lock = threading.Lock()
        self._lock = threading.Lock()
        self._noted_while_loading: set[str] = set()
        self._stop = threading.Event()
        # Held while the feed thread reads the database: stop() takes it, so once stop() returns no
        # read is in flight (one finishing after the app disposed its engine would leak a connection).
        self._reading = threading.Lock()
        self.client_name = f"{prefix}change-feed".replace(" ", "_")  # how the subscription shows in CLIENT LIST

    # -- what requests ask ------------------------------------------------------------------------

    @property
    def synced(self) -> bool:
        self._ensure_running()
        return self._synced

    def is_revoked(self, session_id: str) -> bool:
        expires_at = self._revoked.get(session_id)
        return expires_at is not None and expires_at > time.time()

    def generation(self, name: str) -> str | None:
        return self._generations.get(name)

    # -- what changes call ------------------------------------------------------------------------

    def note_revoked(self, session_ids: list[str], expires_at: float) -> None:
        with self._lock:  # a full load may be merging at the same moment
            for sid in session_ids:
                self._revoked[sid] = max(expires_at, self._revoked.get(sid, 0.0))

    def note_generation(self, name: str, value: str) -> None:
        with self._lock:
            self._generations[name] = value
            self._noted_while_loading.add(name)  # newer than whatever a load in progress read

    @staticmethod
    def revoked_messages(session_ids: list[str], expires_at: float) -> list[str]:
        return [f"revoked {sid} {expires_at:.0f}" for sid in session_ids]

    @staticmethod
    def generation_message(name: str, value: str) -> str:
        return f"generation {name} {value}"

    # -- the feed thread --------------------------------------------------------------------------

    def _ensure_running(self) -> None:
        if self._pid == os.getpid():
            return
        with self._start_lock:
            if self._pid == os.getpid():
                return
            if self._pid is not None:  # a fork: nothing inherited is trusted
                self._revoked, self._generations = {}, {}
            self._pid, self._synced = os.getpid(), False
            self._stop.clear()
            threading.Thread(target=self._run, name="change-feed", daemon=True).start()

    def stop(self) -> None:
        self._stop.set()
        self._synced = False
        with self._reading:  # wait for a database read in flight; none starts after this
            pass

    def _run(self) -> None:
        while not self._stop.is_set():
            pubsub = None
            try:
                client = redis.Redis.from_url(self._url, socket_connect_timeout=1.0, socket_timeout=5.0,
                                              health_check_interval=2, decode_responses=True,
                                              client_name=self.client_name)
                pubsub = client.pubsub()
                pubsub.subscribe(self.channel)
                self._await_subscription(pubsub)
                while not self._stop.is_set():
                    self._load(client)
                    self._synced = True
                    self._listen(client, pubsub, until=time.monotonic() + self._resync_seconds)
            except Exception as error:  # Redis gone, database gone: per-request paths until we are back
                if self._synced and not self._stop.is_set():
                    log.warning("change feed lost (%s); checks go to Redis or the database until it is back", error)
                self._synced = False
                self._stop.wait(RETRY_SECONDS)
            finally:
                if pubsub is not None:
                    try:
                        pubsub.close()
                    except Exception:
                        pass

    def _await_subscription(self, pubsub) -> None:
        deadline = time.monotonic() + 5.0
        while time.monotonic() < deadline:
            message = pubsub.get_message(timeout=0.5)
            if message and message["type"] == "subscribe":
                return
        raise TimeoutError("no subscription confirmation from Redis")

    def _load(self, client: redis.Redis) -> None:
        with self._lock:
            self._noted_while_loading = set()
        now = time.time()
        with self._reading:
            if self._stop.is_set():
                return
            revoked = {sid: expires for sid, expires in self._load_revocations().items() if expires > now}
        for key in client.scan_iter(match=self._prefix + "revoked:*", count=1000):
            ttl_ms = client.pttl(key)
            if ttl_ms and ttl_ms > 0:
                sid = key[len(self._prefix + "revoked:"):]
                revoked[sid] = max(revoked.get(sid, 0.0), now + ttl_ms / 1000)
        client.set(self._prefix + LOADED_MARKER, "1")
        generations = {}
        for name, key in WATCHED.items():
            # A generation must exist for a cache to be tagged with it: the first reader creates it.
            client.set(self._prefix + key, uuid.uuid4().hex, nx=True)
            generations[name] = client.get(self._prefix + key)
        with self._lock:
            # Revocations only accumulate: keep what this copy already knew (notes made during the load).
            for sid, expires in self._revoked.items():
                if expires > now:
                    revoked[sid] = max(expires, revoked.get(sid, 0.0))
            self._revoked = revoked
            # Messages received since the subscription are applied after this, so they win over the
            # load; a value this worker noted itself while loading is newer than what the load read.
            for name, value in generations.items():
                if name not in self._noted_while_loading:
                    self._generations[name] = value

    def _listen(self, client: redis.Redis, pubsub, *, until: float) -> None:
        checked = time.monotonic()
        while not self._stop.is_set() and time.monotonic() < until:
            message = pubsub.get_message(timeout=1.0)
            if message and message["type"] == "message":
                self._apply(message["data"])
            if time.monotonic() - checked >= 1.0:
                checked = time.monotonic()
                if not client.exists(self._prefix + LOADED_MARKER):
                    raise RuntimeError("Redis lost its data")

    def _apply(self, data: str) -> None:
        kind, _, rest = data.partition(" ")
        if kind == "revoked":
            sid, _, expires = rest.rpartition(" ")
            self.note_revoked([sid], float(expires))
        elif kind == "generation":
            name, _, value = rest.partition(" ")
            self.note_generation(name, value)


def init_app(app, *, load_revocations: Callable[[], dict[str, float]]) -> None:
    app.extensions["change_feed"] = ChangeFeed(
        redis_url=app.config["REDIS_URL"], prefix=app.config["REDIS_PREFIX"],
        resync_seconds=app.config["SESSION_WARM_SECONDS"], load_revocations=load_revocations)


def current_feed() -> ChangeFeed:
    return current_app.extensions["change_feed"]


def announce_generation(name: str) -> bool:
    """After a committed change: a new random value of generation `name` (a counter could come back
    to a value a worker holds after a Redis flush), known to this worker at once and to the others
    through their feeds. False if Redis could not be written."""
    from .extensions import redis_store

    feed, value = current_feed(), uuid.uuid4().hex
    feed.note_generation(name, value)
    try:
        pipe = redis_store.client.pipeline(transaction=False)
        pipe.set(redis_store.key(WATCHED[name]), value)
        pipe.publish(feed.channel, feed.generation_message(name, value))
        pipe.execute()
    except redis.RedisError:
        log.warning("%s changed but Redis is unreachable: other workers notice at their next reload", name)
        return False
    return True
