"""Senders of SMS messages (sign-in codes). Pluggable: `app.extensions["sms_sender"]` is any object with
`send(phone, text, *, template, params)`; `SMS_PROVIDER` chooses which one the app makes.

`text` is the whole message, for a sender that sends free text (and for the log); a provider that
sends only approved templates (Tencent Cloud) sends `template`'s template with `params` instead, and
the approved template reads as `text` does.

The demo and the tests use `LogSender`, which writes the message to the log; it refuses to run
outside demo mode or tests, so a production deployment without a real gateway fails loudly rather
than logging codes. `TencentSms` speaks Tencent Cloud SMS API 3.0 (SendSms, signed TC3-HMAC-SHA256).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from datetime import datetime, timedelta, timezone
from typing import Callable, Sequence

import requests
from flask import current_app

from ..errors import DomainError, ErrorCode
from ..timeutil import SHANGHAI

log = logging.getLogger(__name__)

SIGN_IN_CODE = "sign_in_code"  # {1} the code, {2} its minutes
OBJECTION_STATUS = "objection_status"  # {1} what was filed (异议/投诉), {2} its number, {3} its new status


class LogSender:
    def send(self, phone: str, text: str, *, template: str = SIGN_IN_CODE, params: Sequence[str] = ()) -> None:
        if not (current_app.config.get("DEMO") or current_app.config.get("TESTING")):
            log.error("no SMS gateway configured: refusing to send sign-in codes")
            raise DomainError(ErrorCode.SMS_UNAVAILABLE)
        log.info("演示短信 → %s：%s", phone, text)


# -- Tencent Cloud SMS, API 3.0 -----------------------------------------------------------------

def tc3_headers(*, secret_id: str, secret_key: str, host: str, service: str, action: str, version: str,
                region: str, payload: bytes, timestamp: int) -> dict[str, str]:
    """The headers of a signed POST / with a JSON `payload` (TC3-HMAC-SHA256, Tencent Cloud API 3.0).

        CanonicalRequest = "POST\\n/\\n\\n" + CanonicalHeaders + "\\n" + SignedHeaders + "\\n" + hex(SHA256(payload))
          CanonicalHeaders = "content-type:application/json; charset=utf-8\\nhost:<host>\\nx-tc-action:<action lower>\\n"
          SignedHeaders    = "content-type;host;x-tc-action"
        StringToSign = "TC3-HMAC-SHA256\\n" + timestamp + "\\n" + CredentialScope + "\\n" + hex(SHA256(CanonicalRequest))
          CredentialScope = <UTC date of timestamp, YYYY-MM-DD> + "/" + service + "/tc3_request"
        SecretSigning = HMAC(HMAC(HMAC("TC3" + SecretKey, date), service), "tc3_request")
        Signature = hex(HMAC(SecretSigning, StringToSign))
        Authorization: TC3-HMAC-SHA256 Credential=<SecretId>/<CredentialScope>, SignedHeaders=…, Signature=…
    """
    content_type = "application/json; charset=utf-8"
    date = datetime.fromtimestamp(timestamp, timezone.utc).strftime("%Y-%m-%d")
    signed_headers = "content-type;host;x-tc-action"
    canonical_headers = f"content-type:{content_type}\nhost:{host}\nx-tc-action:{action.lower()}\n"
    canonical_request = "\n".join(["POST", "/", "", canonical_headers, signed_headers,
                                   hashlib.sha256(payload).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", str(timestamp), scope,
                                hashlib.sha256(canonical_request.encode()).hexdigest()])

    def _hmac(key: bytes, message: str) -> bytes:
        return hmac.new(key, message.encode(), hashlib.sha256).digest()

    signing_key = _hmac(_hmac(_hmac(("TC3" + secret_key).encode(), date), service), "tc3_request")
    signature = hmac.new(signing_key, string_to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Authorization": f"TC3-HMAC-SHA256 Credential={secret_id}/{scope}, SignedHeaders={signed_headers}, "
                         f"Signature={signature}",
        "Content-Type": content_type, "Host": host, "X-TC-Action": action, "X-TC-Timestamp": str(timestamp),
        "X-TC-Version": version, "X-TC-Region": region,
    }


def _until_local_midnight(now: float) -> int:
    local = datetime.fromtimestamp(now, SHANGHAI)
    midnight = datetime.combine(local.date() + timedelta(days=1), datetime.min.time(), SHANGHAI)
    return max(1, int((midnight - local).total_seconds()))


# Tencent's codes (SendSms's error list) that are about this phone, as ours: (message, wait in seconds
# or a function of the time). Every other code is ours `sms_unavailable` (our account, signature,
# template, balance or Tencent itself), logged as an error for the operators.
_PHONE_LIMITS: dict[str, tuple[str, Callable[[float], int]]] = {
    "LimitExceeded.PhoneNumberThirtySecondLimit": ("操作过于频繁，请 30 秒后再试", lambda now: 30),
    "LimitExceeded.PhoneNumberOneHourLimit": ("该手机号一小时内接收短信过多，请一小时后再试", lambda now: 3600),
    "LimitExceeded.PhoneNumberDailyLimit": ("该手机号今天接收短信已达上限，请明天再试", _until_local_midnight),
    "LimitExceeded.PhoneNumberSameContentDailyLimit": ("该手机号今天接收短信已达上限，请明天再试", _until_local_midnight),
}
_PHONE_REFUSED = {"FailedOperation.PhoneNumberInBlacklist", "FailedOperation.PhoneNumberOnBlacklist",
                  "InvalidParameterValue.IncorrectPhoneNumber", "FailedOperation.PhoneNumberParseFail"}


class TencentSms:
    """Tencent Cloud SMS: `SendSms` (version 2021-01-11) to one mainland number, one approved template."""

    SERVICE = "sms"
    ACTION = "SendSms"
    VERSION = "2021-01-11"

    def __init__(self, *, endpoint: str, region: str, secret_id: str, secret_key: str, sdk_app_id: str,
                 sign_name: str, templates: dict[str, str], timeout: tuple[float, float],
                 clock: Callable[[], float] = time.time):
        self.endpoint = endpoint.rstrip("/") + "/"
        self.host = self.endpoint.split("://", 1)[1].split("/", 1)[0]
        self.region, self.secret_id, self.secret_key = region, secret_id, secret_key
        self.sdk_app_id, self.sign_name, self.templates = sdk_app_id, sign_name, templates
        self.timeout, self.clock = timeout, clock

    @classmethod
    def from_config(cls, config) -> "TencentSms":
        return cls(endpoint=config["TENCENT_SMS_ENDPOINT"], region=config["TENCENT_SMS_REGION"],
                   secret_id=config["TENCENT_SMS_SECRET_ID"], secret_key=config["TENCENT_SMS_SECRET_KEY"],
                   sdk_app_id=config["TENCENT_SMS_SDK_APP_ID"], sign_name=config["TENCENT_SMS_SIGN_NAME"],
                   templates={SIGN_IN_CODE: config["TENCENT_SMS_TEMPLATE_ID"],
                              OBJECTION_STATUS: config["TENCENT_SMS_OBJECTION_TEMPLATE_ID"]}, timeout=config["TENCENT_SMS_TIMEOUT"])

    def send(self, phone: str, text: str, *, template: str = SIGN_IN_CODE, params: Sequence[str] = ()) -> None:
        template_id = self.templates.get(template)
        if not template_id:
            log.error("no Tencent SMS template for %r", template)
            raise DomainError(ErrorCode.SMS_UNAVAILABLE)
        payload = json.dumps({"PhoneNumberSet": [f"+86{phone}"], "SmsSdkAppId": self.sdk_app_id,
                              "SignName": self.sign_name, "TemplateId": template_id,
                              "TemplateParamSet": [str(p) for p in params]},
                             ensure_ascii=False, separators=(",", ":")).encode()
        now = self.clock()
        headers = tc3_headers(secret_id=self.secret_id, secret_key=self.secret_key, host=self.host,
                              service=self.SERVICE, action=self.ACTION, version=self.VERSION, region=self.region,
                              payload=payload, timestamp=int(now))
        try:
            response = requests.post(self.endpoint, data=payload, headers=headers, timeout=self.timeout,
                                     allow_redirects=False)
            answer = response.json().get("Response")
        except (requests.RequestException, ValueError, AttributeError) as error:
            log.warning("Tencent SendSms failed: %s", type(error).__name__)
            raise DomainError(ErrorCode.SMS_UNAVAILABLE) from None
        if response.status_code != 200 or not isinstance(answer, dict):
            log.warning("Tencent SendSms answered HTTP %s", response.status_code)
            raise DomainError(ErrorCode.SMS_UNAVAILABLE)
        request_id = str(answer.get("RequestId", ""))[:64]
        error = answer.get("Error")
        if isinstance(error, dict):  # the whole request refused
            self._refused(str(error.get("Code", "")), str(error.get("Message", "")), request_id, now)
        statuses = answer.get("SendStatusSet")
        if not isinstance(statuses, list) or len(statuses) != 1 or not isinstance(statuses[0], dict):
            log.warning("Tencent SendSms answered no status (request %s)", request_id)
            raise DomainError(ErrorCode.SMS_UNAVAILABLE)
        status = statuses[0]
        if status.get("Code") != "Ok":  # this number refused
            self._refused(str(status.get("Code", "")), str(status.get("Message", "")), request_id, now)
        log.info("SMS sent through Tencent (request %s, serial %s)", request_id, str(status.get("SerialNo", ""))[:64])

    @staticmethod
    def _refused(code: str, message: str, request_id: str, now: float):
        if code in _PHONE_LIMITS:
            text, wait = _PHONE_LIMITS[code]
            log.info("Tencent SendSms: %s (request %s)", code, request_id)
            raise DomainError(ErrorCode.RATE_LIMITED, text, retry_after=wait(now))
        if code in _PHONE_REFUSED:
            log.info("Tencent SendSms: %s (request %s)", code, request_id)
            raise DomainError(ErrorCode.SMS_PHONE_REFUSED)
        level = logging.WARNING if code.startswith("InternalError") else logging.ERROR
        log.log(level, "Tencent SendSms refused: %s %s (request %s)", code, message[:200], request_id)
        raise DomainError(ErrorCode.SMS_UNAVAILABLE)


def sender():
    """The app's sender: one set in app.extensions (the tests' outboxes), else the one SMS_PROVIDER names."""
    existing = current_app.extensions.get("sms_sender")
    if existing is not None:
        return existing
    config = current_app.config
    made = TencentSms.from_config(config) if config.get("SMS_PROVIDER") == "tencent" else LogSender()
    return current_app.extensions.setdefault("sms_sender", made)
