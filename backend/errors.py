"""The one error hierarchy of the product, and the one place that turns it into HTTP.

A service raises `DomainError(ErrorCode.X)` (a member of the one registry below, never a free
string); `register_error_handlers` maps every such error, every
validation failure, every rate-limit refusal and every HTTP error under /api/ to
`application/problem+json` with a stable `code`, a Chinese `message` and the `status`.
Clients (the scanner, the mini-program) switch on `code`, never on the text.
"""
from __future__ import annotations

import logging
import math
import time
from enum import StrEnum

from flask import Flask, current_app, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)


class ErrorCode(StrEnum):
    """The documented, stable set of codes (docs/api.md), each with its HTTP status and the message
    shown to people. A member compares equal to its code string, so clients' JSON is unchanged."""

    def __new__(cls, code: str, status: int, message: str):
        member = str.__new__(cls, code)
        member._value_ = code
        member.status = status
        member.message = message
        return member

    VALIDATION_ERROR = ("validation_error", 422, "请求内容不正确")
    BAD_REQUEST = ("bad_request", 400, "请求格式不正确")
    UNAUTHORIZED = ("unauthorized", 401, "请先登录")
    TOKEN_EXPIRED = ("token_expired", 401, "登录已过期，请重新登录")
    FORBIDDEN = ("forbidden", 403, "没有权限执行此操作")
    NOT_FOUND = ("not_found", 404, "找不到请求的内容")
    METHOD_NOT_ALLOWED = ("method_not_allowed", 405, "不支持该请求方法")
    CONFLICT = ("conflict", 409, "请求与当前状态冲突")
    PAYLOAD_TOO_LARGE = ("payload_too_large", 413, "请求内容过大")
    UNSUPPORTED_MEDIA_TYPE = ("unsupported_media_type", 415, "请求内容的格式不受支持")
    RATE_LIMITED = ("rate_limited", 429, "操作过于频繁，请稍后再试")
    INTERNAL_ERROR = ("internal_error", 500, "服务器内部错误，请稍后再试")
    SERVICE_UNAVAILABLE = ("service_unavailable", 503, "服务暂时不可用，请稍后再试")
    DATE_RANGE_INVALID = ("date_range_invalid", 422, "开始日期不能晚于结束日期，请重新选择")
    # the pass (docs/pass-format.md)
    PASS_INVALID = ("pass_invalid", 400, "信用码无效")
    PASS_EXPIRED = ("pass_expired", 410, "信用码已过期，请刷新")
    PASS_NOT_YET_VALID = ("pass_not_yet_valid", 400, "信用码尚未生效，请核对手机时间")
    PASS_KEY_REVOKED = ("pass_key_revoked", 400, "信用码签名密钥已吊销，请刷新")
    PASS_UNKNOWN_ISSUER = ("pass_unknown_issuer", 400, "不认可的信用码签发机构")
    PASS_UNKNOWN_KEY = ("pass_unknown_key", 400, "未知的签名密钥，请更新密钥列表")
    PASS_ALREADY_USED = ("pass_already_used", 409, "该信用码已使用过，请刷新后再出示")
    HOLDER_NOT_BOUND = ("holder_not_bound", 403, "请先完成实名认证")
    HOLDER_NOT_ELIGIBLE = ("holder_not_eligible", 403, "当前信用等级暂不能享受信易+服务")
    HOLDER_BLACKLISTED = ("holder_blacklisted", 403, "失信名单内主体暂不能享受信易+服务")
    # perks and redemption
    TIER_NOT_ELIGIBLE = ("tier_not_eligible", 403, "该信用等级不能享受此项优惠")
    PERK_UNAVAILABLE = ("perk_unavailable", 409, "该优惠当前不可用")
    PERK_OUTSIDE_HOURS = ("perk_outside_hours", 409, "现在不在该优惠的可用时段内")
    PARTNER_NAME_TAKEN = ("partner_name_taken", 409, "同一区域内已有同名的合作单位，请换一个名称或区域")
    LIMIT_REACHED = ("limit_reached", 409, "已达到该优惠的使用次数上限")
    # a partner city's pass (docs/federation.md)
    TIER_NOT_ACCEPTED = ("tier_not_accepted", 403, "本市不认可签发城市的该信用等级")
    ISSUER_UNREACHABLE = ("issuer_unreachable", 409, "暂时无法向签发城市核对该优惠的使用次数，本次不能享受，请稍后再试")
    AMOUNT_REQUIRED = ("amount_required", 422, "请填写消费金额")
    OFFLINE_TOO_LATE = ("offline_too_late", 409, "离线核销上传超过时限")
    OFFLINE_TIME_IMPLAUSIBLE = ("offline_time_implausible", 409, "离线核销的扫码时间与本设备的联网记录不符")
    CLIENT_ID_REUSED = ("client_id_reused", 409, "该请求编号已用于其他核销")
    VOID_WINDOW_CLOSED = ("void_window_closed", 409, "已超过可撤销时限")
    ALREADY_VOIDED = ("already_voided", 409, "该核销已撤销")
    SHORT_CODE_INVALID = ("short_code_invalid", 400, "数字码无效或已使用，请让顾客重新获取")
    SHORT_CODE_UNAVAILABLE = ("short_code_unavailable", 503, "数字码暂不可用，请出示二维码")
    # sign-in, identity binding, devices (docs/security.md)
    INVALID_CREDENTIALS = ("invalid_credentials", 401, "用户名或密码错误")
    SMS_CODE_INVALID = ("sms_code_invalid", 401, "验证码错误或已失效，请重新获取")
    WECHAT_CODE_INVALID = ("wechat_code_invalid", 401, "微信登录凭证无效，请重新进入小程序")
    WECHAT_USER_BLOCKED = ("wechat_user_blocked", 403, "微信提示该账号存在风险，暂不能登录")
    WECHAT_UNAVAILABLE = ("wechat_unavailable", 503, "微信登录暂时不可用，请稍后再试或使用短信验证码登录")
    WECHAT_SNAPSHOT_PAGE = ("wechat_snapshot_page", 403, "请点击页面底部“使用完整服务”后再登录")
    WECHAT_STATE_INVALID = ("wechat_state_invalid", 400, "登录链接已失效，请重新打开页面登录")
    CONSENT_REQUIRED = ("consent_required", 403, "请先阅读并同意个人信息保护告知书")
    CONSENT_OUTDATED = ("consent_outdated", 409, "个人信息保护告知书已更新，请重新阅读后同意")
    SMS_UNAVAILABLE = ("sms_unavailable", 503, "短信暂时无法发送，请稍后再试")
    SMS_PHONE_REFUSED = ("sms_phone_refused", 422, "该手机号暂时无法接收短信，请核对号码或联系运营商")
    REFRESH_INVALID = ("refresh_invalid", 401, "登录已失效，请重新登录")
    SESSION_REVOKED = ("session_revoked", 401, "登录已被注销，请重新登录")
    NAME_INVALID = ("name_invalid", 422, "请填写与身份证一致的姓名")
    ID_NUMBER_INVALID = ("id_number_invalid", 422, "身份证号码格式或校验位不正确")
    USCC_INVALID = ("uscc_invalid", 422, "统一社会信用代码格式或校验位不正确")
    IDENTITY_MISMATCH = ("identity_mismatch", 400, "姓名与身份证号未能通过核验，或该身份已绑定其他账号；如有疑问请联系信用办")
    IDENTITY_ALREADY_BOUND = ("identity_already_bound", 409, "本账号已绑定其他身份，如需更换请联系信用办")
    COMPANY_NOT_FOUND = ("company_not_found", 404, "信用平台中没有该统一社会信用代码对应的企业")
    REPRESENTATIVE_NOT_BOUND = ("representative_not_bound", 409, "被授权人尚未在信用码完成实名认证")
    USERNAME_TAKEN = ("username_taken", 409, "该用户名已被使用")
    PASSWORD_TOO_WEAK = ("password_too_weak", 422, "密码至少 10 位")
    ENROLMENT_CODE_INVALID = ("enrolment_code_invalid", 400, "绑定码无效或已使用")
    ENROLMENT_CODE_EXPIRED = ("enrolment_code_expired", 410, "绑定码已过期，请重新生成")


