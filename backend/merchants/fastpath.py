"""The Redis fast path in front of redemption: refuse obvious replays cheaply; the database decides.

For each (perk, pass) the first request writes `p:<client_id>` (pending) with SET NX; after its
transaction commits it overwrites the value with `d:<client_id>` (done); if it is refused or fails it
deletes its own pending mark (compare-and-delete), so a failed attempt never blocks a later one.

Only a `d:` mark of *another* client id refuses a request without the database work, and it is
written only after the database has committed that redemption, so the fast path can never refuse
something the database would have accepted. A pending mark of another client (a request in
flight, or one that crashed before cleaning up) refuses nothing: the request goes on to the
database, whose unique constraints are the final word. A retry with the same client id is never
refused here either: the database returns the first answer.

Redis is optional. Every call survives `redis.RedisError`; after an error the guard stops asking
Redis for a few seconds, so a dead Redis costs one fast connection refusal, not one per request.
"""
from __future__ import annotations

import time

import redis

PENDING, DONE = "p:", "d:"
# Longer than any pass can live (at most 600 s, plus skew): after that only the database remembers,
# which it always does.
TTL_SECONDS = 900
BACKOFF_SECONDS = 5.0

# Delete the key only if it still holds our own pending mark.
_RELEASE = "if redis.call('get', KEYS[1]) == ARGV[1] then return redis.call('del', KEYS[1]) end return 0"


class ReplayGuard:
    """Fast-path marks in Redis under `prefix`; `client=None` turns the fast path off."""

    def __init__(self, client: redis.Redis | None, prefix: str = ""):
        self.client = client
        self.prefix = prefix
        self._down_until = 0.0

    def _key(self, perk_id: int, pass_id: str) -> str:
        return f"{self.prefix}redeem:{perk_id}:{pass_id}"

    def _available(self) -> bool:
        return self.client is not None and time.monotonic() >= self._down_until

    def _failed(self) -> None:
        self._down_until = time.monotonic() + BACKOFF_SECONDS

    def claim(self, *, perk_id: int, pass_id: str, client_id: str) -> str | None:
        """Mark this pass pending at this perk; return the client id that already *recorded* it, if any."""
        if not self._available():
            return None
        key = self._key(perk_id, pass_id)
        try:
            if self.client.set(key, PENDING + client_id, nx=True, ex=TTL_SECONDS):
                return None
            value = self.client.get(key)
        except redis.RedisError:
            self._failed()
            return None
        if value and value.startswith(DONE) and value[len(DONE):] != client_id:
            return value[len(DONE):]
        return None

    def done(self, *, perk_id: int, pass_id: str, client_id: str) -> None:
        """Called after the commit: from now on replays of this pass here are refused without the database."""
        if not self._available():
            return
        try:
            self.client.set(self._key(perk_id, pass_id), DONE + client_id, ex=TTL_SECONDS)
        except redis.RedisError:
            self._failed()

    def release(self, *, perk_id: int, pass_id: str | None, client_id: str) -> None:
        """Drop our pending mark after a refusal or failure, so that it blocks nobody."""
        if pass_id is None or not self._available():
            return
        try:
            self.client.eval(_RELEASE, 1, self._key(perk_id, pass_id), PENDING + client_id)
        except redis.RedisError:
            self._failed()


NO_GUARD = ReplayGuard(None)
