"""Restarts lose nothing and double nothing: the server dies after it recorded a redemption but
before the device heard back, Redis restarts empty, and the device's retry meets a new server."""
from __future__ import annotations

import uuid

import pytest
import redis
import requests
from sqlalchemy import func, select

from backend.extensions import db
from backend.merchants.models import Redemption
from tests.helpers import Gunicorn, utc

pytestmark = pytest.mark.slow  # starts gunicorn twice


def forget_everything_in_redis(app) -> None:
    """What a Redis restart does to this app: every key under its prefix is gone."""
    client = redis.Redis.from_url(app.config["REDIS_URL"])
    for key in client.scan_iter(match=app.config["REDIS_PREFIX"] + "*", count=1000):
        client.delete(key)


def test_a_crash_and_a_redis_restart_between_redemption_and_retry(shop, app, tmp_path):
    perk = shop.perk()
    holder = shop.holder()
    sent = {"token": shop.pass_for(holder), "perk_id": perk, "client_id": str(uuid.uuid4()),
            "scanned_at": utc().isoformat(), "amount_fen": 6600}

    first_server = Gunicorn(app, tmp_path / "first.log")
    first = requests.post(f"{first_server.base}/api/redemptions", json=sent, headers=shop.header(), timeout=30)
    assert first.status_code == 201, first.text
    first_server.kill()  # the answer never reached the phone: it will retry
    forget_everything_in_redis(app)

    second_server = Gunicorn(app, tmp_path / "second.log")
    try:
        assert requests.get(f"{second_server.base}/api/health", timeout=10).json()["redis"] == "ok"
        retry = requests.post(f"{second_server.base}/api/redemptions", json=sent, headers=shop.header(), timeout=30)
        assert retry.status_code == 200 and retry.json() == first.json()
        replay = requests.post(f"{second_server.base}/api/redemptions", headers=shop.header(), timeout=30,
                               json={**sent, "client_id": str(uuid.uuid4())})
        assert replay.status_code == 409 and replay.json()["code"] == "pass_already_used"
        # A fresh pass still works after the restart: the key ring and sessions came back from the database.
        fresh = requests.post(f"{second_server.base}/api/redemptions", headers=shop.header(), timeout=30,
                              json={**sent, "token": shop.pass_for(holder), "client_id": str(uuid.uuid4()),
                                    "scanned_at": utc().isoformat()})  # a new scan: now, not before two start-ups
        assert fresh.status_code == 201, fresh.text
    finally:
        second_server.stop()
    db.session.rollback()
    assert db.session.scalar(select(func.count()).select_from(Redemption).where(Redemption.perk_id == perk)) == 2
