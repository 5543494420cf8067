"""SMS through Tencent Cloud SMS (API 3.0 SendSms, TC3-HMAC-SHA256) against a local server that checks
the signature on its own and answers Tencent's error codes; and 429s that say how long to wait."""
from __future__ import annotations

import json
import logging
import time
from datetime import datetime, timedelta

import pytest
import requests
from sqlalchemy import select

from backend.auth.models import SmsCode
from backend.auth.sms import TencentSms, tc3_headers
from backend.config import ConfigError, check_production
from backend.extensions import db
from backend.timeutil import SHANGHAI

from .fake_tencent_sms import SDK_APP_ID, SECRET_ID, SECRET_KEY, SIGN_NAME, TEMPLATE_ID


def send(client, phone: str):
    return client.post("/api/auth/sms/send", json={"phone": phone})


def test_a_code_sent_through_tencent_signs_in(client, tencent_sms, fresh_phone):
    phone = fresh_phone()
    assert send(client, phone).status_code == 202
    to, template, params = tencent_sms.sent[-1]
    assert (to, template) == (phone, TEMPLATE_ID) and params[1] == "5" and len(params[0]) == 6
    login = client.post("/api/auth/sms/login", json={"phone": phone, "code": tencent_sms.code_sent_to(phone)})
    assert login.status_code == 200 and tencent_sms.refusals == []


def _sender(fake, **changes) -> TencentSms:
    settings = dict(endpoint=fake.endpoint, region="ap-guangzhou", secret_id=SECRET_ID, secret_key=SECRET_KEY,
                    sdk_app_id=SDK_APP_ID, sign_name=SIGN_NAME, templates={"sign_in_code": TEMPLATE_ID},
                    timeout=(1.0, 2.0))
    return TencentSms(**{**settings, **changes})


@pytest.mark.parametrize(("changes", "tencent_code"), [
    ({"secret_key": "not-the-key"}, "AuthFailure.SignatureFailure"),
    ({"secret_id": "AKIDsomeoneelse"}, "AuthFailure.SecretIdNotFound"),
    ({"clock": lambda: time.time() - 600}, "AuthFailure.SignatureExpire"),
    ({"sdk_app_id": "1400999999"}, "UnauthorizedOperation.SmsSdkAppIdVerifyFail"),
    ({"sign_name": "别的签名"}, "FailedOperation.SignatureIncorrectOrUnapproved"),
    ({"templates": {"sign_in_code": "7654321"}}, "FailedOperation.TemplateIncorrectOrUnapproved"),
])
def test_what_tencent_refuses_for_our_account_is_unavailable_and_logged(app, tencent_sms, changes, tencent_code, caplog):
    with app.test_request_context(), caplog.at_level(logging.INFO, logger="backend.auth.sms"):
        with pytest.raises(Exception) as refused:
            _sender(tencent_sms, **changes).send("13900000001", "验证码", params=("123456", "5"))
    assert refused.value.code == "sms_unavailable"
    assert tencent_sms.refusals == [tencent_code]
    assert tencent_code in caplog.text and SECRET_KEY not in caplog.text
    assert [r.levelname for r in caplog.records if tencent_code in r.getMessage()] == ["ERROR"]


def test_the_fake_checks_the_signature_over_the_body_that_arrives(tencent_sms):
    """A request signed for one body and sent with another is refused: the server really checks."""
    signed_for = json.dumps({"PhoneNumberSet": ["+8613900000001"]}).encode()
    host = tencent_sms.endpoint.split("://")[1]
    headers = tc3_headers(secret_id=SECRET_ID, secret_key=SECRET_KEY, host=host, service="sms", action="SendSms",
                          version="2021-01-11", region="ap-guangzhou", payload=signed_for, timestamp=int(time.time()))
    sent = json.dumps({"PhoneNumberSet": ["+8613900000002"]}).encode()
    answer = requests.post(tencent_sms.endpoint + "/", data=sent, headers=headers, timeout=5).json()["Response"]
    assert answer["Error"]["Code"] == "AuthFailure.SignatureFailure"
    answer = requests.post(tencent_sms.endpoint + "/", data=signed_for, headers=headers, timeout=5).json()["Response"]
    assert answer["Error"]["Code"] == "UnauthorizedOperation.SmsSdkAppIdVerifyFail"  # signature fine, body not


