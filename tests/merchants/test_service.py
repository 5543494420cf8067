"""Redemption rules without HTTP: every rule of a perk, standing now, failed attempts, offline sync,
offline conflicts, voids and the merchant's alias. Errors are asserted by their stable code."""
from __future__ import annotations

import re
from datetime import date, timedelta

import pytest
from sqlalchemy import func, select

from backend.credit.models import CreditSubject
from backend.extensions import db
from backend.audit import AuditEntry
from backend.merchants import history, review, service, voids
from backend.merchants.models import FailedAttempt, Perk, Redemption, RedemptionConflict
from backend.office.service import stats
from backend.timeutil import local_day
from backend.watched_cache import mark_written

from tests.helpers import refused, utc


def count(model, *where) -> int:
    return db.session.scalar(select(func.count()).select_from(model).where(*where))


# -- rounding -------------------------------------------------------------------------------------

@pytest.mark.parametrize("amount, permille, cap, expected", [
    (10000, 980, None, (9800, 200)),      # 100.00 元 at 98%: pay 98.00
    (1, 980, None, (1, 0)),               # 0.98 fen rounds half up to 1 fen
    (25, 980, None, (25, 0)),             # 24.5 fen: exactly half rounds up
    (26, 980, None, (25, 1)),             # 25.48 fen rounds down
    (12345, 880, None, (10864, 1481)),    # 108.636 元 rounds to 108.64
    (1_000_000, 980, 1000, (999_000, 1000)),  # 2% of 10000 元 is 200 元, capped at 10 元
    (10000, 980, 5000, (9800, 200)),      # a cap above the discount changes nothing
])
def test_price_rounds_half_up_to_the_fen_and_caps_the_discount(amount, permille, cap, expected):
    payable, discount = service.price(amount_fen=amount, discount_permille=permille, max_discount_fen=cap)
    assert (payable, discount) == expected and payable + discount == amount


# -- perks as data: each rule ---------------------------------------------------------------------

def test_discount_is_recorded_with_payable_and_discount(shop):
    perk = shop.perk()
    outcome = shop.redeem(shop.pass_for(shop.holder()), perk, amount_fen=12345)
    r = outcome.redemption
    assert (r.amount_fen, r.payable_fen, r.discount_fen, r.status, r.offline) == (12345, 12098, 247, "recorded", False)
    assert not outcome.replayed and r.local_day == local_day(r.scanned_at)


def test_discount_needs_an_amount_but_green_channel_does_not(shop):
    discount, green = shop.perk(), shop.perk(kind="green_channel", title="绿色通道")
    holder = shop.holder()
    refused("amount_required", shop.redeem, shop.pass_for(holder), discount, amount_fen=None)
    r = shop.redeem(shop.pass_for(holder), green, amount_fen=None).redemption
    assert (r.amount_fen, r.payable_fen, r.discount_fen) == (None, None, None)
    # An amount sent for a perk that is not a discount is not taken as money.
    r = shop.redeem(shop.pass_for(holder), green, amount_fen=5000).redemption
    assert r.amount_fen is None


def test_max_discount_caps_what_is_given(shop):
    perk = shop.perk(max_discount_fen=500)
    r = shop.redeem(shop.pass_for(shop.holder()), perk, amount_fen=100_000).redemption
    assert (r.payable_fen, r.discount_fen) == (99_500, 500)


def test_holder_kinds(shop):
    perk = shop.perk(kind="free_entry", title="免费入园", holder_kinds="person")
    refused("tier_not_eligible", shop.redeem, shop.pass_for(shop.holder(kind="company")), perk)
    assert shop.redeem(shop.pass_for(shop.holder(kind="person")), perk).redemption.id


def test_min_tier(shop):
    perk = shop.perk(kind="deposit_waived", title="免押金", min_tier_level=3)
    refused("tier_not_eligible", shop.redeem, shop.pass_for(shop.holder(tier_level=2)), perk)
    assert shop.redeem(shop.pass_for(shop.holder(tier_level=3)), perk).redemption.tier_level == 3


