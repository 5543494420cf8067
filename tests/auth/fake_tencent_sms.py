"""A local HTTP server that speaks Tencent Cloud SMS API 3.0 `SendSms` (version 2021-01-11).

It checks every request as Tencent does, written here from Tencent's documentation and not from
the app's code: the TC3-HMAC-SHA256 signature recomputed from the headers the request names in
SignedHeaders (keys and values lower-cased and trimmed) and the body's SHA-256; the credential's
date against X-TC-Timestamp; the timestamp within 5 minutes of the server's clock; the action,
version and service. Then the account: the SDK app id, the signature name, the template and the
number of its parameters. Its answers are Tencent's: HTTP 200 with `{"Response": {"Error": …}}`
for a refused request, or a `SendStatusSet` with one status per number.

`phone_codes` makes one number answer an error code of its own (as Tencent does per number:
LimitExceeded.PhoneNumberDailyLimit, FailedOperation.PhoneNumberInBlacklist…); `request_error`
makes the whole request fail with a code (InternalError.Timeout, FailedOperation.InsufficientBalanceInSmsPackage…).
`sent` keeps what was delivered: (phone without +86, template id, params).
"""
from __future__ import annotations

import hashlib
import hmac
import json
import threading
import time
import uuid
from datetime import datetime, timezone
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

SECRET_ID = "AKIDtestSecretId0000000000000000000"
SECRET_KEY = "testSecretKey0000000000000000000"
SDK_APP_ID = "1400000001"
SIGN_NAME = "肇东信用"
TEMPLATE_ID = "1234567"
OBJECTION_TEMPLATE_ID = "2345678"
# The approved templates and their parameter counts: the sign-in code ({1} the code, {2} the minutes),
# an objection's new status ({1} what was filed, {2} its number, {3} the status).
TEMPLATE_PARAMS = {TEMPLATE_ID: 2, OBJECTION_TEMPLATE_ID: 3}


def _h(key: bytes, message: str) -> bytes:
    return hmac.new(key, message.encode("utf-8"), hashlib.sha256).digest()


def expected_signature(*, secret_key: str, method: str, headers: dict[str, str], signed: list[str],
                       body: bytes, timestamp: str, date: str, service: str) -> str:
    """Tencent's TC3-HMAC-SHA256, from its documentation (签名方法 v3), over what was received."""
    canonical_headers = "".join(f"{name}:{headers.get(name, '').strip().lower()}\n" for name in signed)
    canonical_request = "\n".join([method, "/", "", canonical_headers, ";".join(signed),
                                   hashlib.sha256(body).hexdigest()])
    scope = f"{date}/{service}/tc3_request"
    string_to_sign = "\n".join(["TC3-HMAC-SHA256", timestamp, scope,
                                hashlib.sha256(canonical_request.encode("utf-8")).hexdigest()])
    key = _h(_h(_h(("TC3" + secret_key).encode("utf-8"), date), service), "tc3_request")
    return hmac.new(key, string_to_sign.encode("utf-8"), hashlib.sha256).hexdigest()


