"""Senders of SMS sign-in codes. Pluggable: `app.extensions["sms_sender"]` is any object with `send(phone, text)`.

The demo and the tests use `LogSender`, which writes the code to the log; it refuses to run outside
demo mode or tests, so a production deployment without a real gateway fails loudly rather than
logging codes. A real gateway (Aliyun, Tencent Cloud SMS...) is a class with the same method.
"""
from __future__ import annotations

import logging

from flask import current_app

from ..errors import DomainError, ErrorCode

log = logging.getLogger(__name__)


class LogSender:
    def send(self, phone: str, text: str) -> None:
        if not (current_app.config.get("DEMO") or current_app.config.get("TESTING")):
            log.error("no SMS gateway configured: refusing to send sign-in codes")
            raise DomainError(ErrorCode.SMS_UNAVAILABLE)
        log.info("演示短信 → %s：%s", phone, text)


def sender():
    return current_app.extensions.setdefault("sms_sender", LogSender())
