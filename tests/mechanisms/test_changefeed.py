"""The change feed: every worker learns of revocations and generation changes without asking Redis per request."""
from __future__ import annotations

import time

import click
import redis

from backend.auth.service import Principal, issue_access_token
from backend.auth.sessions import RevokedSessions
from backend.changefeed import ChangeFeed, current_feed
from backend.extensions import db
from backend.watched_cache import Generations
from tests.helpers import Gunicorn, wait_until

def feed_of(app):
    with app.app_context():
        return current_feed()


def revoked_in(app, session_id: str) -> bool:
    """What the app's own copy of the revocations says (no Redis, no database)."""
    return feed_of(app).consumers[RevokedSessions.kind].is_revoked(session_id)


def subscribers(redis_url: str, name: str) -> int:
    """How many connections named `name` are subscribed to a channel."""
    return sum(1 for client in redis.Redis.from_url(redis_url).client_list()
               if client.get("name") == name and client.get("sub") == "1")


def synced(app) -> None:
    feed = feed_of(app)
    wait_until(lambda: feed.synced)


def header(app, session_id: str) -> dict:
    token = issue_access_token(secret=app.config["SECRET_KEY"], minutes=10,
                               principal=Principal(kind="office", id=1, role="office_admin", session_id=session_id))
    return {"Authorization": f"Bearer {token}"}


def revoke(app, session_id: str) -> None:
    from backend.auth import sessions
    with app.app_context():
        sessions.revoke_sessions([session_id], reason="test")
        db.session.commit()


def count_loads(app) -> list[str]:
    """Every full load the app's feed makes from now on, by consumer kind (a reload, not a message)."""
    loads: list[str] = []
    for consumer in feed_of(app).consumers.values():
        def counted(client, prefix, _load=consumer.load, _kind=consumer.kind):
            loads.append(_kind)
            return _load(client, prefix)
        consumer.load = counted
    return loads


def test_a_revocation_in_one_worker_reaches_another_by_its_message(app, make_app):
    # By its message, not by a reload: the feed reloads every SESSION_WARM_SECONDS (120 s) or after a
    # lost connection. No wall-clock bound: the database commit inside revoke() may wait on a busy
    # machine, and that is not the feed's doing (a CI run once took 1.5 s there).
    other = make_app()  # another app object: another worker with its own feed
    synced(app), synced(other)
    loads = count_loads(other)
    sid = f"feed-{time.monotonic_ns()}"
    assert other.test_client().get("/api/auth/me", headers=header(other, sid)).status_code != 401
    revoke(app, sid)
    assert app.test_client().get("/api/auth/me", headers=header(app, sid)).status_code == 401  # its own: at once
    wait_until(lambda: revoked_in(other, sid), what="the other worker")
    assert loads == [], "the other worker learnt it by reloading, not from the message"
    assert other.test_client().get("/api/auth/me", headers=header(other, sid)).status_code == 401


def test_a_synced_worker_issues_passes_without_asking_redis(app, client, auth_header, redis_calls):
    citizen = auth_header("citizen")
    synced(app)
    assert client.post("/api/pass", headers=citizen, json={}).status_code == 201  # caches the standing
    redis_calls.clear()
    for _ in range(5):
        assert client.post("/api/pass", headers=citizen, json={}).status_code == 201
    assert redis_calls == []


def test_a_lost_subscription_falls_back_and_catches_up(app, make_app, redis_url):
    other = make_app()
    synced(other)
    feed = feed_of(other)
    # Cut the other worker's subscription, as a Redis restart would, and revoke while it is down.
    admin = redis.Redis.from_url(redis_url)
    for client in admin.client_list():
        if client.get("name") == feed.client_name:
            admin.client_kill_filter(_id=client["id"])
    sid = f"feed-{time.monotonic_ns()}"
    wait_until(lambda: not feed.synced, what="the feed noticing its lost connection")
    revoke(app, sid)  # published while the other feed is not listening: it must not be lost
    # Unsynced, the other worker asks Redis per request; resynced, it knows from its load.
    assert other.test_client().get("/api/auth/me", headers=header(other, sid)).status_code == 401
    wait_until(lambda: feed.synced and revoked_in(other, sid), what="the resubscribed feed")
    assert other.test_client().get("/api/auth/me", headers=header(other, sid)).status_code == 401


