"""Phone sign-in: random six-digit codes, stored keyed-hashed, five minutes, five attempts, rate-limited."""
from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
import redis
from sqlalchemy import select

from backend.auth.models import CitizenAccount, SmsCode
from backend.extensions import db


def test_send_then_login_creates_the_account_once(app, client, outbox, fresh_phone):
    phone = fresh_phone()
    sent = client.post("/api/auth/sms/send", json={"phone": phone})
    assert sent.status_code == 202 and sent.json == {"sent": True, "expires_in": 300}
    code = outbox.last_code(phone)
    assert client.post("/api/auth/sms/login", json={"phone": phone, "code": code}).status_code == 200
    client.post("/api/auth/sms/send", json={"phone": phone})
    app.config["RATELIMIT_SMS_PER_PHONE"] = "10/minute"
    try:
        client.post("/api/auth/sms/send", json={"phone": phone})
        assert client.post("/api/auth/sms/login", json={"phone": phone, "code": outbox.last_code(phone)}).status_code == 200
    finally:
        del app.config["RATELIMIT_SMS_PER_PHONE"]
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(CitizenAccount)
                                 .where(CitizenAccount.phone == phone)) == 1


def test_codes_are_random_and_stored_only_as_keyed_hashes(app, client, outbox, fresh_phone):
    phones = [fresh_phone() for _ in range(6)]
    for phone in phones:
        client.post("/api/auth/sms/send", json={"phone": phone})
    codes = {outbox.last_code(p) for p in phones}
    assert len(codes) >= 5
    with app.app_context():
        stored = list(db.session.scalars(select(SmsCode.code_hash)))
    assert all(len(h) == 64 and not any(c in h for c in codes) for h in stored)


def test_a_code_works_once(client, outbox, fresh_phone):
    phone = fresh_phone()
    client.post("/api/auth/sms/send", json={"phone": phone})
    code = outbox.last_code(phone)
    assert client.post("/api/auth/sms/login", json={"phone": phone, "code": code}).status_code == 200
    again = client.post("/api/auth/sms/login", json={"phone": phone, "code": code})
    assert again.status_code == 401 and again.json["code"] == "sms_code_invalid"


def test_five_wrong_guesses_burn_the_code(client, outbox, fresh_phone):
    phone = fresh_phone()
    client.post("/api/auth/sms/send", json={"phone": phone})
    code = outbox.last_code(phone)
    wrong = f"{(int(code) + 1) % 1_000_000:06d}"
    for _ in range(5):
        response = client.post("/api/auth/sms/login", json={"phone": phone, "code": wrong})
        assert response.status_code == 401 and response.json["code"] == "sms_code_invalid"
    late = client.post("/api/auth/sms/login", json={"phone": phone, "code": code})
    assert late.status_code == 401 and late.json["code"] == "sms_code_invalid"


def test_codes_expire_after_five_minutes(app, client, outbox, fresh_phone):
    phone = fresh_phone()
    client.post("/api/auth/sms/send", json={"phone": phone})
    with app.app_context():
        db.session.execute(db.update(SmsCode).where(SmsCode.phone == phone)
                           .values(expires_at=datetime.now(timezone.utc) - timedelta(seconds=1)))
        db.session.commit()
    response = client.post("/api/auth/sms/login", json={"phone": phone, "code": outbox.last_code(phone)})
    assert response.status_code == 401 and response.json["code"] == "sms_code_invalid"


def test_a_new_code_replaces_the_old_one(app, client, outbox, fresh_phone):
    app.config["RATELIMIT_SMS_PER_PHONE"] = "10/minute"
    try:
        phone = fresh_phone()
        client.post("/api/auth/sms/send", json={"phone": phone})
        old = outbox.last_code(phone)
        client.post("/api/auth/sms/send", json={"phone": phone})
        new = outbox.last_code(phone)
        if old != new:
            assert client.post("/api/auth/sms/login", json={"phone": phone, "code": old}).status_code == 401
        assert client.post("/api/auth/sms/login", json={"phone": phone, "code": new}).status_code == 200
    finally:
        del app.config["RATELIMIT_SMS_PER_PHONE"]


