"""HTTP endpoints of the pass: issue, the public key list, online verification."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, jsonify, request

from ..auth import holders, roles
from ..auth.guard import auth, current_principal
from ..credit.tier_names import tier_table
from ..errors import DomainError, ErrorCode
from ..extensions import limiter
from ..responses import schema_json
from ..timeutil import iso_from_unix
from . import flows, qr, service
from .context import key_context
from .schemas import IssueIn, IssueOut, KeyListOut, VerifyIn, VerifyOut

# The short code (backend/pass/short_code.py) and its rate limit.
from ..auth import limits
from . import short_code
from .schemas import ShortCodeOut

bp = APIBlueprint("pass", __name__, url_prefix="/api/pass", tag="信用码")


@bp.post("")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(IssueIn, arg_name="body")
@bp.output(IssueOut, status_code=201)
@bp.doc(summary="签发信用码", description="为已实名、信用合格的市民或企业代表签发约一分钟有效的信用码。")
def issue_pass(body):
    subject = holders.holder_subject(account_id=current_principal().id, holder=body.holder)
    return schema_json(flows.issue_for(ctx=key_context(), subject=subject, tier_names=tier_table()), 201)


@bp.post("/short-code")
@limiter.limit(lambda: current_app.config["RATELIMIT_SHORT_CODE_ISSUE_PER_ACCOUNT"], key_func=limits.account_key)
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.input(IssueIn, arg_name="body")
@bp.output(ShortCodeOut, status_code=201)
@bp.doc(summary="数字码", description="按需签发一个信用码，并给出 12 位数字码供收银员手动输入：与该码同时失效，"
        "只能在线使用一次。Redis 不可用时返回 503 short_code_unavailable（二维码照常可用）。")
def issue_short_code(body):
    subject = holders.holder_subject(account_id=current_principal().id, holder=body.holder)
    return short_code.issue(ctx=key_context(), subject=subject, tier_names=tier_table()), 201


@bp.get("/keys")
@bp.output(KeyListOut)
@bp.doc(summary="公钥列表", description="信任的签发机构及其 Ed25519 公钥、状态与信用等级名称，供扫码端离线验证。")
def public_keys():
    response = jsonify(flows.public_key_list(skew=current_app.config["PASS_CLOCK_SKEW_SECONDS"]))
    # Short max-age: a revoked key must reach scanners quickly; the ETag makes re-checks cheap.
    response.cache_control.public = True
    response.cache_control.max_age = 60
    response.add_etag()
    return response.make_conditional(request)


@bp.post("/verify")
@bp.auth_required(auth, roles=roles.MERCHANT_SIDE)
@bp.input(VerifyIn, arg_name="body")
@bp.output(VerifyOut)
@bp.doc(summary="在线验证信用码", description="只返回主体类型、信用等级与有效期，从不返回持有人身份。")
def verify_pass(body):
    levels, ctx = tier_table(), key_context()
    claims = service.verify(ctx=ctx, text=body["token"], tier_levels=levels)
    code, name = levels[service.local_tier(ctx=ctx, claims=claims, tier_levels=levels)]  # a visitor's as ours
    return {
        "valid": True, "issuer": claims.issuer, "kid": claims.kid, "holder_kind": claims.kind,
        "tier": code, "tier_name": name,
        "expires_at": iso_from_unix(claims.expires_at),
    }


def _qr_response(render, mimetype: str):
    holder = request.args.get("holder")
    if holder not in (None, "person", "company"):
        raise DomainError(ErrorCode.VALIDATION_ERROR, field="holder")
    subject = holders.holder_subject(account_id=current_principal().id, holder=holder)
    issued = flows.issue_for(ctx=key_context(), subject=subject, tier_names=tier_table())
    response = current_app.response_class(render(issued["token"]), mimetype=mimetype)
    response.headers["Cache-Control"] = "no-store"  # every image is a new pass
    response.headers["X-Pass-Expires-At"] = issued["expires_at"]
    response.headers["X-Pass-Tier"] = issued["tier"]
    response.headers["X-Pass-Holder-Kind"] = issued["holder_kind"]
    response.headers["X-Pass-Refresh-After"] = str(issued["refresh_after_seconds"])
    return response


@bp.get("/qr.png")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.doc(summary="信用码二维码 (PNG)", description="签发一个新的信用码并返回其二维码图片；有效期见 X-Pass-Expires-At。",
        responses={200: {"description": "PNG", "content": {"image/png": {}}}})
def qr_png():
    return _qr_response(qr.png, "image/png")


@bp.get("/qr.svg")
@bp.auth_required(auth, roles=roles.CITIZENS)
@bp.doc(summary="信用码二维码 (SVG)", description="签发一个新的信用码并返回其二维码 SVG。",
        responses={200: {"description": "SVG", "content": {"image/svg+xml": {}}}})
def qr_svg():
    return _qr_response(qr.svg, "image/svg+xml")