def test_redis_losing_its_data_makes_the_feed_reload(app, redis_url):
    synced(app)
    feed = feed_of(app)
    r = redis.Redis.from_url(redis_url)
    for key in r.scan_iter(match=app.config["REDIS_PREFIX"] + "changes:*"):
        r.delete(key)
    wait_until(lambda: not feed.synced, what="the feed noticing")
    wait_until(lambda: feed.synced, what="the feed reloading")


def test_what_a_worker_noted_before_its_feed_started_survives_the_first_load(app, redis_url, redis_prefix):
    revocations = RevokedSessions(app)
    feed = ChangeFeed(redis_url=redis_url, prefix=f"{redis_prefix}early-{time.monotonic_ns()}:", resync_seconds=60,
                      consumers=[revocations])
    try:
        revocations.receive(f"noted-early {time.time() + 60:.0f}")
        feed.start()
        wait_until(lambda: feed.synced)
        assert revocations.is_revoked("noted-early") and not revocations.is_revoked("never-revoked")
    finally:
        feed.stop()


class _LoadRacedByAnAnnouncement:
    """A Redis client whose pipeline, while the load waits for it, lets this worker announce a newer value."""

    def __init__(self, redis_url: str, generations: Generations, name: str):
        self.redis_url, self.generations, self.name = redis_url, generations, name

    def pipeline(self, transaction: bool):
        real = redis.Redis.from_url(self.redis_url, decode_responses=True).pipeline(transaction)
        execute = real.execute

        def execute_then_announce():
            read = execute()
            self.generations.receive(f"{self.name} newer")
            return read
        real.execute = execute_then_announce
        return real


def test_a_generation_announced_during_a_load_is_not_overwritten_by_what_the_load_read(app, redis_url,
                                                                                      redis_prefix):
    generations = Generations()
    generations.load(_LoadRacedByAnAnnouncement(redis_url, generations, "standing"), f"{redis_prefix}race:")
    assert generations.values["standing"] == "newer"


def test_the_feed_starts_with_the_app_not_when_first_asked(make_app, redis_url, redis_prefix):
    prefix = f"{redis_prefix}started-{time.monotonic_ns()}:"
    make_app(REDIS_PREFIX=prefix)  # nobody asks its feed anything
    wait_until(lambda: subscribers(redis_url, f"{prefix}change-feed") == 1, what="the new app's subscription")


def test_workers_forked_from_a_preloaded_app_start_their_own_feed(app, redis_url, redis_prefix, tmp_path):
    prefix = f"{redis_prefix}preload-{time.monotonic_ns()}:"
    server = Gunicorn(app, tmp_path / "gunicorn.log", workers=2, env={
        "REDIS_PREFIX": prefix, "GUNICORN_CMD_ARGS": "--preload", "GUNICORN_WORKER_CLASS": "gthread"})
    try:  # the master's feed, and one in each worker (gunicorn.conf.py: post_fork)
        wait_until(lambda: subscribers(redis_url, f"{prefix}change-feed") == 3, seconds=10,
                   what="a feed in the master and in each worker")
    finally:
        server.stop()


def test_a_flask_command_builds_its_app_without_starting_the_feed(app, make_app, redis_url, redis_prefix):
    """`flask db upgrade` on an empty database: a feed would read tables the migrations have not made yet."""
    prefix = f"{redis_prefix}command-{time.monotonic_ns()}:"
    with click.Context(click.Command("upgrade")):  # how Flask's CLI builds the app: inside its command
        command_app = make_app(REDIS_PREFIX=prefix)
    server_app = make_app(REDIS_PREFIX=f"{prefix}server:")  # a worker builds it outside any command
    synced(server_app)
    assert subscribers(redis_url, f"{prefix}server:change-feed") == 1
    assert subscribers(redis_url, f"{prefix}change-feed") == 0
    assert not feed_of(command_app).synced
