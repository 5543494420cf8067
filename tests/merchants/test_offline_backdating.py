"""Offline backdating (issue 14, item 17): a scan the scanner says it queued offline must fall in a
silence of that scanner, never in a time the server kept hearing from it, nor before it began.
A refusal records the failure and nothing else; a scan in a real silence is accepted as before."""
from __future__ import annotations

import uuid
from datetime import timedelta

import pytest
from sqlalchemy import delete, func, select, update

from backend.auth import contacts, sessions, staff
from backend.auth.models import ContactSpell, Device
from backend.auth.service import Principal
from backend.extensions import db
from backend.merchants.models import FailedAttempt, Redemption, RedemptionConflict
from tests.helpers import statements_sent

from .conftest import utc

ALLOWANCE = contacts.ALLOWANCE


@pytest.fixture
def fresh(app, shop):
    """No spell, and no worker memory of a recent write, left by an earlier test (SQLite reuses ids)."""
    db.session.execute(delete(ContactSpell))
    db.session.commit()
    app.extensions.get("contact_notes", {}).clear()
    yield shop
    db.session.execute(delete(ContactSpell))
    db.session.commit()


def count(model) -> int:
    return db.session.scalar(select(func.count()).select_from(model))


def online(scanner: dict, *, since, until, every=timedelta(minutes=4)) -> None:
    """The scanner talked to the server from `since` to `until`, never silent for longer than `every`."""
    at = since
    while at < until:
        contacts.record_contact(**scanner, at=at)
        at += every
    contacts.record_contact(**scanner, at=until)


def scanner_of(shop, kind: str) -> tuple[dict, dict]:
    """(the scanner's ids for contacts, its request header): the first device with its real token, or the cashier."""
    if kind == "device":
        device = shop.devices[0]
        return {"device_id": device.id}, {"Authorization": f"Bearer {sessions.device_token(device)}"}
    return {"staff_id": shop.cashier.id}, shop.header()


def queued(shop, holder, perk, scanned_at, **fields) -> dict:
    return {"token": shop.pass_for(holder, at=scanned_at), "perk_id": perk, "client_id": str(uuid.uuid4()),
            "scanned_at": scanned_at.isoformat(), "amount_fen": 10000, "queued": True, **fields}


@pytest.mark.parametrize("kind", ["device", "staff"])
def test_a_scanner_heard_from_all_along_cannot_claim_a_queued_scan_in_that_time(fresh, client, kind):
    shop = fresh
    perk, holder = shop.perk(), shop.holder()
    scanner, header = scanner_of(shop, kind)
    online(scanner, since=utc(hours=-3), until=utc())
    answer = client.post("/api/redemptions", headers=header, json=queued(shop, holder, perk, utc(hours=-1)))
    assert answer.status_code == 409 and answer.json["code"] == "offline_time_implausible", answer.json
    # Nothing recorded but the failure, which names the scanner and the time it claimed.
    assert count(Redemption) == 0 and count(RedemptionConflict) == 0
    (failure,) = db.session.scalars(select(FailedAttempt))
    assert (failure.code, failure.offline) == ("offline_time_implausible", True)
    assert (failure.device_id, failure.staff_id) == (scanner.get("device_id"), scanner.get("staff_id"))


def test_scans_in_a_silence_are_accepted_up_to_the_allowance_around_it(fresh, client):
    shop = fresh
    perk = shop.perk()
    scanner, header = scanner_of(shop, "device")
    went_offline = utc(hours=-2)
    online(scanner, since=utc(hours=-3), until=went_offline)
    # The sync itself opens a new spell now: each queued scan of the silence is still inside it.
    for scanned_at in (utc(hours=-1, minutes=-30), utc(minutes=-20), went_offline - ALLOWANCE + timedelta(minutes=1)):
        answer = client.post("/api/redemptions", headers=header, json=queued(shop, shop.holder(), perk, scanned_at))
        assert answer.status_code == 201 and answer.json["offline"] is True, answer.json
    # Further back the scanner was talking to us.
    answer = client.post("/api/redemptions", headers=header,
                         json=queued(shop, shop.holder(), perk, went_offline - ALLOWANCE - timedelta(minutes=1)))
    assert answer.json["code"] == "offline_time_implausible"
    assert count(Redemption) == 3


def test_a_scan_queued_in_a_short_drop_and_sent_when_the_network_is_back_is_accepted(fresh, client):
    shop = fresh
    perk = shop.perk()
    scanner, header = scanner_of(shop, "staff")
    online(scanner, since=utc(hours=-1), until=utc(), every=timedelta(minutes=1))
    scanned_at = utc() - ALLOWANCE + timedelta(seconds=20)
    answer = client.post("/api/redemptions", headers=header, json=queued(shop, shop.holder(), perk, scanned_at))
    assert answer.status_code == 201 and answer.json["offline"] is True