def test_quota_by_tier(shop):
    perk = shop.perk(kind="extra_quota", title="借书", quota_by_tier={"1": 3, "2": 4, "3": 5}, quota_unit="册")
    quotas = [shop.redeem(shop.pass_for(shop.holder(tier_level=level)), perk).redemption.quota for level in (1, 2, 4)]
    assert quotas == [3, 4, 5]  # the red list (4) gets the highest rung written (3)


def test_active_dates(shop):
    today = local_day(utc())
    future = shop.perk(active_from=today + timedelta(days=1))
    past = shop.perk(active_until=today - timedelta(days=1))
    current = shop.perk(active_from=today, active_until=today)
    holder = shop.holder()
    refused("perk_unavailable", shop.redeem, shop.pass_for(holder), future)
    refused("perk_unavailable", shop.redeem, shop.pass_for(holder), past)
    assert shop.redeem(shop.pass_for(holder), current).redemption.id


def test_blackout_calendar(shop):
    today = local_day(utc())
    shop.blackout("test_holidays", today)
    blacked = shop.perk(kind="free_entry", title="免费入园（节假日除外）", blackout_calendar="test_holidays")
    other = shop.perk(kind="free_entry", title="免费入园", blackout_calendar="test_other_calendar")
    # A make-up working day (调休上班) of the calendar is a working day, not a holiday: no blackout.
    shop.blackout("test_makeup_workdays", today, kind="workday")
    worked = shop.perk(kind="free_entry", title="免费入园（调休上班日照常）", blackout_calendar="test_makeup_workdays")
    holder = shop.holder()
    error = refused("perk_unavailable", shop.redeem, shop.pass_for(holder), blacked)
    assert "节假日" in error.message
    assert shop.redeem(shop.pass_for(holder), other).redemption.id
    assert shop.redeem(shop.pass_for(holder), worked).redemption.id


def test_inactive_perk_or_partner_and_other_merchants_perk(shop, app):
    off = shop.perk(active=False)
    holder = shop.holder()
    refused("perk_unavailable", shop.redeem, shop.pass_for(holder), off)
    refused("perk_unavailable", shop.redeem, shop.pass_for(holder), 10_000_000)  # no such perk
    other_partner_perk = db.session.execute(db.text(
        "select perks.id from perks join partners on partners.id = perks.partner_id where partners.name = '辣盆盆小龙虾饭店'"
    )).scalar()
    refused("perk_unavailable", shop.redeem, shop.pass_for(holder), other_partner_perk)
    on = shop.perk()
    shop.partner.active = False
    db.session.commit()
    refused("perk_unavailable", shop.redeem, shop.pass_for(holder), on)


def test_daily_limit_per_holder(shop):
    perk = shop.perk(kind="free_entry", title="免费入园", limit_per_holder_per_day=2)
    holder, other = shop.holder(), shop.holder()
    first = shop.redeem(shop.pass_for(holder), perk).redemption
    second = shop.redeem(shop.pass_for(holder), perk).redemption
    assert (first.day_slot, second.day_slot) == (1, 2)
    refused("limit_reached", shop.redeem, shop.pass_for(holder), perk)
    assert shop.redeem(shop.pass_for(other), perk).redemption.day_slot == 1  # per holder
    # A voided use gives the use back; its slot stays taken.
    voids.void(redemption_id=second.id, actor="office:1", reason="误操作")
    third = shop.redeem(shop.pass_for(holder), perk).redemption
    assert third.day_slot == 3
    refused("limit_reached", shop.redeem, shop.pass_for(holder), perk)


def test_a_rule_change_applies_at_the_next_redemption(shop):
    perk = shop.perk(min_tier_level=1)
    holder = shop.holder(tier_level=1)
    assert shop.redeem(shop.pass_for(holder), perk).redemption.id
    db.session.execute(db.text("update perks set min_tier_level = 2 where id = :id"), {"id": perk})
    mark_written(db.session, Perk)  # hand-written SQL: the perk facts cache is told
    db.session.commit()
    refused("tier_not_eligible", shop.redeem, shop.pass_for(holder), perk)


# -- standing now ---------------------------------------------------------------------------------