class DomainError(Exception):
    """A refusal with a stable code. `detail` adds machine-readable fields to the problem body."""

    def __init__(self, code: ErrorCode, message: str | None = None, **detail):
        if not isinstance(code, ErrorCode):
            raise TypeError(f"DomainError takes an ErrorCode member, not {code!r}")
        self.code = code
        self.status = code.status
        self.message = message or code.message
        self.detail = detail
        super().__init__(f"{code}: {self.message}")


def problem(code: ErrorCode, message: str | None = None, status: int | None = None, **detail):
    body = {"status": status or code.status, "code": str(code), "message": message or code.message, **detail}
    response = jsonify(body)
    response.status_code = body["status"]
    response.mimetype = "application/problem+json"
    return response


_HTTP_CODES = {400: ErrorCode.BAD_REQUEST, 401: ErrorCode.UNAUTHORIZED, 403: ErrorCode.FORBIDDEN,
               404: ErrorCode.NOT_FOUND, 405: ErrorCode.METHOD_NOT_ALLOWED, 409: ErrorCode.CONFLICT,
               413: ErrorCode.PAYLOAD_TOO_LARGE, 415: ErrorCode.UNSUPPORTED_MEDIA_TYPE, 422: ErrorCode.VALIDATION_ERROR,
               429: ErrorCode.RATE_LIMITED, 503: ErrorCode.SERVICE_UNAVAILABLE}