def test_sending_is_rate_limited_per_phone(client, outbox, fresh_phone):
    phone = fresh_phone()
    assert client.post("/api/auth/sms/send", json={"phone": phone}).status_code == 202
    refused = client.post("/api/auth/sms/send", json={"phone": phone})
    assert refused.status_code == 429 and refused.json["code"] == "rate_limited"
    assert refused.mimetype == "application/problem+json"
    assert client.post("/api/auth/sms/send", json={"phone": fresh_phone()}).status_code == 202
    assert len(outbox.messages) == 2


def test_bad_phone_numbers_are_refused(client, outbox):
    for phone in ("12345", "23800000001", "1380000000a", ""):
        response = client.post("/api/auth/sms/send", json={"phone": phone})
        assert response.status_code == 422, phone
    assert outbox.messages == []


def written_as_people_type_it(phone: str) -> list[str]:
    """The same mobile number as people and careless clients write it."""
    full_width = phone.translate(str.maketrans("0123456789", "０１２３４５６７８９"))
    return [f"{phone[:3]}-{phone[3:]}", f"{phone[:3]} {phone[3:7]} {phone[7:]}", f"+86{phone}", f"+86 {phone}",
            f"0086{phone}", f"86-{phone[:3]}-{phone[3:7]}-{phone[7:]}", full_width, f"＋８６　{full_width}",
            f" ({phone[:3]}) {phone[3:7]}–{phone[7:]} "]


def test_one_phone_however_written_is_one_counter_and_gets_one_code_a_minute(app, client, outbox, fresh_phone):
    phone = fresh_phone()
    assert client.post("/api/auth/sms/send", json={"phone": phone}).status_code == 202
    for written in written_as_people_type_it(phone):
        refused = client.post("/api/auth/sms/send", json={"phone": written})
        assert (refused.status_code, refused.json["code"]) == (429, "rate_limited"), written
    assert [to for to, _ in outbox.messages] == [phone]
    with app.app_context():
        assert db.session.scalar(select(db.func.count()).select_from(SmsCode).where(SmsCode.phone == phone)) == 1


def test_a_reformatted_phone_signs_in_to_the_same_account_and_is_stored_in_one_form(app, client, outbox,
                                                                                     fresh_phone):
    phone = fresh_phone()
    app.config["RATELIMIT_SMS_PER_PHONE"] = "20/minute"
    try:
        for written in [phone, *written_as_people_type_it(phone)]:
            assert client.post("/api/auth/sms/send", json={"phone": written}).status_code == 202, written
            signed_in = client.post("/api/auth/sms/login", json={"phone": written, "code": outbox.last_code(phone)})
            assert signed_in.status_code == 200, (written, signed_in.json)
    finally:
        del app.config["RATELIMIT_SMS_PER_PHONE"]
    assert {to for to, _ in outbox.messages} == {phone}
    with app.app_context():
        assert list(db.session.scalars(select(CitizenAccount.phone).where(CitizenAccount.phone.contains(phone[-4:]))
                                       .where(CitizenAccount.phone.contains(phone[3:7])))) == [phone]


def test_sign_in_attempts_of_one_phone_share_one_counter_however_written(app, client, outbox, fresh_phone):
    phone = fresh_phone()
    client.post("/api/auth/sms/send", json={"phone": phone})
    app.config["RATELIMIT_SMS_LOGIN_PER_PHONE"] = "3/hour"
    try:
        answers = [client.post("/api/auth/sms/login", json={"phone": written, "code": "000000"}).status_code
                   for written in written_as_people_type_it(phone)[:5]]
    finally:
        del app.config["RATELIMIT_SMS_LOGIN_PER_PHONE"]
    assert answers == [401, 401, 401, 429, 429]