def test_holder_black_listed_after_the_pass_was_issued_is_refused(shop):
    perk, holder = shop.perk(), shop.holder()
    token = shop.pass_for(holder)
    db.session.execute(db.text("update credit_subjects set black_listed = true, tier_level = 0 where id = :id"),
                       {"id": holder})
    mark_written(db.session, CreditSubject)
    db.session.commit()
    refused("holder_blacklisted", shop.redeem, token, perk)
    attempt = db.session.scalar(select(FailedAttempt))
    assert (attempt.code, attempt.subject_id) == ("holder_blacklisted", holder)
    assert count(Redemption) == 0


def test_the_tier_now_decides_not_the_tier_in_the_pass(shop):
    perk = shop.perk(min_tier_level=2)
    holder = shop.holder(tier_level=3)
    token = shop.pass_for(holder)  # says tier 3
    db.session.get(CreditSubject, holder).tier_level = 1
    db.session.commit()
    refused("tier_not_eligible", shop.redeem, token, perk)
    db.session.get(CreditSubject, holder).tier_level = 2
    db.session.commit()
    assert shop.redeem(token, perk).redemption.tier_level == 2


# -- exactly once ---------------------------------------------------------------------------------

def test_same_client_id_returns_the_first_answer_even_after_the_pass_expired(shop):
    perk, holder = shop.perk(), shop.holder()
    request = shop.request(shop.pass_for(holder), perk)
    first = service.redeem(ctx=_ctx(), request=request, offline_window_hours=24)
    later = service.redeem(ctx=_ctx(), request=request, offline_window_hours=24, now=utc(hours=2))
    assert later.replayed and later.redemption.id == first.redemption.id
    assert count(Redemption) == 1 and count(FailedAttempt) == 0


def test_same_pass_at_same_perk_is_refused_but_another_perk_accepts_it(shop):
    perk, other = shop.perk(), shop.perk(kind="green_channel", title="绿色通道")
    token = shop.pass_for(shop.holder())
    shop.redeem(token, perk)
    refused("pass_already_used", shop.redeem, token, perk)
    assert shop.redeem(token, other).redemption.id
    assert count(RedemptionConflict) == 0  # online: a plain refusal, nothing to review


def test_a_client_id_names_one_scan(shop):
    perk, other = shop.perk(), shop.perk()
    holder = shop.holder()
    first = shop.request(shop.pass_for(holder), perk)
    service.redeem(ctx=_ctx(), request=first, offline_window_hours=24)
    for changed in ({"perk_id": other}, {"token": shop.pass_for(holder)}):
        request = shop.request(**{"token": first.token, "perk_id": perk, "client_id": first.client_id, **changed})
        refused("client_id_reused", service.redeem, ctx=_ctx(), request=request, offline_window_hours=24)
    assert count(Redemption) == 1
    assert count(FailedAttempt, FailedAttempt.code == "client_id_reused") == 2


# -- failed attempts ------------------------------------------------------------------------------

def test_failed_attempts_keep_reason_device_and_time_but_no_holder_when_unverified(shop):
    perk, holder = shop.perk(), shop.holder()
    device = shop.devices[0].id
    refused("pass_invalid", shop.redeem, "XYM:NOT-A-PASS", perk, device_id=device, staff_id=None)
    token = shop.pass_for(holder)
    tampered = token[:-3] + ("000" if token[-3:] != "000" else "111")
    refused("pass_invalid", shop.redeem, tampered, perk, device_id=device, staff_id=None)
    refused("pass_expired", shop.redeem, shop.pass_for(holder, at=utc(minutes=-10)), perk, device_id=device,
            staff_id=None)
    refused("amount_required", shop.redeem, token, perk, amount_fen=None, device_id=device, staff_id=None)
    attempts = list(db.session.scalars(select(FailedAttempt).order_by(FailedAttempt.id)))
    assert [a.code for a in attempts] == ["pass_invalid", "pass_invalid", "pass_expired", "amount_required"]
    assert [a.reason for a in attempts] == ["encoding", "signature", "expired", None]
    for attempt in attempts:
        assert attempt.device_id == device and attempt.partner_id == shop.partner_id and attempt.perk_id == perk
        assert attempt.at is not None and abs((attempt.at - utc()).total_seconds()) < 60
    for unverified in attempts[:3]:
        assert unverified.subject_id is None and unverified.pass_id is None
    assert attempts[3].subject_id == holder and attempts[3].pass_id


