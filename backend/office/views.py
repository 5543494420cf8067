"""HTTP endpoints of the credit office."""
from __future__ import annotations

from apiflask import APIBlueprint

from ..auth.guard import auth
from . import service
from .schemas import StatsOut, StatsQuery

bp = APIBlueprint("office", __name__, url_prefix="/api/office", tag="信用办")

OFFICE_READERS = ["office_admin", "office_analyst", "office_auditor"]


@bp.get("/stats")
@bp.auth_required(auth, roles=OFFICE_READERS)
@bp.input(StatsQuery, location="query", arg_name="query")
@bp.output(StatsOut)
@bp.doc(summary="核销统计", description="按场景、商户、信用等级或日期汇总核销次数、金额与优惠金额（不含已撤销）。")
def stats(query):
    return {"rows": service.stats(group_by=query["group_by"], day_from=query["from_"], day_to=query["to"])}
