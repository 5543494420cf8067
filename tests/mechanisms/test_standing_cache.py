"""Issuing serves the holder's standing (and the tier names) from the worker's cache: no database read on a
hit, never stale after a change (the change feed carries the generations)."""
from __future__ import annotations

import random
import time

import pytest
from sqlalchemy import select, update

from backend.auth.models import CitizenAccount, CompanyRepresentative
from backend.credit.identifiers import identity_hash
from backend.credit.models import CreditSubject, Tier
from backend.dbtypes import utcnow
from backend.demo import synthetic_id_number
from backend.changefeed import current_feed
from backend.extensions import db, redis_store
from tests.helpers import statements_sent

from backend.auth import holders

GOOD = {"score": 1100, "tier_level": 2}


def sql_statements(app):
    """The SQL statements the app sends from this thread while the block runs (not the change feed's)."""
    with app.app_context():
        engine = db.engine
    return statements_sent(engine, this_thread_only=True)


def issue(client, header, holder=None):
    return client.post("/api/pass", headers=header, json={"holder": holder} if holder else {})


def wait_for_feed(app) -> None:
    with app.app_context():
        feed = current_feed()
        deadline = time.monotonic() + 5
        while not feed.synced:
            assert time.monotonic() < deadline, "the change feed did not sync"
            time.sleep(0.01)


def warm(client, header, holder=None):
    """Issue once the worker's change feed is synced, so that the standing is now cached."""
    wait_for_feed(client.application)
    assert issue(client, header, holder).status_code == 201


def generation(app) -> str | None:
    with app.app_context():
        return redis_store.client.get(redis_store.key(holders.STANDINGS.generation_key))


def test_a_cached_standing_costs_no_database_read(app, client, citizen):
    header = citizen(subject=GOOD)
    warm(client, header)
    with sql_statements(app) as seen:
        for _ in range(3):
            assert issue(client, header).status_code == 201
    assert seen == []


@pytest.mark.parametrize("how", ["orm", "bulk update"])
def test_black_listing_refuses_the_next_pass_at_once(app, client, citizen, how):
    header = citizen(subject=GOOD)
    warm(client, header)
    with app.app_context():
        subject_id = db.session.get(CitizenAccount, header.account_id).subject_id
        if how == "orm":
            db.session.get(CreditSubject, subject_id).black_listed = True
        else:
            db.session.execute(update(CreditSubject).where(CreditSubject.id == subject_id).values(black_listed=True))
        db.session.commit()
    refused = issue(client, header)
    assert refused.status_code == 403 and refused.json["code"] == "holder_blacklisted"


def test_a_credit_import_reaches_cached_standings(app, client, citizen, runner, tmp_path):
    id_number = synthetic_id_number(random.Random(20261127))
    with app.app_context():
        hashed = identity_hash(pepper=app.config["IDENTITY_PEPPER"], identifier=id_number)
    header = citizen(subject={**GOOD, "identity_hash": hashed})
    warm(client, header)
    export = tmp_path / "export.csv"  # PostgreSQL loads it with COPY, which the ORM never sees
    export.write_text("kind,identifier,score,rating,tax_grade,red_list,black_list,updated_at\n"
                      f"person,{id_number},1100,,,0,1,2026-11-27\n", encoding="utf-8")
    result = runner.invoke(args=["credit", "import", str(export)])
    assert result.exit_code == 0, result.output
    refused = issue(client, header)
    assert refused.status_code == 403 and refused.json["code"] == "holder_blacklisted"


def test_a_revoked_representative_gets_no_company_pass_at_once(app, client, citizen):
    header = citizen(subject=GOOD, company={"rating": "AA", "tier_level": 2})
    warm(client, header, "company")
    with app.app_context():
        rep = db.session.scalar(select(CompanyRepresentative).where(
            CompanyRepresentative.account_id == header.account_id))
        rep.revoked_at = utcnow()
        db.session.commit()
    refused = issue(client, header, "company")
    assert refused.status_code == 403 and refused.json["code"] == "holder_not_bound"
    assert issue(client, header).json["holder_kind"] == "person"


