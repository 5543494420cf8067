"""Redemption through the production server on PostgreSQL: gunicorn's gevent workers (gunicorn.conf.py),
where one worker serves many requests at once and must never let one request's wait stop the others."""
from __future__ import annotations

import threading
import time
import uuid
from concurrent.futures import ThreadPoolExecutor

import pytest
import redis
import requests

from backend.extensions import db
from tests.helpers import TEST_DB, Gunicorn, body, race, recorded

pytestmark = [pytest.mark.slow,
              pytest.mark.skipif(TEST_DB != "postgresql", reason="gevent workers serve PostgreSQL deployments")]


@pytest.fixture
def server(app, tmp_path):
    started = Gunicorn(app, tmp_path / "gunicorn.log", workers=1)  # one worker: every request shares it
    yield started
    started.stop()
    assert "Using worker: gevent" in started.log_path.read_text(errors="replace")


def test_twenty_devices_racing_on_one_pass_through_one_gevent_worker_record_it_once(shop, server):
    perk, holder = shop.perk(), shop.holder()
    token = shop.pass_for(holder)
    responses = race(server.base, shop.header(), [body(token, perk) for _ in range(20)])
    assert sorted(response.status_code for response in responses) == [201] + [409] * 19
    assert {response.json()["code"] for response in responses if response.status_code == 409} == {"pass_already_used"}
    assert recorded(perk, holder) == 1


def test_many_passes_at_once_through_one_gevent_worker_are_each_recorded_once_with_their_own_answer(shop, server):
    perk = shop.perk()
    holders = [shop.holder() for _ in range(40)]
    bodies = [body(shop.pass_for(holder), perk, amount_fen=1000 + n) for n, holder in enumerate(holders)]
    responses = race(server.base, shop.header(), bodies)
    assert [response.status_code for response in responses] == [201] * 40
    # Each answer is its own request's, though they travelled to the database together (group commit).
    assert [(r.json()["client_id"], r.json()["amount_fen"]) for r in responses] == \
        [(sent["client_id"], sent["amount_fen"]) for sent in bodies]
    assert len({response.json()["id"] for response in responses}) == 40
    assert recorded(perk) == 40
    retries = race(server.base, shop.header(), bodies[:10])  # the same client ids again: the first answers
    assert [(r.status_code, r.json()) for r in retries] == [(200, r.json()) for r in responses[:10]]
    assert recorded(perk) == 40


def test_a_request_waiting_on_the_database_does_not_hold_up_the_rest_of_its_worker(shop, app, server):
    """psycopg must wait cooperatively (gunicorn.conf.py's post_worker_init refuses a worker where it
    would not): with its wait in C, the whole worker would stop while one request waits on a lock."""
    perk, holder = shop.perk(), shop.holder()
    token = shop.pass_for(holder)
    with app.app_context(), db.engine.connect() as blocker:
        # The redemption's foreign-key check needs a key-share lock on the holder's row: hold it.
        blocker.execute(db.text("select id from credit_subjects where id = :id for update"), {"id": holder})
        with ThreadPoolExecutor(1) as pool:
            waiting = pool.submit(requests.post, f"{server.base}/api/redemptions", json=body(token, perk),
                                  headers=shop.header(), timeout=30)
            deadline = time.monotonic() + 10
            while not _waits_on_a_lock(app):  # the redemption's statement is in the database, blocked
                assert time.monotonic() < deadline, "the redemption never reached the lock"
                time.sleep(0.05)
            started = time.monotonic()
            for _ in range(5):
                assert requests.get(f"{server.base}/api/ping", timeout=5).status_code == 200
            assert time.monotonic() - started < 2
            assert not waiting.done()
            blocker.rollback()  # let it through
            answer = waiting.result(timeout=30)
    assert answer.status_code == 201, answer.text
    assert recorded(perk, holder) == 1


def _waits_on_a_lock(app) -> bool:
    with app.app_context():
        found = db.session.scalar(db.text(
            "select count(*) from pg_stat_activity where wait_event_type = 'Lock' and query like 'INSERT INTO redemptions%'"))
        db.session.rollback()
    return found > 0


def test_a_gevent_workers_change_feed_runs_so_redemptions_need_no_redis_round_trip(shop, app, server):
    """The feed (a greenlet under gevent) keeps revocations and cache generations in the worker's
    memory; were it not running, each request would ask Redis instead (correct, but a round trip)."""
    perk = shop.perk()
    with RunCommands(app) as commands:
        # The count is this run's: a command on this run's keys counts, another run's does not. (Only
        # the probe's: this run's earlier tests may still be finishing something in the background.)
        probe = f"probe-{uuid.uuid4().hex}"
        commands.count()
        commands.client.get(f"xymtest:another-run:{probe}")
        commands.client.get(f"{app.config['REDIS_PREFIX']}{probe}")
        assert commands.count(containing=probe) == 1

        def redemptions_sending(count: int) -> int:
            """Redeem fresh passes one after another; this run's Redis commands meanwhile."""
            bodies = [body(shop.pass_for(shop.holder()), perk) for _ in range(count)]  # a new holder is news: first
            commands.count()
            for sent in bodies:
                answer = requests.post(f"{server.base}/api/redemptions", json=sent, headers=shop.header(), timeout=30)
                assert answer.status_code == 201, answer.text
            return commands.count()

        deadline = time.monotonic() + 10  # the first requests start the feed and fill the caches
        while redemptions_sending(5) > 0 and time.monotonic() < deadline:
            pass
        # Without the feed every window sends ~4 commands per redemption; with it, none. A window may
        # meet the worker's feed reconnecting (its requests then ask Redis, as they should), so one
        # quiet window in three suffices.
        assert 0 in [redemptions_sending(15) for _ in range(3)]


