"""Exactly once under a race: real HTTP into a threaded server, every request on its own TCP
connection and its own database connection. PostgreSQL is where this matters (and where the tests
run); SQLite serialises all writers anyway."""
from __future__ import annotations

import threading
import time
import uuid

import psycopg
import pytest
import requests
from sqlalchemy import select
from werkzeug.serving import make_server

from backend.extensions import db
from backend.merchants import service
from backend.merchants.models import Redemption
from backend.timeutil import local_day
from tests.helpers import TEST_DB, body, race, recorded

from .conftest import utc

pytestmark = pytest.mark.skipif(TEST_DB != "postgresql", reason="races between database connections: PostgreSQL")
RACERS = 20


@pytest.fixture
def serve(make_app):
    """serve(**config) -> base URL of a threaded werkzeug server running a fresh app on the test database."""
    servers = []

    def _serve(**overrides):
        app = make_app(SQLALCHEMY_ENGINE_OPTIONS={"pool_size": RACERS + 5, "max_overflow": 5}, **overrides)
        server = make_server("127.0.0.1", 0, app, threaded=True)
        thread = threading.Thread(target=server.serve_forever, daemon=True)
        thread.start()
        servers.append((server, thread))
        return Served(f"http://127.0.0.1:{server.server_port}", app)

    yield _serve
    for server, thread in servers:
        server.shutdown()
        thread.join(5)
        server.server_close()


class Served(str):
    """The server's base URL, which also knows its app (to look into the worker's memory)."""

    def __new__(cls, url: str, app):
        served = super().__new__(cls, url)
        served.app = app
        return served


def warm(url: Served, shop, perk: int) -> None:
    """Redeem for another holder until the serving worker has the perk's rules in memory, so that the race
    runs on the common path (one insert that checks the holder), not the cold read-everything path."""
    deadline = time.monotonic() + 5
    while True:
        sent = body(shop.pass_for(shop.holder()), perk)
        assert requests.post(f"{url}/api/redemptions", json=sent, headers=shop.header(), timeout=30).status_code == 201
        with url.app.app_context():
            if service.PERK_FACTS.get((perk, local_day(utc()))) is not None:
                return
        assert time.monotonic() < deadline, "the served app never cached the perk"
        time.sleep(0.05)


@pytest.mark.parametrize("redis_up, warmed", [(True, False), (True, True), (False, False)],
                         ids=["redis", "redis-perk-in-memory", "redis-down"])
def test_twenty_devices_racing_on_one_pass_record_one_redemption(shop, serve, redis_up, warmed):
    url = serve() if redis_up else serve(REDIS_URL="redis://127.0.0.1:1/0")
    perk = shop.perk()
    if warmed:
        warm(url, shop, perk)
    holder = shop.holder()
    token = shop.pass_for(holder)
    responses = race(url, shop.header(), [body(token, perk) for _ in range(RACERS)])
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (RACERS - 1), [r.text for r in responses]
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"pass_already_used"}
    assert recorded(perk, holder) == 1


def test_twenty_retries_of_one_client_id_record_one_redemption_and_agree(shop, serve):
    url = serve()
    perk = shop.perk()
    sent = body(shop.pass_for(shop.holder()), perk)
    responses = race(url, shop.header(), [sent] * RACERS)
    assert sorted(r.status_code for r in responses) == [200] * (RACERS - 1) + [201]
    assert len({r.json()["id"] for r in responses}) == 1
    assert recorded(perk) == 1


@pytest.mark.parametrize("warmed", [False, True], ids=["cold", "perk-in-memory"])
def test_a_daily_limit_holds_when_one_holder_races_with_many_passes(shop, serve, warmed):
    url = serve()
    perk = shop.perk(kind="free_entry", title="免费入园", limit_per_holder_per_day=2)
    if warmed:
        warm(url, shop, perk)
    holder = shop.holder()
    responses = race(url, shop.header(), [body(shop.pass_for(holder), perk) for _ in range(RACERS)])
    assert sorted(r.status_code for r in responses) == [201, 201] + [409] * (RACERS - 2)
    assert {r.json()["code"] for r in responses if r.status_code == 409} == {"limit_reached"}
    assert recorded(perk, holder) == 2
    slots = db.session.scalars(select(Redemption.day_slot).where(Redemption.perk_id == perk,
                                                                 Redemption.subject_id == holder))
    assert sorted(slots) == [1, 2]


def test_a_retry_after_a_timeout_never_doubles(shop, serve, app):
    url = serve()
    perk = shop.perk()
    holder = shop.holder()
    sent = body(shop.pass_for(holder), perk)
    admin_url = app.config["SQLALCHEMY_DATABASE_URI"].replace("postgresql+psycopg://", "postgresql://")
    # Another transaction holds the holder's row, so the first request is still waiting when the
    # device gives up on it.
    with psycopg.connect(admin_url) as blocker:
        blocker.execute("select id from credit_subjects where id = %s for update", (holder,))
        with pytest.raises(requests.Timeout):
            requests.post(f"{url}/api/redemptions", json=sent, headers=shop.header(), timeout=0.5)
        blocker.rollback()
    retry = requests.post(f"{url}/api/redemptions", json=sent, headers=shop.header(), timeout=30)
    assert retry.status_code == 200, retry.text  # the first request committed: its answer comes back
    assert retry.json()["client_id"] == sent["client_id"]
    assert recorded(perk) == 1


def test_many_holders_at_once_each_get_their_own_answer(shop, serve):
    """One worker's simultaneous redemptions, some of them refused by the insert (black-listed since
    their pass) and some replays of another's pass: every one gets exactly its own answer."""
    url = serve()
    perk = shop.perk()
    warm(url, shop, perk)
    fine = [shop.holder() for _ in range(12)]
    fallen = [shop.holder() for _ in range(3)]
    fine_bodies = [body(shop.pass_for(holder), perk) for holder in fine]
    fallen_bodies = [body(shop.pass_for(holder), perk) for holder in fallen]
    db.session.execute(db.text("update credit_subjects set black_listed = true, tier_level = 0 where id = any(:ids)"),
                       {"ids": fallen})  # black-listed after their passes were issued
    db.session.commit()
    replays = [dict(fine_bodies[n], client_id=str(uuid.uuid4())) for n in range(5)]  # a second device, same pass
    bodies = fine_bodies + fallen_bodies + replays
    responses = race(url, shop.header(), bodies)
    by_client = {sent["client_id"]: response for sent, response in zip(bodies, responses)}
    for pair, replay in zip(fine_bodies[:5], replays):  # of each pair, one recorded and one refused
        codes = sorted([by_client[pair["client_id"]].status_code, by_client[replay["client_id"]].status_code])
        assert codes == [201, 409]
        refused = next(r for r in (by_client[pair["client_id"]], by_client[replay["client_id"]]) if r.status_code == 409)
        assert refused.json()["code"] == "pass_already_used"
    assert all(by_client[sent["client_id"]].status_code == 201 for sent in fine_bodies[5:])
    assert all(by_client[sent["client_id"]].json()["code"] == "holder_blacklisted" for sent in fallen_bodies)
    created = [r.json() for r in responses if r.status_code == 201]
    assert len(created) == 12 and len({r["id"] for r in created}) == 12
    for sent in bodies:  # each answer is its own scan's
        if by_client[sent["client_id"]].status_code == 201:
            assert by_client[sent["client_id"]].json()["client_id"] == sent["client_id"]
    assert sum(recorded(perk, holder) for holder in fine) == 12 and sum(recorded(perk, h) for h in fallen) == 0
