"""Fixtures of the auth tests: a fake WeChat, an SMS outbox, fresh accounts, clean rate limits."""
from __future__ import annotations

import itertools
import re
from datetime import date, timedelta

import pytest
import redis
from sqlalchemy import select

from backend.auth.models import CitizenAccount, MerchantStaff
from backend.auth.privacy import NOTICE_VERSION
from backend.auth.service import Principal, issue_access_token
from backend.credit.identifiers import identity_hash
from backend.auth.staff import hash_password
from backend.credit.identifiers import id_number_check_char
from backend.credit.models import CreditSubject
from backend.extensions import db, limiter

from .fake_wechat import APPID, OA_APPID, OA_SECRET, SECRET, FakeWeChat

_phones = itertools.count(1)


@pytest.fixture(autouse=True)
def _fresh_rate_limits(request, redis_url, redis_prefix):
    """Each test starts with untouched limits (the session's app keeps its counters in Redis)."""
    if "app" in request.fixturenames:
        application = request.getfixturevalue("app")
        limiter.init_app(application)  # another test's make_app() may have rebound the shared limiter
    yield
    client = redis.Redis.from_url(redis_url)
    for key in client.scan_iter(match=f"*{redis_prefix}rl*", count=1000):
        client.delete(key)


@pytest.fixture
def wechat(app):
    with FakeWeChat() as fake:
        saved = {k: app.config.get(k) for k in ("WECHAT_API_BASE", "WECHAT_APPID", "WECHAT_SECRET", "WECHAT_TIMEOUT",
                                                "WECHAT_OPEN_BASE", "WECHAT_OA_APPID", "WECHAT_OA_SECRET")}
        app.config.update(WECHAT_API_BASE=fake.base_url, WECHAT_APPID=APPID, WECHAT_SECRET=SECRET,
                          WECHAT_TIMEOUT=(1.0, 1.0), WECHAT_OPEN_BASE=fake.base_url, WECHAT_OA_APPID=OA_APPID,
                          WECHAT_OA_SECRET=OA_SECRET)
        yield fake
        app.config.update(saved)


class Outbox:
    def __init__(self):
        self.messages: list[tuple[str, str]] = []

    def send(self, phone: str, text: str, **_template) -> None:
        self.messages.append((phone, text))

    def last_code(self, phone: str) -> str:
        text = next(text for to, text in reversed(self.messages) if to == phone)
        return re.search(r"\d{6}", text).group()


@pytest.fixture
def outbox(app):
    box = Outbox()
    saved = app.extensions.get("sms_sender")
    app.extensions["sms_sender"] = box
    yield box
    if saved is None:
        app.extensions.pop("sms_sender", None)
    else:
        app.extensions["sms_sender"] = saved


@pytest.fixture
def fresh_phone():
    """fresh_phone() -> a mobile number no other test of this session uses."""
    return lambda: f"139{next(_phones):08d}"


def bearer(app, principal: Principal, minutes: int = 15) -> dict:
    with app.app_context():
        token = issue_access_token(secret=app.config["SECRET_KEY"], principal=principal, minutes=minutes)
    return {"Authorization": f"Bearer {token}"}


@pytest.fixture
def new_citizen(app):
    """new_citizen() -> (account_id, headers) of a brand-new, unbound citizen account (that agreed to
    the privacy notice: tests/auth/test_privacy.py covers one that has not)."""
    def _make():
        with app.app_context():
            account = CitizenAccount(phone=f"137{next(_phones):08d}", privacy_version=NOTICE_VERSION)
            db.session.add(account)
            db.session.commit()
            return account.id, bearer(app, Principal(kind="citizen", id=account.id, role="citizen"))
    return _make


@pytest.fixture
def new_staff(app):
    """new_staff(partner_name, role, password) -> MerchantStaff id (committed)."""
    from backend.merchants.models import Partner

    def _make(partner_name: str = "辣盆盆小龙虾饭店", role: str = "cashier", password: str = "correct horse battery"):
        with app.app_context():
            partner = db.session.scalar(select(Partner).where(Partner.name == partner_name))
            staff = MerchantStaff(partner_id=partner.id, username=f"staff-{next(_phones)}",
                                  password_hash=hash_password(password), role=role)
            db.session.add(staff)
            db.session.commit()
            return staff.id, staff.username, partner.id
    return _make


@pytest.fixture
def new_person(app):
    """new_person(**standing) -> ID number of a new credit subject (a person) known to the platform."""
    def _make(**standing):
        with app.app_context():
            # a different birth date per call keeps numbers unique within the session
            birth = date(1960, 1, 1) + timedelta(days=next(_phones))
            first17 = f"110101{birth:%Y%m%d}123"
            number = first17 + id_number_check_char(first17)
            db.session.add(CreditSubject(kind="person", tier_level=2, score=1120,
                                         identity_hash=identity_hash(pepper=app.config["IDENTITY_PEPPER"],
                                                                     identifier=number), **standing))
            db.session.commit()
            return number
    return _make


@pytest.fixture
def tencent_sms(app):
    """The app sends its SMS through Tencent Cloud's API (SMS_PROVIDER=tencent) to a local FakeTencentSms."""
    from .fake_tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, SIGN_NAME, TEMPLATE_ID, FakeTencentSms
    with FakeTencentSms() as fake:
        names = ("SMS_PROVIDER", "TENCENT_SMS_ENDPOINT", "TENCENT_SMS_SECRET_ID", "TENCENT_SMS_SECRET_KEY",
                 "TENCENT_SMS_SDK_APP_ID", "TENCENT_SMS_SIGN_NAME", "TENCENT_SMS_TEMPLATE_ID", "TENCENT_SMS_TIMEOUT")
        saved = {name: app.config.get(name) for name in names}
        saved_sender = app.extensions.pop("sms_sender", None)
        app.config.update(SMS_PROVIDER="tencent", TENCENT_SMS_ENDPOINT=fake.endpoint, TENCENT_SMS_SECRET_ID=SECRET_ID,
                          TENCENT_SMS_SECRET_KEY=SECRET_KEY, TENCENT_SMS_SDK_APP_ID=SDK_APP_ID,
                          TENCENT_SMS_SIGN_NAME=SIGN_NAME, TENCENT_SMS_TEMPLATE_ID=TEMPLATE_ID,
                          TENCENT_SMS_TIMEOUT=(1.0, 2.0))
        yield fake
        app.extensions.pop("sms_sender", None)
        if saved_sender is not None:
            app.extensions["sms_sender"] = saved_sender
        app.config.update(saved)