class RunCommands:
    """Counts the commands Redis serves on this test run's keys (its REDIS_PREFIX), through MONITOR.

    The Redis server is shared: other test runs (their own prefixes) and benchmarks send commands all
    the while, so a server-wide figure (INFO commandstats) is not this test's. Nor are the change
    feeds' own commands (their periodic reload and the check of their marker key), which are no
    request's: connections named as a feed (CLIENT SETNAME, ChangeFeed.client_name) are left out.
    `count()` is exact up to its call: it sends a marker and waits until MONITOR has shown it."""

    MARK = "run-commands-mark:"

    def __init__(self, app):
        self.prefix, self.feed_name = app.config["REDIS_PREFIX"], app.extensions["change_feed"].client_name
        self.client = redis.Redis.from_url(app.config["REDIS_URL"], decode_responses=True)
        self._seen: list[tuple[str, str]] = []  # (client address, command) since the last count
        self._feeds: set[str] = set()  # addresses that named themselves a feed while watched
        self._marks: set[str] = set()
        self._changed = threading.Condition()
        self._watching = threading.Event()
        self._thread = threading.Thread(target=self._watch, name="redis-monitor", daemon=True)

    def __enter__(self):
        self._thread.start()
        assert self._watching.wait(10), "MONITOR did not start"
        # Feeds already connected, a previous test's among them: one stopping sends its last command
        # (the check of its marker key) and leaves CLIENT LIST before count() could look it up.
        with self._changed:
            self._feeds |= self._named_feeds()
        return self

    def _named_feeds(self) -> set[str]:
        return {entry["addr"] for entry in self.client.client_list() if entry.get("name") == self.feed_name}

    def __exit__(self, *exc):
        self.client.echo(self.MARK + "stop")
        self._thread.join(10)
        self.client.close()

    def _watch(self) -> None:
        with self.client.monitor() as monitor:
            self._watching.set()
            for command in monitor.listen():
                text, client = command["command"], f"{command['client_address']}:{command['client_port']}"
                with self._changed:
                    if text.startswith(f"ECHO {self.MARK}"):
                        self._marks.add(text.split(" ", 1)[1])
                        self._changed.notify_all()
                        if text.endswith(self.MARK + "stop"):
                            return
                    elif "SETNAME" in text.upper() and text.endswith(self.feed_name):  # CLIENT SETNAME or HELLO
                        self._feeds.add(client)
                    elif self.prefix in text and command["client_type"] == "tcp":  # a script's inner calls: its EVALSHA
                        self._seen.append((client, text))

    def count(self, containing: str = "") -> int:
        """The commands on this run's keys since the last count, but the feeds' (only those that
        contain `containing`, when given)."""
        mark = f"{self.MARK}{uuid.uuid4().hex}"
        self.client.echo(mark)
        with self._changed:
            assert self._changed.wait_for(lambda: mark in self._marks, timeout=10), "MONITOR fell behind"
            seen, self._seen = self._seen, []
            self._feeds |= self._named_feeds()  # kept: a feed that has gone since still sent as one
            feeds = set(self._feeds)
        return sum(1 for client, text in seen if client not in feeds and containing in text)


def test_with_redis_unreachable_a_gevent_worker_still_records_each_pass_once(shop, make_app, tmp_path):
    without_redis = make_app(REDIS_URL="redis://127.0.0.1:1/0")  # nothing listens on port 1
    server = Gunicorn(without_redis, tmp_path / "gunicorn.log", workers=1)
    try:
        assert requests.get(f"{server.base}/api/health", timeout=10).json()["redis"] == "down"
        perk, holder = shop.perk(), shop.holder()
        token = shop.pass_for(holder)
        responses = race(server.base, shop.header(), [body(token, perk) for _ in range(10)])
        assert sorted(response.status_code for response in responses) == [201] + [409] * 9
        first = next(response for response in responses if response.status_code == 201)
        sent = {**body(token, perk), "client_id": first.json()["client_id"]}
        retry = requests.post(f"{server.base}/api/redemptions", json=sent, headers=shop.header(), timeout=30)
        assert retry.status_code == 200 and retry.json() == first.json()
    finally:
        server.stop()
    assert "Using worker: gevent" in server.log_path.read_text(errors="replace")
    assert recorded(perk, holder) == 1


@pytest.mark.parametrize("pool", [(2, 0), (3, 1)])
def test_requests_arriving_together_at_a_worker_with_a_small_pool_are_all_answered(shop, app, tmp_path, pool):
    """A request may hold a session connection and an autocommit one at once: were both of one pool,
    requests arriving together could hold every connection, each waiting for its second, until the
    pool's timeout. They are two pools (backend/extensions.py): this passes even with the worker's
    bound on requests at once (backend/admission.py) lifted, WORKER_REQUESTS_AT_ONCE=1000."""
    size, overflow = pool
    server = Gunicorn(app, tmp_path / "gunicorn.log", workers=1,
                      env={"DATABASE_POOL_SIZE": str(size), "DATABASE_MAX_OVERFLOW": str(overflow)})
    try:
        perk = shop.perk()  # new to the worker: its facts are read on an autocommit connection
        bodies, header = [body(shop.pass_for(shop.holder()), perk) for _ in range(12)], shop.header()
        with ThreadPoolExecutor(len(bodies)) as pool_:
            answers = list(pool_.map(lambda sent: requests.post(
                f"{server.base}/api/redemptions", json=sent, headers=header, timeout=20), bodies))
    finally:
        server.stop()
    assert [answer.status_code for answer in answers] == [201] * 12
    assert recorded(perk) == 12