def test_changes_that_cannot_alter_a_standing_keep_the_cache(app, client, citizen):
    header = citizen(subject=GOOD)
    warm(client, header)
    before = generation(app)
    with app.app_context():
        db.session.get(CitizenAccount, header.account_id).wechat_openid = f"o-unrelated-{header.account_id}"
        db.session.get(CreditSubject, db.session.get(CitizenAccount, header.account_id).subject_id).score = 1101
        db.session.commit()
    assert generation(app) == before
    with sql_statements(app) as seen:
        assert issue(client, header).status_code == 201
    assert seen == []


def test_a_change_rolled_back_announces_nothing(app, citizen):
    header = citizen(subject=GOOD)
    before = generation(app)
    with app.app_context():
        db.session.get(CitizenAccount, header.account_id).disabled = True
        db.session.flush()
        db.session.rollback()
        db.session.commit()
    assert generation(app) == before


def test_an_entry_read_before_a_change_is_dead_on_arrival(app, client, citizen):
    """The race the design closes: a request reads the standing, a change commits, the request caches it."""
    header = citizen(subject=GOOD)
    wait_for_feed(app)

    def read_while_the_office_black_lists():
        read = holders._read_holders(header.account_id)  # the request's read...
        account = db.session.get(CitizenAccount, header.account_id)
        db.session.get(CreditSubject, account.subject_id).black_listed = True  # ...meanwhile the office commits
        db.session.commit()
        return read  # ...and then the request caches what it read

    with app.test_request_context():
        assert holders.STANDINGS.get_or_load(header.account_id, read_while_the_office_black_lists).person
    refused = issue(client, header)
    assert refused.status_code == 403 and refused.json["code"] == "holder_blacklisted"


def test_an_entry_expires(app, client, citizen, monkeypatch):
    """A change made outside the app (psql) announces nothing: it shows once the entry expires."""
    monkeypatch.setattr(holders.STANDINGS, "entry_seconds", 0.2)
    header = citizen(subject=GOOD)
    warm(client, header)
    with sql_statements(app) as seen:
        assert issue(client, header).status_code == 201
    assert seen == []
    time.sleep(0.3)
    with sql_statements(app) as seen:
        assert issue(client, header).status_code == 201
    assert seen != []


def test_another_workers_change_reaches_this_worker(app, make_app, citizen):
    """Two apps are two workers: a black-listing committed by one is seen by the other's next issue."""
    header = citizen(subject=GOOD)
    other = make_app()
    warm(app.test_client(), header)
    with other.app_context():
        account = db.session.get(CitizenAccount, header.account_id)
        db.session.get(CreditSubject, account.subject_id).black_listed = True
        db.session.commit()
    deadline = time.monotonic() + 2  # a Pub/Sub message away: well under a second
    while (refused := issue(app.test_client(), header)).status_code == 201:
        assert time.monotonic() < deadline, "the other worker's change never arrived"
        time.sleep(0.005)
    assert refused.status_code == 403 and refused.json["code"] == "holder_blacklisted"


def test_without_redis_issuing_asks_the_database(make_app, app, citizen):
    header = citizen(subject=GOOD)
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0").test_client()
    assert issue(broken, header).status_code == 201
    with app.app_context():
        account = db.session.get(CitizenAccount, header.account_id)
        db.session.get(CreditSubject, account.subject_id).tier_level = 0
        db.session.commit()
    refused = issue(broken, header)
    assert refused.status_code == 403 and refused.json["code"] == "holder_not_eligible"


def test_a_renamed_tier_shows_on_the_next_pass(app, client, citizen):
    header = citizen(subject=GOOD)
    warm(client, header)
    with app.app_context():
        tier = db.session.get(Tier, GOOD["tier_level"])
        before, tier.name = tier.name, "测试改名"
        db.session.commit()
    try:
        assert issue(client, header).json["tier_name"] == "测试改名"
    finally:
        with app.app_context():
            db.session.get(Tier, GOOD["tier_level"]).name = before
            db.session.commit()