def _seconds_to_midnight_in_china() -> int:
    now = datetime.now(SHANGHAI)
    return int((datetime.combine(now.date() + timedelta(days=1), datetime.min.time(), SHANGHAI) - now).total_seconds())


def test_a_phones_daily_limit_says_to_come_back_tomorrow_with_the_wait(app, client, tencent_sms, fresh_phone):
    phone = fresh_phone()
    tencent_sms.phone_codes[phone] = "LimitExceeded.PhoneNumberDailyLimit"
    response = send(client, phone)
    assert (response.status_code, response.json["code"]) == (429, "rate_limited")
    assert response.json["message"] == "该手机号今天接收短信已达上限，请明天再试"
    assert abs(response.json["retry_after"] - _seconds_to_midnight_in_china()) <= 5
    # Flask-Limiter rewrites the header from the same instant, in whole seconds rounded down.
    assert abs(int(response.headers["Retry-After"]) - response.json["retry_after"]) <= 1
    with app.app_context():  # no code was kept for a message that never left
        assert db.session.scalars(select(SmsCode).where(SmsCode.phone == phone)).all() == []


@pytest.mark.parametrize(("tencent_code", "status", "code", "wait"), [
    ("LimitExceeded.PhoneNumberThirtySecondLimit", 429, "rate_limited", 30),
    ("LimitExceeded.PhoneNumberOneHourLimit", 429, "rate_limited", 3600),
    ("FailedOperation.PhoneNumberInBlacklist", 422, "sms_phone_refused", None),
    ("InvalidParameterValue.IncorrectPhoneNumber", 422, "sms_phone_refused", None),
])
def test_tencents_answers_about_one_number_map_to_ours(client, tencent_sms, fresh_phone, tencent_code, status, code, wait):
    phone = fresh_phone()
    tencent_sms.phone_codes[phone] = tencent_code
    response = send(client, phone)
    assert (response.status_code, response.json["code"]) == (status, code)
    assert response.json.get("retry_after") == wait
    assert any("\u4e00" <= ch <= "\u9fff" for ch in response.json["message"])


@pytest.mark.parametrize("tencent_code", ["InternalError.Timeout", "FailedOperation.InsufficientBalanceInSmsPackage",
                                          "LimitExceeded.AppDailyLimit"])
def test_tencents_own_troubles_are_unavailable(client, tencent_sms, fresh_phone, tencent_code):
    tencent_sms.request_error = tencent_code
    response = send(client, fresh_phone())
    assert (response.status_code, response.json["code"]) == (503, "sms_unavailable")


def test_an_unreachable_tencent_is_unavailable(app, client, tencent_sms, fresh_phone, monkeypatch):
    monkeypatch.setitem(app.config, "TENCENT_SMS_ENDPOINT", "http://127.0.0.1:1")
    app.extensions.pop("sms_sender", None)
    assert send(client, fresh_phone()).json["code"] == "sms_unavailable"


def test_our_own_limit_says_how_long_to_wait(client, outbox, fresh_phone):
    phone = fresh_phone()
    assert send(client, phone).status_code == 202
    again = send(client, phone)
    assert (again.status_code, again.json["code"]) == (429, "rate_limited")
    wait = again.json["retry_after"]
    assert 1 <= wait <= 61 and again.json["message"]  # the limiter keeps whole seconds: up to 61
    assert again.json["message"] == f"操作过于频繁，请 {wait} 秒后再试"
    assert abs(int(again.headers["Retry-After"]) - wait) <= 1


def test_tencent_is_chosen_by_settings_and_refused_without_its_account(app):
    base = {"SECRET_KEY": "s" * 40, "PASS_KEY_SECRET": "p" * 40, "IDENTITY_PEPPER": "i" * 40}
    check_production({**base, "SMS_PROVIDER": "log"})
    with pytest.raises(ConfigError, match="TENCENT_SMS_SECRET_KEY"):
        check_production({**base, "SMS_PROVIDER": "tencent", "TENCENT_SMS_SECRET_ID": "x"})
    with pytest.raises(ConfigError, match="SMS_PROVIDER"):
        check_production({**base, "SMS_PROVIDER": "aliyun"})
