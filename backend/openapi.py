"""What the OpenAPI document says about errors, so that it tells the truth.

Every 4xx/5xx under /api/ is `application/problem+json` with the `Problem` shape below, and each
operation lists the statuses it can answer with, each with the codes that status carries. Statuses
that follow from the route's own facts (a body, a query, a bearer token, a path parameter) are
added for every operation; the refusals of the services are named per endpoint in `RAISES`.
`tests/test_schemathesis.py` holds the document to what the app answers.
"""
from __future__ import annotations

import re
from collections import defaultdict

from apiflask import APIFlask, Schema
from apiflask.fields import Dict, Integer, String
from apiflask.validators import OneOf

from .errors import ErrorCode

PROBLEM_JSON = "application/problem+json"
PROBLEM_REF = {"$ref": "#/components/schemas/Problem"}

E = ErrorCode
_PASS_REFUSED = (E.PASS_INVALID, E.PASS_EXPIRED, E.PASS_NOT_YET_VALID, E.PASS_KEY_REVOKED, E.PASS_UNKNOWN_ISSUER,
                 E.PASS_UNKNOWN_KEY)
_HOLDER_REFUSED = (E.HOLDER_NOT_BOUND, E.HOLDER_NOT_ELIGIBLE, E.HOLDER_BLACKLISTED, E.CONSENT_REQUIRED)

