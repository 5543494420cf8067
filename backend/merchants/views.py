"""HTTP endpoints: the public partner directory (公示), redemption, and the merchant's own history."""
from __future__ import annotations

import functools
import importlib

from apiflask import APIBlueprint
from flask import current_app

from ..auth import contacts, limits, roles
from ..auth.guard import auth, current_principal
from ..credit.service import tier_levels
from ..credit.tier_names import tier_table
from ..dbtypes import utcnow
from ..errors import DomainError, ErrorCode
from ..responses import schema_json
from ..timeutil import iso, local_day
from . import catalog, history as redemption_history, service, voids
from .serializers import former_partner_json, partner_json, redemption_json
from .schemas import HistoryOut, HistoryQuery, PartnerListOut, RedeemIn, RedemptionOut, VoidIn
from . import statement
from .schemas import StatementOut, StatementQuery
from .schemas import RecentVisitsOut, VerifyIn

key_context = importlib.import_module("backend.pass.context").key_context

bp = APIBlueprint("merchants", __name__, url_prefix="/api", tag="商户与核销")


def merchant_partner_id() -> int:
    """The partner a merchant principal works for; a merchant token without one is refused."""
    partner_id = current_principal().partner_id
    if partner_id is None:
        raise DomainError(ErrorCode.FORBIDDEN)
    return partner_id


@bp.get("/partners")
@bp.output(PartnerListOut)
@bp.doc(summary="合作商户公示", description="所有合作商户及其为守信主体提供的优惠与规则（公开）；"
        "former 为已退出的合作单位及退出日期、原因。")
def partners():
    levels = tier_levels()
    return {"partners": [partner_json(partner, levels) for partner in catalog.list_partners()],
            "former": [former_partner_json(partner) for partner in catalog.list_former_partners()]}


@bp.post("/redemptions")
@bp.auth_required(auth, roles=roles.MERCHANT_SIDE)
@bp.input(RedeemIn, arg_name="body")
@bp.output(RedemptionOut, status_code=201)
@bp.doc(summary="核销优惠", description="验证信用码（或顾客的 12 位数字码 short_code，仅在线、只能用一次）并记录一次核销；"
        "同一 client_id 重发返回首次结果（200）。离线补传的信用码已在其他设备核销时返回 409 pass_already_used 并带 "
        "conflict_id。应答的 recent_visits 是同一持码人 recent_minutes 分钟内在本商户的其他核销次数。")
def redeem(body):
    principal = current_principal()
    request = service.RedeemRequest(
        token=body.token, short_code=body.short_code, perk_id=body.perk_id, client_id=str(body.client_id),
        scanned_at=body.scanned_at, amount_fen=body.amount_fen, partner_id=merchant_partner_id(),
        device_id=principal.id if principal.kind == "device" else None,
        staff_id=principal.id if principal.kind == "staff" else None, queued=body.queued,
    )
    levels, config = tier_table(), current_app.config
    judge = functools.partial(service.redeem, ctx=key_context(), request=request, tier_levels=levels,
                              offline_window_hours=config["OFFLINE_SYNC_WINDOW_HOURS"],
                              could_have_been_offline=functools.partial(contacts.could_have_been_offline,
                                                                        device_id=request.device_id,
                                                                        staff_id=request.staff_id),
                              # A partner city's pass (多地互认): federation, above us, hands in its judge.
                              visitor=current_app.extensions.get("federation_visitor"))
    if request.short_code is None:
        outcome = judge()
    else:  # failed look-ups per device or cashier keep 12 digits unguessable (backend/pass/short_code.py)
        with limits.failures_counted("RATELIMIT_SHORT_CODE_PER_PRINCIPAL", scope="short-code"):
            outcome = judge()
    redemption, minutes = outcome.redemption, config["REPEAT_VISIT_MINUTES"]
    body = {**redemption_json(redemption, levels), "holder_kind": redemption.holder_kind,
            "holder_alias": redemption_history.holder_alias(secret=config["SECRET_KEY"],
                                                            partner_id=redemption.partner_id,
                                                            subject_id=redemption.subject_id),
            "recent_visits": None, "recent_minutes": None}
    if request.short_code is not None:
        # A typed code had no check before (the scanner cannot open it): the warning comes with the answer.
        # A scanned pass was checked by POST /api/redemptions/check, so the hot path reads nothing more.
        body.update(recent_minutes=minutes, recent_visits=redemption_history.recent_visits(
            partner_id=redemption.partner_id, subject_id=redemption.subject_id, minutes=minutes,
            now=redemption.recorded_at, exclude_id=redemption.id))
    return schema_json(body, 200 if outcome.replayed else 201)


