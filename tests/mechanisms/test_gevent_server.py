"""Redemption through the production server on PostgreSQL: gunicorn's gevent workers (gunicorn.conf.py),
where one worker serves many requests at once and must never let one request's wait stop the others."""
from __future__ import annotations

import time
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
    client = redis.Redis.from_url(app.config["REDIS_URL"])

    def redemptions_sending(count: int) -> int:
        """Redeem fresh passes one after another; the Redis commands meanwhile."""
        bodies = [body(shop.pass_for(shop.holder()), perk) for _ in range(count)]  # a new holder is news: first
        before = _redis_commands(client)
        for sent in bodies:
            answer = requests.post(f"{server.base}/api/redemptions", json=sent, headers=shop.header(), timeout=30)
            assert answer.status_code == 201, answer.text
        return _redis_commands(client) - before

    deadline = time.monotonic() + 10  # the first requests start the feed and fill the caches
    while redemptions_sending(5) > 0 and time.monotonic() < deadline:
        pass
    # Without the feed every window sends ~4 commands per redemption; with it, a window may still
    # meet another process's periodic reload (every 120 s), so one quiet window in three suffices.
    assert 0 in [redemptions_sending(15) for _ in range(3)]


def _redis_commands(client) -> int:
    """Commands Redis has served, but for the health checks that every process's feed sends every
    few seconds (PING) and this count itself (INFO): other servers' and the test's own."""
    return sum(stats["calls"] for name, stats in client.info("commandstats").items()
               if name not in ("cmdstat_ping", "cmdstat_info"))


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