# -- offline sync ---------------------------------------------------------------------------------

def test_a_late_scan_is_judged_when_it_was_scanned_and_marked_offline(shop):
    perk, holder = shop.perk(), shop.holder()
    scanned = utc(hours=-3)
    token = shop.pass_for(holder, at=scanned - timedelta(seconds=20))  # long expired by now
    r = shop.redeem(token, perk, scanned_at=scanned, queued=True).redemption
    assert r.offline and r.scanned_at == scanned.replace(microsecond=r.scanned_at.microsecond)


def test_a_scan_is_offline_when_it_arrives_late_even_unflagged(shop):
    perk, holder = shop.perk(), shop.holder()
    scanned = utc(minutes=-2)
    r = shop.redeem(shop.pass_for(holder, at=scanned), perk, scanned_at=scanned).redemption
    assert r.offline


def test_offline_rules(shop):
    perk, holder = shop.perk(), shop.holder()
    # expired already at the moment of scanning
    scanned = utc(hours=-1)
    refused("pass_expired", shop.redeem, shop.pass_for(holder, at=scanned - timedelta(minutes=5)), perk,
            scanned_at=scanned, queued=True)
    # beyond the window (24 h by default, configurable)
    old = utc(hours=-25)
    refused("offline_too_late", shop.redeem, shop.pass_for(holder, at=old), perk, scanned_at=old, queued=True)
    two_hours = utc(hours=-2)
    refused("offline_too_late", shop.redeem, shop.pass_for(holder, at=two_hours), perk, scanned_at=two_hours,
            queued=True, window_hours=1)
    # a scan time in the future is not believed
    refused("validation_error", shop.redeem, shop.pass_for(holder), perk, scanned_at=utc(minutes=5))
    attempts = list(db.session.scalars(select(FailedAttempt)))
    assert all(a.offline for a in attempts[:3])


def test_a_pass_redeemed_offline_on_two_devices_gives_one_redemption_and_one_conflict(shop):
    perk, holder = shop.perk(), shop.holder()
    scanned = utc(minutes=-30)
    token = shop.pass_for(holder, at=scanned - timedelta(seconds=5))
    first = shop.redeem(token, perk, scanned_at=scanned, queued=True, device_id=shop.devices[0].id, staff_id=None)
    second = shop.request(token, perk, scanned_at=scanned + timedelta(seconds=10), queued=True,
                          device_id=shop.devices[1].id, staff_id=None, amount_fen=8000)
    error = refused("pass_already_used", service.redeem, ctx=_ctx(), request=second, offline_window_hours=24)
    conflict = db.session.scalar(select(RedemptionConflict))
    assert error.detail["conflict_id"] == conflict.id
    assert (conflict.redemption_id, conflict.device_id, conflict.amount_fen) == (
        first.redemption.id, shop.devices[1].id, 8000)
    # The second device's outbox retries: same answer, still one conflict.
    again = refused("pass_already_used", service.redeem, ctx=_ctx(), request=second, offline_window_hours=24)
    assert again.detail["conflict_id"] == conflict.id
    assert count(Redemption) == 1 and count(RedemptionConflict) == 1
    assert review.list_conflicts()[0].id == conflict.id


# -- voids ----------------------------------------------------------------------------------------

def test_merchant_voids_its_own_within_the_window_audited_and_out_of_stats(shop):
    perk = shop.perk()
    r = shop.redeem(shop.pass_for(shop.holder()), perk, amount_fen=5000).redemption
    before = {row["key"]: row for row in stats(group_by="partner")}[shop.partner.name]
    assert before["redemptions"] == 1
    voided = voids.void(redemption_id=r.id, actor=f"staff:{shop.cashier.id}", reason="顾客取消",
                          partner_id=shop.partner_id, window_minutes=15, now=utc(minutes=14))
    assert (voided.status, voided.void_reason, voided.voided_by) == ("voided", "顾客取消", f"staff:{shop.cashier.id}")
    assert shop.partner.name not in {row["key"] for row in stats(group_by="partner")}
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "redemption.void"))
    assert entry.target == f"redemption:{r.id}" and entry.detail["reason"] == "顾客取消"
    assert entry.detail["by"] == "merchant"
    refused("already_voided", voids.void, redemption_id=r.id, actor="staff:1", reason=None,
            partner_id=shop.partner_id, window_minutes=15)
    rows, totals = history.history(partner_id=shop.partner_id, day=r.local_day)
    assert [row.id for row in rows] == [r.id] and totals == {"count": 0, "amount_fen": 0, "discount_fen": 0}