# The codes each endpoint's services may refuse with, beyond those its route implies (see `_implied`).
RAISES: dict[str, tuple[ErrorCode, ...]] = {
    "auth.sms_send": (E.SMS_UNAVAILABLE, E.RATE_LIMITED),
    "auth.sms_login": (E.SMS_CODE_INVALID, E.UNAUTHORIZED, E.RATE_LIMITED),
    "auth.wechat_login": (E.WECHAT_CODE_INVALID, E.WECHAT_USER_BLOCKED, E.WECHAT_UNAVAILABLE, E.UNAUTHORIZED,
                          E.RATE_LIMITED),
    "auth.wechat_web_start": (E.WECHAT_UNAVAILABLE,),
    "auth.wechat_web_login": (E.WECHAT_CODE_INVALID, E.WECHAT_USER_BLOCKED, E.WECHAT_UNAVAILABLE,
                              E.WECHAT_SNAPSHOT_PAGE, E.WECHAT_STATE_INVALID, E.UNAUTHORIZED, E.RATE_LIMITED),
    "auth.record_consent": (E.CONSENT_OUTDATED, E.UNAUTHORIZED),
    "auth.delete_account": (E.UNAUTHORIZED,),
    "auth.bind_identity": (E.NAME_INVALID, E.ID_NUMBER_INVALID, E.IDENTITY_MISMATCH, E.IDENTITY_ALREADY_BOUND,
                           E.RATE_LIMITED),
    "auth.refresh": (E.REFRESH_INVALID, E.SESSION_REVOKED, E.RATE_LIMITED),
    "auth.staff_login": (E.INVALID_CREDENTIALS, E.RATE_LIMITED),
    "auth.office_login": (E.INVALID_CREDENTIALS, E.RATE_LIMITED),
    "auth.enrol_device": (E.ENROLMENT_CODE_INVALID, E.ENROLMENT_CODE_EXPIRED, E.RATE_LIMITED),
    "auth.merchant_me": (E.NOT_FOUND,),
    "auth.create_cashier": (E.USERNAME_TAKEN, E.PASSWORD_TOO_WEAK),
    "auth.create_partner_staff": (E.USERNAME_TAKEN, E.PASSWORD_TOO_WEAK),
    "auth.authorise_representative": (E.COMPANY_NOT_FOUND, E.ID_NUMBER_INVALID, E.USCC_INVALID,
                                      E.REPRESENTATIVE_NOT_BOUND),
    "pass.issue_pass": _HOLDER_REFUSED,
    "pass.qr_png": (*_HOLDER_REFUSED, E.VALIDATION_ERROR),  # ?holder= is read by hand
    "pass.qr_svg": (*_HOLDER_REFUSED, E.VALIDATION_ERROR),
    "pass.verify_pass": (*_PASS_REFUSED, E.TIER_NOT_ACCEPTED),  # a partner city's level not mapped here
    # A limited route answers 429 too (limiter.limit in its view).
    "pass.issue_short_code": (*_HOLDER_REFUSED, E.SHORT_CODE_UNAVAILABLE, E.RATE_LIMITED),
    "merchants.redeem": (*_PASS_REFUSED, E.PASS_ALREADY_USED, E.HOLDER_BLACKLISTED, E.TIER_NOT_ELIGIBLE,
                         E.PERK_UNAVAILABLE, E.PERK_OUTSIDE_HOURS, E.LIMIT_REACHED, E.AMOUNT_REQUIRED,
                         E.OFFLINE_TOO_LATE, E.OFFLINE_TIME_IMPLAUSIBLE, E.CLIENT_ID_REUSED, E.TIER_NOT_ACCEPTED,
                         E.ISSUER_UNREACHABLE, E.SHORT_CODE_INVALID, E.SHORT_CODE_UNAVAILABLE, E.RATE_LIMITED),
    "federation.visitor_tag": (*_PASS_REFUSED, E.FORBIDDEN, E.VALIDATION_ERROR),
    "federation.put_tier_map": (E.NOT_FOUND,),
    "merchants.void": (E.NOT_FOUND, E.ALREADY_VOIDED, E.VOID_WINDOW_CLOSED),
    "office.void_redemption": (E.ALREADY_VOIDED,),
    "office.create_partner": (E.PARTNER_NAME_TAKEN,),
    "office.update_partner": (E.PARTNER_NAME_TAKEN,),
    "office.exit_partner": (E.CONFLICT,),
    "office.resolve_conflict": (E.CONFLICT, E.PASS_ALREADY_USED, E.LIMIT_REACHED),
    "office.remove_calendar_day": (E.VALIDATION_ERROR,),  # the day in the path is read by hand
    "office.case_feed": (E.VALIDATION_ERROR,),  # the cursor's own form
    "office.stats": (E.DATE_RANGE_INVALID,),
    "office.stats_csv": (E.DATE_RANGE_INVALID,),
    "office.audit_log": (E.DATE_RANGE_INVALID,),
    "office.audit_csv": (E.DATE_RANGE_INVALID,),
    "office.cases_export": (E.DATE_RANGE_INVALID,),
    "office.failed_attempts": (E.DATE_RANGE_INVALID,),
    "office.offline_share": (E.DATE_RANGE_INVALID,),
    "merchants.merchant_statement": (E.VALIDATION_ERROR,),
    "recourse.my_credit": (E.HOLDER_NOT_BOUND, E.UNAUTHORIZED),
    "recourse.my_redemptions": (E.HOLDER_NOT_BOUND, E.UNAUTHORIZED),
    "recourse.file_objection": (E.NOT_FOUND, E.VALIDATION_ERROR),
    "recourse.answer_objection": (E.NOT_FOUND, E.CONFLICT, E.VALIDATION_ERROR),
    "recourse.accept_objection": (E.NOT_FOUND, E.CONFLICT),
    "recourse.assign_objection": (E.NOT_FOUND, E.CONFLICT, E.VALIDATION_ERROR),
    "recourse.add_photo": (E.NOT_FOUND, E.CONFLICT, E.PAYLOAD_TOO_LARGE, E.UNSUPPORTED_MEDIA_TYPE),
    "recourse.photo": (E.NOT_FOUND,),
    "recourse.merchant_complaints": (E.FORBIDDEN,),
}


