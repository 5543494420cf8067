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