def test_merchant_cannot_void_late_or_another_merchants(shop):
    perk = shop.perk()
    r = shop.redeem(shop.pass_for(shop.holder()), perk).redemption
    refused("void_window_closed", voids.void, redemption_id=r.id, actor="staff:1", reason=None,
            partner_id=shop.partner_id, window_minutes=15, now=utc(minutes=16))
    refused("not_found", voids.void, redemption_id=r.id, actor="staff:1", reason=None,
            partner_id=shop.partner_id + 999, window_minutes=15)
    assert db.session.get(Redemption, r.id).status == "recorded"


def test_office_voids_any_at_any_time_but_only_with_a_reason(shop):
    perk = shop.perk()
    r = shop.redeem(shop.pass_for(shop.holder()), perk).redemption
    refused("validation_error", voids.void, redemption_id=r.id, actor="office:1", reason="  ")
    voided = voids.void(redemption_id=r.id, actor="office:1", reason="商户申请撤销", now=utc(days=30))
    assert voided.status == "voided"
    entry = db.session.scalar(select(AuditEntry).where(AuditEntry.action == "redemption.void"))
    assert entry.actor == "office:1" and entry.detail["by"] == "office"


# -- the merchant's view --------------------------------------------------------------------------

def test_history_filters_by_day_and_perk_and_totals_today(shop):
    perk, green = shop.perk(), shop.perk(kind="green_channel", title="绿色通道")
    holder = shop.holder()
    a = shop.redeem(shop.pass_for(holder), perk, amount_fen=10000).redemption
    shop.redeem(shop.pass_for(holder), perk, amount_fen=5000)
    shop.redeem(shop.pass_for(holder), green)
    yesterday = utc(hours=-23)
    shop.redeem(shop.pass_for(holder, at=yesterday), perk, scanned_at=yesterday, queued=True)
    rows, totals = history.history(partner_id=shop.partner_id, day=a.local_day)
    if local_day(yesterday) != a.local_day:
        assert len(rows) == 3
    assert totals["amount_fen"] >= 15000
    rows, totals = history.history(partner_id=shop.partner_id, day=a.local_day, perk_id=green)
    assert len(rows) == 1 and totals == {"count": 1, "amount_fen": 0, "discount_fen": 0}
    rows, _ = history.history(partner_id=shop.partner_id, day=date(2000, 1, 1))
    assert rows == []


def _plan(query: str, params: dict) -> str:
    if db.engine.dialect.name == "postgresql":
        db.session.execute(db.text("set local enable_seqscan = off"))  # a test table is small enough to scan
        plan = " ".join(db.session.execute(db.text(f"explain {query}"), params).scalars())
    else:
        plan = " ".join(str(row[-1]) for row in db.session.execute(db.text(f"explain query plan {query}"), params))
    db.session.rollback()
    return plan


# The index, or on PostgreSQL its copy in a month's partition (backend/merchants/partitions.py).
DAY_PARTNER_INDEX = re.compile(r"ix_redemptions_day_partner|redemptions_(p\d{4}_\d{2}|default)_local_day_partner_id_idx")


def test_a_merchants_day_is_read_through_its_index_not_a_scan_of_every_redemption(shop):
    plan = _plan("select * from redemptions where partner_id = :partner and local_day = :day",
                 {"partner": shop.partner_id, "day": local_day(utc())})
    assert DAY_PARTNER_INDEX.search(plan), plan