def test_an_unflagged_late_scan_is_bounded_too(fresh, client):
    """Not saying `queued` changes nothing: a scan arriving late is offline, and bounded the same."""
    shop = fresh
    perk = shop.perk()
    scanner, header = scanner_of(shop, "device")
    online(scanner, since=utc(hours=-3), until=utc())
    answer = client.post("/api/redemptions", headers=header,
                         json=queued(shop, shop.holder(), perk, utc(minutes=-40), queued=False))
    assert answer.json["code"] == "offline_time_implausible"


def test_a_device_cannot_claim_a_scan_from_before_its_enrolment(fresh, client):
    shop = fresh
    perk = shop.perk()
    code = staff.create_enrolment(partner_id=shop.partner_id, staff_id=None, actor="test")["code"]
    device, token = staff.enrol_device(code=code, name="新收银台")
    header = {"Authorization": f"Bearer {token}"}
    before = client.post("/api/redemptions", headers=header, json=queued(shop, shop.holder(), perk, utc(hours=-1)))
    assert before.json["code"] == "offline_time_implausible"
    after = client.post("/api/redemptions", headers=header,
                        json=queued(shop, shop.holder(), perk, utc(minutes=-2)))
    assert after.status_code == 201 and after.json["offline"] is True


def test_a_cashier_cannot_claim_a_scan_from_before_their_first_sign_in(fresh, client):
    shop = fresh
    perk = shop.perk()
    pair = sessions.start_session(Principal(kind="staff", id=shop.cashier.id, role="cashier",
                                            partner_id=shop.partner_id))
    db.session.commit()
    header = {"Authorization": f"Bearer {pair.access_token}"}
    answer = client.post("/api/redemptions", headers=header, json=queued(shop, shop.holder(), perk, utc(hours=-1)))
    assert answer.json["code"] == "offline_time_implausible"


def test_a_retry_of_a_recorded_scan_gets_its_first_answer_whatever_the_contacts_say_now(fresh, client):
    shop = fresh
    perk = shop.perk()
    scanner, header = scanner_of(shop, "device")
    sent = queued(shop, shop.holder(), perk, utc(minutes=-40))
    first = client.post("/api/redemptions", headers=header, json=sent)
    assert first.status_code == 201
    online(scanner, since=utc(hours=-2), until=utc())  # (as if the contacts had been recorded late)
    again = client.post("/api/redemptions", headers=header, json=sent)
    assert again.status_code == 200 and again.json == first.json
    assert count(FailedAttempt) == 0


def test_contacts_are_written_at_most_once_a_minute_per_scanner_and_worker(fresh, client, auth_header):
    shop = fresh
    scanner, header = scanner_of(shop, "device")
    with statements_sent(db.engine, first_word=True) as seen:
        assert client.get("/api/merchant/me", headers=header).status_code == 200
    assert seen.count("INSERT") == 1 and seen.count("UPDATE") == 2  # the spell opened; the device's last_seen_at
    (spell,) = db.session.scalars(select(ContactSpell))
    seen_at = db.session.scalar(select(Device.last_seen_at).where(Device.id == scanner["device_id"]))
    assert spell.device_id == scanner["device_id"] and spell.started_at == spell.ended_at == seen_at
    assert utc() - seen_at < timedelta(seconds=10)
    # Within the minute: nothing written.
    with statements_sent(db.engine, first_word=True) as seen:
        assert client.get("/api/merchant/me", headers=header).status_code == 200
    assert "INSERT" not in seen and "UPDATE" not in seen, seen
    # A minute later (this worker's memory forgotten): the same spell goes on.
    db.session.execute(update(ContactSpell).values(started_at=utc(minutes=-3), ended_at=utc(minutes=-2)))
    db.session.commit()
    fresh.app.extensions["contact_notes"].clear()
    assert client.get("/api/merchant/me", headers=header).status_code == 200
    db.session.expire_all()
    (spell,) = db.session.scalars(select(ContactSpell))
    assert utc() - spell.ended_at < timedelta(seconds=10) and utc() - spell.started_at > timedelta(minutes=2)
    # After a silence longer than the allowance, a new spell.
    contacts.record_contact(**scanner, at=utc() + ALLOWANCE + timedelta(minutes=1))
    assert count(ContactSpell) == 2
    # Citizens and the office are no scanners.
    client.post("/api/pass", headers=auth_header("citizen"), json={})
    client.get("/api/office/stats", headers=auth_header("office-analyst"))
    assert count(ContactSpell) == 2