class Problem(Schema):
    """An error answer (RFC 9457's media type): clients switch on `code`, never on `message`."""

    status = Integer(required=True, metadata={"description": "the HTTP status, repeated"})
    code = String(required=True, validate=OneOf([code.value for code in ErrorCode]),
                  metadata={"description": "stable code (docs/api.md)"})
    message = String(required=True, metadata={"description": "给人看的中文说明"})
    errors = Dict(metadata={"description": "validation_error: the fields that do not fit, by location"})
    reason = String(metadata={"description": "pass_invalid: the rule of docs/pass-format.md that failed"})
    field = String(metadata={"description": "validation_error: the field a rule refused"})
    conflict_id = Integer(metadata={"description": "pass_already_used on an offline scan: the conflict to review"})
    retry_after = Integer(metadata={"description": "rate_limited: seconds to wait (also the Retry-After header)"})


def init_app(app: APIFlask) -> None:
    app.config.update(HTTP_ERROR_SCHEMA=Problem, VALIDATION_ERROR_SCHEMA=Problem)
    app.spec_processor(lambda spec: document_errors(app, spec))


def _implied(operation: dict, path: str) -> list[ErrorCode]:
    """The codes any operation of this shape can answer with, whatever its service does."""
    codes = [E.INTERNAL_ERROR, E.SERVICE_UNAVAILABLE]  # every request waits for admission (backend/admission.py)
    if "requestBody" in operation:
        # a body that is not JSON / does not fit / of another media type (backend/inputs.py) / too large
        codes += [E.BAD_REQUEST, E.VALIDATION_ERROR, E.UNSUPPORTED_MEDIA_TYPE, E.PAYLOAD_TOO_LARGE]
    if any(parameter["in"] == "query" for parameter in operation.get("parameters", [])):
        codes.append(E.VALIDATION_ERROR)
    if operation.get("security"):
        codes += [E.UNAUTHORIZED, E.TOKEN_EXPIRED, E.SESSION_REVOKED, E.FORBIDDEN]
    if "{" in path:
        codes.append(E.NOT_FOUND)  # no such thing, or not the caller's
    return codes


def _endpoints(app: APIFlask) -> dict[tuple[str, str], str]:
    """(OpenAPI path, method) -> endpoint name, from the URL map as APIFlask writes its paths."""
    found = {}
    for rule in app.url_map.iter_rules():
        path = re.sub(r"<(?:[^:<>]+:)?([^<>]+)>", r"{\1}", rule.rule)
        for method in rule.methods - {"HEAD", "OPTIONS"}:
            found[(path, method.lower())] = rule.endpoint
    return found


def document_errors(app: APIFlask, spec: dict) -> dict:
    endpoints = _endpoints(app)
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method == "parameters":
                continue
            codes = _implied(operation, path) + list(RAISES.get(endpoints.get((path, method), ""), ()))
            by_status: dict[int, list[str]] = defaultdict(list)
            for code in codes:
                if code.value not in by_status[code.status]:
                    by_status[code.status].append(code.value)
            responses = operation["responses"]
            for status in [status for status in responses if status[0] == "3"]:
                responses[status].pop("content", None)  # a redirect's body is the browser's, not a contract
            for status in [status for status in responses if status[0] in "45"]:
                if int(status) not in by_status:  # APIFlask's guess that no route fact supports
                    del responses[status]
            for status, names in sorted(by_status.items()):
                responses[str(status)] = {
                    "description": "、".join(f"`{name}`" for name in names),
                    "content": {PROBLEM_JSON: {"schema": PROBLEM_REF}},
                }
            if endpoints.get((path, method)) == "merchants.redeem":  # the same client_id again
                responses["200"] = {**responses["201"], "description": "同一 client_id 重发：首次的结果"}
            if endpoints.get((path, method)) == "health.health":  # a database it cannot reach: its own body
                responses["503"]["content"]["application/json"] = responses["200"]["content"]["application/json"]
            operation["responses"] = dict(sorted(responses.items()))
    for name in ("HTTPError", "ValidationError"):
        spec["components"]["schemas"].pop(name, None)
    return spec
