"""The office's screens for a city's reference data that live with the city loader (the tier ladder)."""
from __future__ import annotations

from apiflask import APIBlueprint
from flask import current_app

from ..auth import roles
from ..auth.guard import auth, current_principal
from . import service
from .schemas import AreaListOut, LadderIn, LadderOut, LadderSaved

bp = APIBlueprint("city", __name__, url_prefix="/api/office", tag="信用办")


@bp.get("/ladder")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(LadderOut)
@bp.doc(summary="信用等级与等级阶梯", description="等级名称与各类主体的等级阶梯，写法与城市参考数据文件相同。")
def ladder():
    return service.ladder()


@bp.put("/ladder")
@bp.auth_required(auth, roles=roles.OFFICE_WRITERS)
@bp.input(LadderIn, arg_name="body")
@bp.output(LadderSaved)
@bp.doc(summary="修改信用等级与等级阶梯",
        description="与 `flask city load` 同一套校验；等级按 level 新增或改名（不删除），阶梯按主体类型整体替换，"
                    "随即按新阶梯重新计算每个主体的等级，新签发的信用码即按新等级；审计留痕（ladder.update）。")
def update_ladder(body):
    changes = service.update_ladder(actor=current_principal().actor, tiers=body["tiers"], ladder=body["ladder"],
                                    issuer_code=current_app.config["ISSUER_CODE"])
    return {**service.ladder(), "changes": changes}


@bp.get("/areas")
@bp.auth_required(auth, roles=roles.OFFICE)
@bp.output(AreaListOut)
@bp.doc(summary="区域（街道/社区）", description="合作单位所在区域；由城市参考数据文件载入。")
def areas():
    return {"areas": service.areas()}