def test_full_width_and_other_digits_are_not_a_second_phone(client, outbox):
    for phone in ("１３８０００００００１",):  # the demo citizen's phone, in full-width digits
        assert client.post("/api/auth/sms/send", json={"phone": phone}).status_code == 202
    assert [to for to, _ in outbox.messages] == ["13800000001"]
    for phone in ("١٣٨٠٠٠٠٠٠٠١", "138 0000 000１a"):  # Arabic-Indic digits are no Chinese mobile number
        assert client.post("/api/auth/sms/send", json={"phone": phone}).status_code == 422, phone


def test_the_demo_sender_logs_the_code_and_production_refuses(app, make_app, caplog, fresh_phone):
    phone = fresh_phone()
    # Alembic's fileConfig (the session's `flask db upgrade`) disables loggers that existed before it.
    logging.getLogger("backend.auth.sms").disabled = False
    with caplog.at_level("INFO"):
        assert app.test_client().post("/api/auth/sms/send", json={"phone": phone}).status_code == 202
    assert any(phone in r.getMessage() and "验证码" in r.getMessage() for r in caplog.records), \
        [r.getMessage() for r in caplog.records]
    production = make_app(DEMO=False, TESTING=False, SECRET_KEY="prod-secret-0123456789abcdef0123",
                          PASS_KEY_SECRET="prod-pass-secret", IDENTITY_PEPPER="prod-pepper")
    response = production.test_client().post("/api/auth/sms/send", json={"phone": fresh_phone()})
    assert response.status_code == 503 and response.json["code"] == "sms_unavailable"



def test_each_app_counts_its_limits_under_its_own_redis_prefix(app, make_app, redis_url, redis_prefix, fresh_phone):
    """Flask-Limiter's extension is one per process and used to keep the first app's key prefix, so a
    later app (another test module's, another worker's set-up) counted under the first one's keys:
    tests/auth/test_sms.py got 429 when it ran after tests/pass/test_keys.py."""
    other = make_app(REDIS_PREFIX=f"{redis_prefix}other:")
    assert other.test_client().post("/api/auth/sms/send", json={"phone": fresh_phone()}).status_code == 202
    assert list(redis.Redis.from_url(redis_url).scan_iter(match=f"{redis_prefix}other:rl*"))


# Run in a child process: Flask-Limiter's extension object is one per process and keeps the first
# app's fallback state, so only a fresh process shows what a gunicorn worker does with Redis down.
_SEND_TWICE = """
import json, sys
from backend import create_app
from tests.helpers import test_config
url, prefix, phone, fallback = sys.argv[1], sys.argv[2], sys.argv[3], sys.argv[4] == "1"
app = create_app({**test_config(url, "redis://127.0.0.1:1/0", prefix),
                  "RATELIMIT_STORAGE_URI": "redis://127.0.0.1:1/0", "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": fallback})
client = app.test_client()
print(json.dumps([client.post("/api/auth/sms/send", json={"phone": phone}).status_code for _ in range(2)]))
"""


@pytest.mark.slow
@pytest.mark.parametrize("fallback, expected", [(True, [202, 429]), (False, [202, 202])])
def test_rate_limits_still_hold_in_memory_while_redis_is_down(app, database_url, redis_prefix, fresh_phone,
                                                              fallback, expected):
    """With Redis unreachable the routes' own limits apply per process (the factory's setting);
    without that setting they would silently lapse, which the second case shows."""
    result = subprocess.run(
        [sys.executable, "-c", _SEND_TWICE, database_url, redis_prefix, fresh_phone(), "1" if fallback else "0"],
        capture_output=True, text=True, timeout=60, cwd=Path(__file__).resolve().parents[2],
        env={**os.environ, "PYTHONPATH": str(Path(__file__).resolve().parents[2]), "PYTHONWARNINGS": "ignore"},
    )
    assert result.returncode == 0, result.stderr[-2000:]
    assert json.loads(result.stdout.strip().splitlines()[-1]) == expected
