"""Redemption's common case: the perk's rules from the worker's memory (never stale after a change), the
holder's standing checked by the very insert that records. Every test here warms the cache first, so
that it exercises that path, not the read-everything path a cold worker takes."""
from __future__ import annotations

import time
import uuid

import pytest
from sqlalchemy import select

from backend.changefeed import current_feed
from backend.credit.models import CreditSubject
from backend.credit.service import tier_levels
from backend.extensions import db, redis_store
from backend.merchants import catalog, service
from backend.merchants.models import Partner, Perk, Redemption
from backend.timeutil import local_day
from backend.watched_cache import mark_written
from tests.helpers import statements_sent, wait_until

from tests.helpers import refused, utc
from tests.merchants.conftest import key_context


def redeem_counting_statements(shop, token: str, perk_id: int):
    """Redeem as the endpoint does (tier names and keys already in memory); return (redemption, statements)."""
    request, levels = shop.request(token, perk_id), tier_levels()
    key_context()
    with statements_sent(db.engine, this_thread_only=True, first_word=True) as seen:
        outcome = service.redeem(ctx=key_context(), request=request, tier_levels=levels, offline_window_hours=24)
    return outcome.redemption, seen


def cached(perk_id: int):
    return service.PERK_FACTS.get((perk_id, local_day(utc())))


def warm(shop, perk_id: int) -> None:
    """Redeem once for another holder with the feed synced: the perk's facts are then in memory."""
    wait_until(lambda: current_feed().synced)
    assert shop.redeem(shop.pass_for(shop.holder()), perk_id).redemption.id
    assert cached(perk_id) is not None


def perks_generation() -> str | None:
    return redis_store.client.get(redis_store.key(service.PERK_FACTS.generation_key))


def test_a_warm_perk_records_in_one_statement_that_checks_the_holder(shop):
    perk = shop.perk()
    warm(shop, perk)
    holder = shop.holder(tier_level=3)
    made, seen = redeem_counting_statements(shop, shop.pass_for(holder), perk)
    assert seen == ["INSERT"]
    row = db.session.get(Redemption, made.id)
    assert (row.subject_id, row.tier_level, row.payable_fen, row.discount_fen) == (holder, 3, 9800, 200)


def _raise_min_tier(shop, perk):
    db.session.get(Perk, perk).min_tier_level = 3


def _switch_perk_off_as_the_office(shop, perk):
    catalog.update_perk(actor="office:test", perk_id=perk, changes={"active": False})


def _stop_the_partnership(shop, perk):
    db.session.get(Partner, shop.partner_id).active = False


def _black_out_today(shop, perk):
    db.session.get(Perk, perk).blackout_calendar = "test_perk_facts"
    db.session.commit()
    warm(shop, perk)  # cached again with its calendar, then the calendar gains today
    shop.blackout("test_perk_facts", local_day(utc()))


def _end_it_yesterday_by_hand(shop, perk):
    db.session.execute(db.text("update perks set active_until = :day where id = :id"),
                       {"day": local_day(utc(days=-1)), "id": perk})
    mark_written(db.session, Perk)  # the ORM did not build it: the writer says what it wrote


@pytest.mark.parametrize("change, code", [
    (_raise_min_tier, "tier_not_eligible"),
    (_switch_perk_off_as_the_office, "perk_unavailable"),
    (_stop_the_partnership, "perk_unavailable"),
    (_black_out_today, "perk_unavailable"),
    (_end_it_yesterday_by_hand, "perk_unavailable"),
])
def test_a_change_to_the_rules_applies_to_the_next_redemption(shop, change, code):
    perk = shop.perk()
    warm(shop, perk)
    change(shop, perk)
    db.session.commit()
    refused(code, shop.redeem, shop.pass_for(shop.holder()), perk)


def test_a_new_discount_prices_the_next_redemption(shop):
    perk = shop.perk()
    warm(shop, perk)
    catalog.update_perk(actor="office:test", perk_id=perk, changes={"discount_permille": 900})
    assert shop.redeem(shop.pass_for(shop.holder()), perk, amount_fen=10000).redemption.payable_fen == 9000


def test_changes_that_cannot_alter_a_perk_keep_the_cache(shop):
    perk = shop.perk()
    warm(shop, perk)
    before = perks_generation()
    db.session.get(Partner, shop.partner_id).address = "测试路 2 号"  # partners: only `active` matters
    db.session.commit()
    assert perks_generation() == before and cached(perk) is not None


def test_an_entry_read_before_a_change_is_dead_on_arrival(shop):
    """The race the generation closes: a request reads the facts, a change commits, the request caches them."""
    perk = shop.perk()
    warm(shop, perk)
    key = (perk, local_day(utc()))
    generation = service.PERK_FACTS.current_generation()  # what that request knew before its read...
    stale = cached(perk)
    db.session.get(Perk, perk).active = False  # ...meanwhile the office switches the perk off...
    db.session.commit()
    service.PERK_FACTS.put(key, stale, generation)  # ...and then the request caches what it read
    refused("perk_unavailable", shop.redeem, shop.pass_for(shop.holder()), perk)