def test_the_offices_range_of_days_is_read_through_an_index_not_a_scan_of_every_redemption(shop):
    # What office.service.stats asks: recorded redemptions of a range of days, across every partner.
    today = local_day(utc())
    plan = _plan("select count(*) from redemptions where status = 'recorded' and local_day >= :start and local_day <= :end",
                 {"start": today - timedelta(days=6), "end": today})
    assert DAY_PARTNER_INDEX.search(plan), plan


def test_the_database_refuses_a_redemption_pairing_a_partner_with_another_partners_perk(shop):
    from sqlalchemy.exc import IntegrityError

    from backend.merchants.models import Partner

    recorded = shop.redeem(shop.pass_for(shop.holder()), shop.perk(), amount_fen=10000).redemption
    other = db.session.scalar(select(Partner.id).where(Partner.id != shop.partner_id).limit(1))
    # PostgreSQL names the constraint; SQLite only says that a foreign key failed.
    with pytest.raises(IntegrityError, match="fk_redemptions_perk_id_perks|FOREIGN KEY constraint failed"):
        db.session.execute(db.text("update redemptions set partner_id = :other where id = :id"),
                           {"other": other, "id": recorded.id})
    db.session.rollback()


def test_holder_alias_is_short_stable_per_merchant_and_unlinkable_across(shop):
    alias = history.holder_alias(secret="s", partner_id=1, subject_id=42)
    assert len(alias) == 6 and set(alias) <= set("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
    assert alias == history.holder_alias(secret="s", partner_id=1, subject_id=42)
    assert alias != history.holder_alias(secret="s", partner_id=2, subject_id=42)
    assert alias != history.holder_alias(secret="s", partner_id=1, subject_id=43)
    assert alias != history.holder_alias(secret="t", partner_id=1, subject_id=42)
    assert history.holder_alias(secret="s", partner_id=1, subject_id=None) is None


def _ctx():
    import importlib
    return importlib.import_module("backend.pass.context").key_context()


def _deadlocking(monkeypatch, aborts: int) -> list:
    """Make the lock path's first `aborts` attempts end as PostgreSQL ends the side of a deadlock it
    aborts (rolled back, OperationalError with SQLSTATE 40P01); returns the list of attempts."""
    import psycopg
    from sqlalchemy.exc import OperationalError

    real, attempts = service._lock_subject, []

    def deadlocking(subject_id):
        attempts.append(1)
        if len(attempts) <= aborts:
            raise OperationalError("select ... for no key update", {}, psycopg.errors.DeadlockDetected("deadlock detected"))
        return real(subject_id)

    monkeypatch.setattr(service, "_lock_subject", deadlocking)
    # Straight to the lock path (the one-statement path takes it only when its insert writes nothing).
    monkeypatch.setattr(service.store, "insert", lambda row: None)
    return attempts


@pytest.mark.parametrize("aborts", [1, service.LOCK_PATH_ATTEMPTS - 1])
def test_a_lock_path_aborted_for_a_deadlock_is_judged_again_and_records(shop, monkeypatch, aborts):
    holder, perk = shop.holder(), shop.perk(kind="free_entry", title="免费入园", limit_per_holder_per_day=2)
    shop.redeem(shop.pass_for(holder), perk)  # slot 1
    attempts = _deadlocking(monkeypatch, aborts)
    second = shop.redeem(shop.pass_for(holder), perk).redemption
    assert second.day_slot == 2 and len(attempts) == aborts + 1
    assert count(Redemption, Redemption.perk_id == perk, Redemption.subject_id == holder) == 2


def test_a_lock_path_that_keeps_being_aborted_fails_after_its_last_attempt(shop, monkeypatch):
    from sqlalchemy.exc import OperationalError

    holder, perk = shop.holder(), shop.perk(kind="free_entry", title="免费入园", limit_per_holder_per_day=2)
    shop.redeem(shop.pass_for(holder), perk)
    attempts = _deadlocking(monkeypatch, service.LOCK_PATH_ATTEMPTS)
    with pytest.raises(OperationalError):
        shop.redeem(shop.pass_for(holder), perk)
    assert len(attempts) == service.LOCK_PATH_ATTEMPTS
    assert count(Redemption, Redemption.perk_id == perk, Redemption.subject_id == holder) == 1
