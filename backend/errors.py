"""The one error hierarchy of the product, and the one place that turns it into HTTP.

A service raises `DomainError(code)`; `register_error_handlers` maps every such error, every
validation failure, every rate-limit refusal and every HTTP error under /api/ to
`application/problem+json` with a stable `code`, a Chinese `message` and the `status`.
Clients (the scanner, the mini-program) switch on `code`, never on the text.
"""
from __future__ import annotations

import logging

from flask import Flask, jsonify, request
from werkzeug.exceptions import HTTPException

log = logging.getLogger(__name__)

# code: (HTTP status, message shown to people). The documented, stable set; see docs/api.md.
CODES: dict[str, tuple[int, str]] = {
    "validation_error": (422, "请求内容不正确"),
    "bad_request": (400, "请求格式不正确"),
    "unauthorized": (401, "请先登录"),
    "token_expired": (401, "登录已过期，请重新登录"),
    "forbidden": (403, "没有权限执行此操作"),
    "not_found": (404, "找不到请求的内容"),
    "method_not_allowed": (405, "不支持该请求方法"),
    "conflict": (409, "请求与当前状态冲突"),
    "rate_limited": (429, "操作过于频繁，请稍后再试"),
    "internal_error": (500, "服务器内部错误，请稍后再试"),
    "service_unavailable": (503, "服务暂时不可用，请稍后再试"),
    # the pass (docs/pass-format.md)
    "pass_invalid": (400, "信用码无效"),
    "pass_expired": (410, "信用码已过期，请刷新"),
    "pass_not_yet_valid": (400, "信用码尚未生效，请核对手机时间"),
    "pass_key_revoked": (400, "信用码签名密钥已吊销，请刷新"),
    "pass_unknown_issuer": (400, "不认可的信用码签发机构"),
    "pass_unknown_key": (400, "未知的签名密钥，请更新密钥列表"),
    "pass_already_used": (409, "该信用码已使用过，请刷新后再出示"),
    "holder_not_bound": (403, "请先完成实名认证"),
    "holder_not_eligible": (403, "当前信用等级暂不能享受信易+服务"),
    "holder_blacklisted": (403, "失信名单内主体暂不能享受信易+服务"),
    # perks and redemption
    "tier_not_eligible": (403, "该信用等级不能享受此项优惠"),
    "perk_unavailable": (409, "该优惠当前不可用"),
    "limit_reached": (409, "已达到该优惠的使用次数上限"),
    "amount_required": (422, "请填写消费金额"),
    "offline_too_late": (409, "离线核销上传超过时限"),
    "client_id_reused": (409, "该请求编号已用于其他核销"),
    "void_window_closed": (409, "已超过可撤销时限"),
    "already_voided": (409, "该核销已撤销"),
    # sign-in, identity binding, devices (docs/security.md)
    "invalid_credentials": (401, "用户名或密码错误"),
    "sms_code_invalid": (401, "验证码错误或已失效，请重新获取"),
    "wechat_code_invalid": (401, "微信登录凭证无效，请重新进入小程序"),
    "wechat_user_blocked": (403, "微信提示该账号存在风险，暂不能登录"),
    "wechat_unavailable": (503, "微信登录暂时不可用，请稍后再试或使用短信验证码登录"),
    "sms_unavailable": (503, "短信暂时无法发送，请稍后再试"),
    "refresh_invalid": (401, "登录已失效，请重新登录"),
    "session_revoked": (401, "登录已被注销，请重新登录"),
    "name_invalid": (422, "请填写与身份证一致的姓名"),
    "id_number_invalid": (422, "身份证号码格式或校验位不正确"),
    "uscc_invalid": (422, "统一社会信用代码格式或校验位不正确"),
    "identity_mismatch": (400, "姓名与身份证号未能通过核验，或该身份已绑定其他账号；如有疑问请联系信用办"),
    "identity_already_bound": (409, "本账号已绑定其他身份，如需更换请联系信用办"),
    "company_not_found": (404, "信用平台中没有该统一社会信用代码对应的企业"),
    "representative_not_bound": (409, "被授权人尚未在信用码完成实名认证"),
    "username_taken": (409, "该用户名已被使用"),
    "password_too_weak": (422, "密码至少 10 位"),
    "enrolment_code_invalid": (400, "绑定码无效或已使用"),
    "enrolment_code_expired": (410, "绑定码已过期，请重新生成"),
}


class DomainError(Exception):
    """A refusal with a stable code. `detail` adds machine-readable fields to the problem body."""

    code = "bad_request"

    def __init__(self, code: str | None = None, message: str | None = None, **detail):
        self.code = code or self.code
        status, default_message = CODES.get(self.code, (400, "请求无法完成"))
        self.status = status
        self.message = message or default_message
        self.detail = detail
        super().__init__(f"{self.code}: {self.message}")


class ValidationFailed(DomainError):
    code = "validation_error"


class Unauthorized(DomainError):
    code = "unauthorized"


class Forbidden(DomainError):
    code = "forbidden"


class NotFound(DomainError):
    code = "not_found"


class Conflict(DomainError):
    code = "conflict"


def problem(code: str, message: str | None = None, status: int | None = None, **detail):
    default_status, default_message = CODES.get(code, (status or 400, "请求无法完成"))
    body = {"status": status or default_status, "code": code, "message": message or default_message, **detail}
    response = jsonify(body)
    response.status_code = body["status"]
    response.mimetype = "application/problem+json"
    return response


_HTTP_CODES = {400: "bad_request", 401: "unauthorized", 403: "forbidden", 404: "not_found",
               405: "method_not_allowed", 409: "conflict", 413: "bad_request", 415: "bad_request",
               422: "validation_error", 429: "rate_limited", 503: "service_unavailable"}


def register_error_handlers(app: Flask) -> None:
    @app.errorhandler(DomainError)
    def _domain_error(error: DomainError):
        return problem(error.code, error.message, error.status, **error.detail)

    # APIFlask routes request validation failures and abort() through its HTTPError; one processor
    # gives them the same problem shape.
    @app.error_processor
    def _apiflask_error(error):
        code = _HTTP_CODES.get(error.status_code, "bad_request")
        detail = {"errors": error.detail} if error.detail else {}
        return problem(code, None, error.status_code, **detail)

    @app.errorhandler(HTTPException)
    def _http_error(error: HTTPException):
        if not request.path.startswith("/api/"):
            return error
        code = _HTTP_CODES.get(error.code or 500, "bad_request")
        if code == "rate_limited":
            return problem(code, None, 429)
        return problem(code, None, error.code)

    @app.errorhandler(Exception)
    def _unexpected(error: Exception):
        if isinstance(error, HTTPException):
            return _http_error(error)
        log.exception("unhandled error on %s %s", request.method, request.path)
        if not request.path.startswith("/api/"):
            return "服务器内部错误", 500
        return problem("internal_error")
