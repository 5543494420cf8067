"""Fixtures for redemption: a partner of our own with perks written per test, holders made per test,
and passes issued through the real pass service. Everything made here is removed afterwards."""
from __future__ import annotations

import importlib
import secrets
import uuid
from datetime import datetime, timedelta

import pytest
from sqlalchemy import delete, select

from backend.auth.models import Device, MerchantStaff
from backend.auth.service import Principal, issue_access_token
from backend.credit.models import CreditSubject
from backend.extensions import db
from backend.merchants import service
from backend.merchants.models import HolidayCalendarDay, Partner, Perk, Scenario
from tests.helpers import clear_mutable_tables, utc

pass_service = importlib.import_module("backend.pass.service")
key_context = importlib.import_module("backend.pass.context").key_context
PassKey = importlib.import_module("backend.pass.models").PassKey


class Shop:
    """A partner of the test's own, with a cashier and two devices, and helpers to use it."""

    def __init__(self, app):
        self.app = app
        scenario = db.session.query(Scenario).filter_by(code="dining").one()
        self.partner = Partner(name=f"测试商户{secrets.token_hex(3)}", scenario=scenario, address="测试路 1 号")
        db.session.add(self.partner)
        db.session.flush()
        self.cashier = MerchantStaff(partner_id=self.partner.id, username=f"t-{secrets.token_hex(4)}",
                                     password_hash="x", role="cashier")
        self.devices = [Device(partner_id=self.partner.id, name=f"收银台{i}") for i in (1, 2)]
        db.session.add_all([self.cashier, *self.devices])
        db.session.commit()
        self.partner_id = self.partner.id
        self.subject_ids: list[int] = []
        self.calendars: list[str] = []
        # Offline scans are judged hours back: let the session's signing key date from before then.
        self.key_dates = {key.id: key.not_before for key in db.session.scalars(select(PassKey))}
        for key in db.session.scalars(select(PassKey)):
            key.not_before = key.not_before - timedelta(days=3)
        db.session.commit()

    def perk(self, **rules) -> int:
        values = {"kind": "discount", "title": "测试九八折", "discount_permille": 980}
        if rules.get("kind", "discount") != "discount":
            values.pop("discount_permille")
        values.update(rules)
        perk = Perk(partner_id=self.partner_id, **values)
        db.session.add(perk)
        db.session.commit()
        return perk.id

    def holder(self, kind: str = "person", tier_level: int = 2, **standing) -> int:
        subject = CreditSubject(kind=kind, identity_hash=secrets.token_hex(32), tier_level=tier_level, **standing)
        db.session.add(subject)
        db.session.commit()
        self.subject_ids.append(subject.id)
        return subject.id

    def pass_for(self, subject_id: int, *, at: datetime | None = None) -> str:
        subject = db.session.get(CreditSubject, subject_id)
        now = int((at or utc()).timestamp())
        return pass_service.issue(ctx=key_context(), holder_id=subject.id, holder_kind=subject.kind,
                                  tier_level=max(subject.tier_level, 1), now=now).token

    def request(self, token: str, perk_id: int, **fields) -> service.RedeemRequest:
        values = {"token": token, "perk_id": perk_id, "client_id": str(uuid.uuid4()), "scanned_at": utc(),
                  "amount_fen": 10000, "partner_id": self.partner_id, "staff_id": self.cashier.id}
        values.update(fields)
        return service.RedeemRequest(**values)

    def redeem(self, token: str, perk_id: int, *, window_hours: int = 24, now=None, **fields):
        return service.redeem(ctx=key_context(), request=self.request(token, perk_id, **fields),
                              offline_window_hours=window_hours, now=now)

    def header(self, *, role: str = "cashier", device: int | None = None) -> dict:
        if device is not None:
            principal = Principal(kind="device", id=self.devices[device].id, role="device", partner_id=self.partner_id)
        else:
            principal = Principal(kind="staff", id=self.cashier.id, role=role, partner_id=self.partner_id)
        token = issue_access_token(secret=self.app.config["SECRET_KEY"], principal=principal, minutes=30)
        return {"Authorization": f"Bearer {token}"}

    def blackout(self, calendar: str, day, *, kind: str = "holiday") -> None:
        db.session.add(HolidayCalendarDay(calendar=calendar, day=day, name="测试假日", kind=kind))
        db.session.commit()
        self.calendars.append(calendar)

    def remove(self) -> None:
        clear_mutable_tables()
        db.session.execute(delete(Perk).where(Perk.partner_id == self.partner_id))
        db.session.execute(delete(Device).where(Device.partner_id == self.partner_id))
        db.session.execute(delete(MerchantStaff).where(MerchantStaff.partner_id == self.partner_id))
        db.session.execute(delete(Partner).where(Partner.id == self.partner_id))
        if self.subject_ids:
            db.session.execute(delete(CreditSubject).where(CreditSubject.id.in_(self.subject_ids)))
        if self.calendars:
            db.session.execute(delete(HolidayCalendarDay).where(HolidayCalendarDay.calendar.in_(self.calendars)))
        for key in db.session.scalars(select(PassKey)):
            key.not_before = self.key_dates.get(key.id, key.not_before)
        db.session.commit()


@pytest.fixture
def shop(app):
    with app.app_context():
        made = Shop(app)
        yield made
        made.remove()
