"""GET /api/federation/trust-list: this city's signed trust list (contract in ../shared/design.md)."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app, jsonify, request

from . import service

bp = APIBlueprint("federation", __name__, url_prefix="/api/federation", tag="多地互认")


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
