"""Statistics, exports and the case feed read a real streaming replica while it is fresh enough; a
replica that lags or is down sends them back to the primary, and /api/health says so.

One primary + replica pair for the module (tests/scale/conftest.py); the tests run in order, the
last one stops the replica.
"""
from __future__ import annotations

import time
import uuid
from datetime import datetime, timezone

import pytest
from sqlalchemy import text

from backend import replica
from backend.timeutil import SHANGHAI
from backend.extensions import db
from backend.office import cases

from tests.helpers import statements_sent

# One primary and replica pair for the module: its tests stay on one xdist worker (scripts/test uses loadgroup).
pytestmark = [pytest.mark.replica, pytest.mark.xdist_group("replica")]
EVERYTHING = "c1.9223372036854775807.9223372036854775807.9223372036854775807"


def token(app, role: str) -> dict:
    result = app.test_cli_runner().invoke(args=["demo", "token", role])
    assert result.exit_code == 0, result.output
    return {"Authorization": f"Bearer {result.stdout.strip()}"}


def redeem(app, amount_fen: int) -> None:
    client = app.test_client()
    issued = client.post("/api/pass", headers=token(app, "citizen"), json={}).json
    perk = next(p for p in client.get("/api/partners").json["partners"] if p["name"] == "辣盆盆小龙虾饭店")["perks"][0]
    response = client.post("/api/redemptions", headers=token(app, "cashier"), json={
        "token": issued["token"], "perk_id": perk["id"], "client_id": str(uuid.uuid4()),
        "scanned_at": datetime.now(timezone.utc).isoformat(), "amount_fen": amount_fen})
    assert response.status_code == 201, response.json


def on_primary(app) -> list[dict]:
    """The statistics by partner as a direct count on the primary."""
    with app.app_context():
        rows = db.session.execute(text(
            "select p.name, count(*), sum(r.amount_fen), sum(r.discount_fen), "
            "sum(case when r.offline then 1 else 0 end) from redemptions r "
            "join partners p on p.id = r.partner_id where r.status = 'recorded' group by p.name order by p.name"))
        return [{"key": k, "label": k, "redemptions": n, "amount_fen": a, "discount_fen": d, "offline": o,
                 "beneficiaries": None} for k, n, a, d, o in rows]


def ask_again(app) -> None:
    """Forget the replica's standing, as a second passing does (the watch is made on first use)."""
    with app.app_context():
        replica._watch().forget()


def office_reads(app):
    """(/api/health, the statistics by partner, the case feed from the start) as the office sees them."""
    client, headers = app.test_client(), token(app, "office-analyst")
    health = client.get("/api/health")
    assert health.status_code == 200
    stats = client.get("/api/office/stats?group_by=partner", headers=headers)
    feed = client.get("/api/office/cases?limit=100", headers=headers)
    assert stats.status_code == 200 and feed.status_code == 200
    return health.json, stats.json["rows"], feed.json


def primary_feed(app) -> dict:
    with app.app_context():  # `until` reads the primary
        return cases.page(after=None, until=EVERYTHING, limit=100, settle_seconds=0, issuer_code=230184)