class FakeTencentSms:
    def __init__(self):
        self.sent: list[tuple[str, str, list[str]]] = []
        self.refusals: list[str] = []  # every error code answered, in order
        self.phone_codes: dict[str, str] = {}
        self.request_error: str | None = None
        self.clock = time.time
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                request_id = str(uuid.uuid4())
                problem = fake._check(self.path, {k.lower(): v for k, v in self.headers.items()}, body)
                if problem is None and fake.request_error:
                    problem = fake.request_error
                if problem is not None:
                    fake.refusals.append(problem)
                    return self._answer({"Error": {"Code": problem, "Message": f"fake: {problem}"},
                                         "RequestId": request_id})
                request = json.loads(body)
                statuses = []
                for number in request["PhoneNumberSet"]:
                    code = fake.phone_codes.get(number.removeprefix("+86"), "Ok")
                    if code == "Ok":
                        fake.sent.append((number.removeprefix("+86"), request["TemplateId"], request["TemplateParamSet"]))
                    else:
                        fake.refusals.append(code)
                    statuses.append({"SerialNo": str(uuid.uuid4()), "PhoneNumber": number, "Fee": 1 if code == "Ok" else 0,
                                     "SessionContext": "", "Code": code,
                                     "Message": "send success" if code == "Ok" else f"fake: {code}", "IsoCode": "CN"})
                self._answer({"SendStatusSet": statuses, "RequestId": request_id})

            def _answer(self, response: dict):
                payload = json.dumps({"Response": response}, ensure_ascii=False).encode("utf-8")
                self.send_response(200)  # Tencent answers 200 to refused requests too
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)

    def _check(self, path: str, headers: dict[str, str], body: bytes) -> str | None:
        """The error code Tencent would answer this request with, or None."""
        if path != "/":
            return "InvalidAction"
        authorization = headers.get("authorization", "")
        algorithm, _, rest = authorization.partition(" ")
        parts = dict(part.strip().split("=", 1) for part in rest.split(",") if "=" in part)
        if algorithm != "TC3-HMAC-SHA256" or not {"Credential", "SignedHeaders", "Signature"} <= set(parts):
            return "AuthFailure.InvalidAuthorization"
        secret_id, date, service, terminator = (parts["Credential"].split("/") + ["", "", "", ""])[:4]
        signed = parts["SignedHeaders"].split(";")
        if terminator != "tc3_request" or not {"content-type", "host"} <= set(signed) or signed != sorted(signed):
            return "AuthFailure.InvalidAuthorization"
        if secret_id != SECRET_ID:
            return "AuthFailure.SecretIdNotFound"
        timestamp = headers.get("x-tc-timestamp", "")
        if not timestamp.isdigit() or abs(int(timestamp) - self.clock()) > 300:
            return "AuthFailure.SignatureExpire"
        if date != datetime.fromtimestamp(int(timestamp), timezone.utc).strftime("%Y-%m-%d") or service != "sms":
            return "AuthFailure.SignatureFailure"
        wanted = expected_signature(secret_key=SECRET_KEY, method="POST", headers=headers, signed=signed, body=body,
                                    timestamp=timestamp, date=date, service=service)
        if not hmac.compare_digest(wanted, parts["Signature"]):
            return "AuthFailure.SignatureFailure"
        if headers.get("x-tc-action") != "SendSms":
            return "InvalidAction"
        if headers.get("x-tc-version") != "2021-01-11" or not headers.get("x-tc-region"):
            return "InvalidParameter"
        try:
            request = json.loads(body)
        except ValueError:
            return "InvalidParameter"
        if request.get("SmsSdkAppId") != SDK_APP_ID:
            return "UnauthorizedOperation.SmsSdkAppIdVerifyFail"
        if request.get("SignName") != SIGN_NAME:
            return "FailedOperation.SignatureIncorrectOrUnapproved"
        if request.get("TemplateId") not in TEMPLATE_PARAMS:
            return "FailedOperation.TemplateIncorrectOrUnapproved"
        if len(request.get("TemplateParamSet", [])) != TEMPLATE_PARAMS[request["TemplateId"]]:
            return "FailedOperation.TemplateParamSetNotMatchApprovedTemplate"
        numbers = request.get("PhoneNumberSet")
        if not isinstance(numbers, list) or not numbers or not all(str(n).startswith("+86") for n in numbers):
            return "InvalidParameterValue.IncorrectPhoneNumber"
        return None

    @property
    def endpoint(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    def code_sent_to(self, phone: str) -> str:
        return next(params[0] for to, _, params in reversed(self.sent) if to == phone)

    def __enter__(self):
        self.thread.start()
        return self

    def __exit__(self, *exc):
        self.server.shutdown()
        self.server.server_close()
        self.thread.join(timeout=5)
