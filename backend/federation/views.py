"""The federation API: this city's signed trust list, visitors' day tags for partner cities, and the
office's view of partner cities with their tier mapping (docs/federation.md)."""
from __future__ import annotations

import importlib

from apiflask import APIBlueprint
from flask import current_app, jsonify, request

from ..auth import roles
from ..auth.guard import auth, current_principal
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..responses import schema_json
from . import service, visitors
from .schemas import PartnerCityListOut, PartnerCityOut, TierMapIn

key_context = importlib.import_module("backend.pass.context").key_context

bp = APIBlueprint("federation", __name__, url_prefix="/api/federation", tag="多地互认")


def judge_visitor(*, claims, text: str, limited: bool):
    """The redemption's judge of a partner city's pass (handed to merchants: it may not import us)."""
    config = current_app.config
    return visitors.judge(claims=claims, text=text, limited=limited, ctx=key_context(),
                          own_issuer=config["ISSUER_CODE"], secret=config["PASS_KEY_SECRET"])


@bp.record_once
def _hand_in_the_judge(state):
    state.app.extensions["federation_visitor"] = judge_visitor


@bp.get("/trust-list")
@bp.doc(summary="信任列表", description="本市签发机构、信用码公钥及其状态、各信用等级的含义，"
        "以本市互认密钥 (Ed25519) 对规范化 JSON 签名；互认城市以登记时固定的公钥验证（docs/federation.md）。",
        responses={200: {"description": "`{payload, alg, key, signature}`"}})
def trust_list():
    config = current_app.config
    endpoint = config["FEDERATION_ENDPOINT"] or request.url_root.rstrip("/") + "/api/federation"
    response = jsonify(service.our_trust_list(issuer_code=config["ISSUER_CODE"], secret=config["PASS_KEY_SECRET"],
                                              endpoint=endpoint,
                                              max_age_seconds=config["FEDERATION_LIST_MAX_AGE_SECONDS"]))
    response.cache_control.public = True
    response.cache_control.max_age = 60
    return response


@bp.post("/visitor-tag")
@bp.doc(summary="访客日标记", description="互认城市以其互认密钥签名请求（`{payload: {format, from, pass, at}, alg, key, "
        "signature}`），送来本市签发的信用码；本市打开信用码中的密封引用，答复该持码人在该城市当天的假名标记 "
        "HMAC(标记密钥, 持码人|对方机构代码|签发日)，以本市互认密钥签名。请求不含商户或优惠，本市不保存（docs/federation.md）。",
        responses={200: {"description": "`{payload: {format, issuer, for, pass_id, day, tag}, alg, key, signature}`"}})
def visitor_tag():
    document = request.get_json(silent=True)
    config = current_app.config
    return jsonify(visitors.answer(document, ctx=key_context(), secret=config["PASS_KEY_SECRET"], now=utcnow()))


@bp.get("/partners")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(PartnerCityListOut)
@bp.doc(summary="互认城市", description="已登记的互认城市、同步状态、对方各信用等级及其在本市对应的等级。")
def list_partners():
    return schema_json({"partners": service.partners()})


@bp.put("/partners/<int:partner_id>/tier-map")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(TierMapIn, arg_name="body")
@bp.output(PartnerCityOut)
@bp.doc(summary="设置等级对应", description="对方城市各信用等级对应本市哪一等级（null 或未列出：不认可）；写入审计日志，"
        "并随公钥列表下发给扫码端。")
def put_tier_map(partner_id: int, body):
    try:
        return service.set_tier_map(partner_id=partner_id, mapping=body["tier_map"], actor=current_principal().actor)
    except service.NotFound:
        raise DomainError(ErrorCode.NOT_FOUND) from None
    except ValueError as error:
        raise DomainError(ErrorCode.VALIDATION_ERROR, str(error)) from None