def test_the_office_reads_the_replica_and_gets_the_primarys_answers(replica_app, replica_pair):
    redeem(replica_app, 12345)
    redeem(replica_app, 2000)
    replica_pair.wait_until_replayed()
    with replica_app.app_context():
        with statements_sent(db.engines["replica"]) as on_replica, statements_sent(db.engine) as on_the_primary:
            health, stats, feed = office_reads(replica_app)
            csv = replica_app.test_client().get("/api/office/stats.csv?group_by=partner",
                                                headers=token(replica_app, "office-analyst"))
    assert health == {"status": "ok", "database": "ok", "redis": "ok", "replica": "ok"}
    assert stats == on_primary(replica_app) and stats[0]["redemptions"] == 2
    assert [case["kind"] for case in feed["cases"]] == ["redemption", "redemption"]
    assert feed == primary_feed(replica_app)
    assert "辣盆盆小龙虾饭店,2,143.45" in csv.get_data(as_text=True)
    read_there = " ".join(on_replica)
    assert "stats_rollup" in read_there and "failed_attempts" in read_there  # statistics, export, case feed
    assert not any("stats_rollup" in s or "failed_attempts" in s for s in on_the_primary)
    # The long exports, sent while they are read, read there too.
    today = datetime.now(timezone.utc).astimezone(SHANGHAI).date().isoformat()
    with replica_app.app_context():
        with statements_sent(db.engines["replica"]) as on_replica, statements_sent(db.engine) as on_the_primary:
            admin = replica_app.test_client()
            # (A streamed answer is read before the next request: its generator holds the request's context.)
            exported = admin.get("/api/office/cases/export", headers=token(replica_app, "office-admin"),
                                 query_string={"from": today, "to": today, "format": "jsonl"})
            lines = exported.get_data(as_text=True).splitlines()
            logged = admin.get("/api/office/audit.csv", headers=token(replica_app, "office-auditor"))
            entries = logged.get_data(as_text=True)
    assert exported.status_code == 200 and len(lines) >= 2 and logged.status_code == 200 and entries
    read_there = " ".join(on_replica)
    assert "failed_attempts" in read_there and "audit_log" in read_there
    assert not any("failed_attempts" in s or "audit_log" in s for s in on_the_primary)


def test_a_replica_past_its_lag_sends_reads_to_the_primary_and_delays_cases_without_skipping(
        replica_app, replica_pair):
    redeem(replica_app, 400)  # a partner with redemptions to compare, whichever test ran before
    replica_pair.wait_until_replayed()
    ask_again(replica_app)
    before_health, before_stats, before_feed = office_reads(replica_app)
    replica_pair.replica.sql("select pg_wal_replay_pause()")
    try:
        redeem(replica_app, 500)
        # Within its lag: still the replica, which has not seen the new redemption.
        replica_app.config["DATABASE_REPLICA_MAX_LAG_SECONDS"] = 3600.0
        ask_again(replica_app)
        health, stats, feed = office_reads(replica_app)
        assert health["replica"] == "ok" and stats == before_stats
        assert feed == before_feed  # the feed does not serve past what the replica holds
        # Past it: the primary answers, exactly, and health says why.
        replica_app.config["DATABASE_REPLICA_MAX_LAG_SECONDS"] = 0.5
        time.sleep(1.0)
        ask_again(replica_app)
        health, stats, feed = office_reads(replica_app)
        assert health == {"status": "ok", "database": "ok", "redis": "ok", "replica": "lagging"}
        assert stats == on_primary(replica_app) and stats[0]["redemptions"] == before_stats[0]["redemptions"] + 1
        assert len(feed["cases"]) == len(before_feed["cases"]) + 1
    finally:
        replica_pair.replica.sql("select pg_wal_replay_resume()")
        replica_app.config["DATABASE_REPLICA_MAX_LAG_SECONDS"] = 10.0
    replica_pair.wait_until_replayed()
    ask_again(replica_app)
    health, stats, feed = office_reads(replica_app)
    assert health["replica"] == "ok" and stats == on_primary(replica_app) and feed == primary_feed(replica_app)


def test_a_replica_that_is_down_sends_reads_to_the_primary(replica_app, replica_pair, monkeypatch):
    monkeypatch.setattr(replica, "ASK_EVERY_SECONDS", 3600.0)
    ask_again(replica_app)
    assert office_reads(replica_app)[0]["replica"] == "ok"  # asked now, and believed for an hour
    redeem(replica_app, 700)
    replica_pair.replica.stop()
    # The statistics find it gone while it is still believed fresh: they are read again on the primary.
    health, stats, feed = office_reads(replica_app)
    assert stats == on_primary(replica_app) and feed == primary_feed(replica_app)
    health, stats, feed = office_reads(replica_app)
    assert health == {"status": "ok", "database": "ok", "redis": "ok", "replica": "down"}
    assert stats == on_primary(replica_app)
    assert feed == primary_feed(replica_app)