def test_another_workers_change_reaches_this_worker(shop, make_app):
    """Two apps are two workers: a perk switched off by one is refused by the other's next redemption."""
    perk = shop.perk()
    warm(shop, perk)
    with make_app().app_context():
        db.session.get(Perk, perk).active = False
        db.session.commit()
    deadline = time.monotonic() + 2  # a Pub/Sub message away: well under a second
    while cached(perk) is not None:
        assert time.monotonic() < deadline, "the other worker's change never arrived"
        time.sleep(0.005)
    refused("perk_unavailable", shop.redeem, shop.pass_for(shop.holder()), perk)


# -- the holder's standing, checked by the insert --------------------------------------------------

def _standing(holder: int, **values) -> None:
    subject = db.session.get(CreditSubject, holder)
    for name, value in values.items():
        setattr(subject, name, value)
    db.session.commit()


def test_a_holder_black_listed_after_the_pass_was_issued_is_refused_by_the_insert(shop):
    perk, holder = shop.perk(), shop.holder()
    warm(shop, perk)
    token = shop.pass_for(holder)
    _standing(holder, black_listed=True)
    request, levels = shop.request(token, perk), tier_levels()
    with statements_sent(db.engine, this_thread_only=True, first_word=True) as seen:
        refused("holder_blacklisted", service.redeem, ctx=key_context(), request=request, tier_levels=levels,
                offline_window_hours=24)
    assert seen[0] == "INSERT"  # the insert wrote nothing; the lock path named the reason
    assert db.session.scalar(select(Redemption).where(Redemption.subject_id == holder)) is None


def test_a_tier_lowered_since_the_pass_is_refused_and_a_raised_one_is_recorded(shop):
    perk = shop.perk(min_tier_level=2)
    warm(shop, perk)
    lowered, raised = shop.holder(tier_level=2), shop.holder(tier_level=2)
    lowered_token, raised_token = shop.pass_for(lowered), shop.pass_for(raised)  # both say tier 2
    _standing(lowered, tier_level=1)
    _standing(raised, tier_level=3)
    refused("tier_not_eligible", shop.redeem, lowered_token, perk)
    assert shop.redeem(raised_token, perk).redemption.tier_level == 3


def test_a_tier_raised_since_the_pass_qualifies_for_a_perk_the_pass_alone_would_not(shop):
    perk = shop.perk(min_tier_level=2)
    warm(shop, perk)
    holder = shop.holder(tier_level=1)
    token = shop.pass_for(holder)  # says tier 1: below the perk's minimum
    _standing(holder, tier_level=2)
    assert shop.redeem(token, perk).redemption.tier_level == 2


@pytest.mark.parametrize("fields", [{}, {"amount_fen": None}], ids=["blacked-out perk", "no amount"])
def test_the_first_failing_step_answers_in_the_documented_order(shop, fields):
    """The black list comes before the perk's rules and the amount, in memory or not."""
    shop.blackout("test_order", local_day(utc()))
    perk = shop.perk(blackout_calendar="test_order") if not fields else shop.perk()
    holder = shop.holder()
    token = shop.pass_for(holder)
    if fields:
        warm(shop, perk)
    else:  # a refusal caches the perk's facts as well
        wait_until(lambda: current_feed().synced)
        refused("perk_unavailable", shop.redeem, shop.pass_for(shop.holder()), perk)
        assert cached(perk) is not None
    _standing(holder, black_listed=True)
    refused("holder_blacklisted", shop.redeem, token, perk, **fields)


def test_a_holder_without_a_row_is_refused(shop):
    perk, holder = shop.perk(), shop.holder()
    warm(shop, perk)
    token = shop.pass_for(holder)
    db.session.delete(db.session.get(CreditSubject, holder))
    db.session.commit()
    error = refused("pass_invalid", shop.redeem, token, perk)
    assert error.detail["reason"] == "holder"


def test_a_holders_later_uses_take_the_next_daily_slots(shop):
    perk = shop.perk(kind="free_entry", title="免费入园", limit_per_holder_per_day=2)
    warm(shop, perk)
    holder = shop.holder()
    slots = [shop.redeem(shop.pass_for(holder), perk).redemption.day_slot for _ in range(2)]
    assert slots == [1, 2]
    refused("limit_reached", shop.redeem, shop.pass_for(holder), perk)


def test_without_redis_every_redemption_reads_the_rules(shop, make_app):
    perk = shop.perk()
    broken = make_app(REDIS_URL="redis://127.0.0.1:1/0")
    client, header = broken.test_client(), shop.header()

    def redeem() -> int:
        return client.post("/api/redemptions", headers=header, json={
            "token": shop.pass_for(shop.holder()), "perk_id": perk, "client_id": str(uuid.uuid4()),
            "scanned_at": utc().isoformat(), "amount_fen": 10000}).status_code

    assert redeem() == 201
    with broken.app_context():
        engine = db.engine
    with statements_sent(engine) as seen:
        assert redeem() == 201
    # (The session check reads the database too without Redis: the statements before these two.)
    assert [statement.split(None, 1)[0] for statement in seen[-2:]] == ["SELECT", "INSERT"]
    assert "FROM perks" in seen[-2] and sum("FROM perks" in statement for statement in seen) == 1