def wait_text(seconds: int) -> str:
    """How long to wait, as a person reads it: 45 秒, 61 秒, 3 分钟, 2 小时."""
    if seconds < 100:  # "2 分钟" for 61 seconds would make people wait twice as long
        return f"{seconds} 秒"
    if seconds < 3600:
        return f"{math.ceil(seconds / 60)} 分钟"
    return f"{math.ceil(seconds / 3600)} 小时"


def rate_limited(seconds: int, message: str | None = None):
    """429 that says how long to wait: `retry_after` (seconds) in the body and the Retry-After header,
    and the message names the wait, so the page can count down instead of leaving the person guessing."""
    seconds = max(1, int(seconds))
    response = problem(ErrorCode.RATE_LIMITED, message or f"操作过于频繁，请 {wait_text(seconds)}后再试",
                       retry_after=seconds)
    response.headers["Retry-After"] = str(seconds)
    return response


def _limiter_wait() -> int:
    """Seconds until the breached Flask-Limiter limit of this request lets one more through."""
    for limiter in current_app.extensions.get("limiter", ()):
        breached = limiter.current_limit
        if breached is not None:
            return math.ceil(breached.reset_at - time.time())
    return 60


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        if error.code is ErrorCode.RATE_LIMITED and "retry_after" in error.detail:
            return rate_limited(error.detail["retry_after"], error.message if error.message != error.code.message else None)
        return problem(error.code, error.message, error.status, **error.detail)

    # APIFlask routes request validation failures and abort() through its HTTPError; one processor
    # gives them the same problem shape.
    @app.error_processor
    def _apiflask_error(error):
        code = _HTTP_CODES.get(error.status_code, ErrorCode.BAD_REQUEST)
        detail = {"errors": error.detail} if error.detail else {}
        return problem(code, None, error.status_code, **detail)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if not request.path.startswith("/api/"):
            return error
        code = _HTTP_CODES.get(error.code or 500, ErrorCode.BAD_REQUEST)
        if code is ErrorCode.RATE_LIMITED:
            return rate_limited(_limiter_wait())
        return problem(code, None, error.code)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return _http_error(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            return "服务器内部错误", 500
        return problem(ErrorCode.INTERNAL_ERROR)