@bp.post("/redemptions/check")
@bp.auth_required(auth, roles=roles.MERCHANT_SIDE)
@bp.input(VerifyIn, arg_name="body")
@bp.output(RecentVisitsOut)
@bp.doc(summary="重复核销提醒", description="扫码端在本机验证信用码后在线询问：同一持码人在 REPEAT_VISIT_MINUTES 分钟内"
        "在本商户有几次有效核销。只返回次数，不含任何身份信息。")
def check_recent_visits(body):
    minutes = current_app.config["REPEAT_VISIT_MINUTES"]
    visits = redemption_history.recent_visits_of_pass(ctx=key_context(), token=body["token"],
                                                      partner_id=merchant_partner_id(), minutes=minutes,
                                                      tier_levels=tier_table(), now=utcnow())
    return {"recent_visits": visits, "recent_minutes": minutes}


@bp.get("/redemptions")
@bp.auth_required(auth, roles=roles.MERCHANT_SIDE)
@bp.input(HistoryQuery, location="query", arg_name="query")
@bp.output(HistoryOut)
@bp.doc(summary="本商户核销记录", description="按日期（北京时间，默认今天）和优惠筛选本商户的核销及当日合计（不含已撤销）；"
        "只显示本商户内的持码人短代号，不含任何身份信息。")
def history(query):
    day = query["day"] or local_day(utcnow())
    rows, totals = redemption_history.history(partner_id=merchant_partner_id(), day=day, perk_id=query["perk_id"])
    levels, config = tier_levels(), current_app.config
    window = config["VOID_WINDOW_MINUTES"]
    return {
        "day": day.isoformat(),
        "redemptions": [
            {**redemption_json(row, levels), "holder_kind": row.holder_kind,
             "holder_alias": redemption_history.holder_alias(secret=config["SECRET_KEY"], partner_id=row.partner_id,
                                                  subject_id=row.subject_id),
             "voidable_until": iso(voids.voidable_until(row, window)) if row.status == "recorded" else None}
            for row in rows
        ],
        "totals": totals,
    }


@bp.post("/redemptions/<int:redemption_id>/void")
@bp.auth_required(auth, roles=roles.MERCHANT_SIDE)
@bp.input(VoidIn, arg_name="body")
@bp.output(RedemptionOut)
@bp.doc(summary="撤销核销（商户）", description="商户可在核销后 VOID_WINDOW_MINUTES（默认 15）分钟内撤销本商户的核销；留痕审计。")
def void(redemption_id, body):
    principal = current_principal()
    redemption = voids.void(redemption_id=redemption_id, actor=principal.actor, reason=body.get("reason"),
                              partner_id=merchant_partner_id(),
                              window_minutes=current_app.config["VOID_WINDOW_MINUTES"])
    return redemption_json(redemption, tier_levels())


@bp.get("/merchant/statement")
@bp.auth_required(auth, roles=roles.MERCHANT_ADMINS)
@bp.input(StatementQuery, location="query", arg_name="query")
@bp.output(StatementOut)
@bp.doc(summary="本商户月度对账", description="按日汇总本商户一个月的核销次数、消费金额与优惠金额及月合计，"
        "口径与信用办统计一致（不含已撤销）。")
def merchant_statement(query):
    return statement.monthly(partner_id=merchant_partner_id(), month=query["month"])
