"""HTTP endpoints: the public partner directory (公示) and redemption."""
from __future__ import annotations

import importlib

from apiflask import APIBlueprint
from flask import current_app

from ..auth.guard import auth, current_principal
from ..credit.service import tier_levels
from . import service
from .schemas import PartnerListOut, RedeemIn, RedemptionOut

key_context = importlib.import_module("backend.pass.context").key_context

bp = APIBlueprint("merchants", __name__, url_prefix="/api", tag="商户与核销")


def partner_json(partner, levels) -> dict:
    return {
        "id": partner.id, "name": partner.name, "scenario": partner.scenario.name,
        "scenario_code": partner.scenario.code, "address": partner.address,
        "perks": [perk_json(perk, levels) for perk in partner.perks if perk.active],
    }


def perk_json(perk, levels) -> dict:
    body = {"id": perk.id, "kind": perk.kind, "title": perk.title,
            "min_tier": levels[perk.min_tier_level].code if perk.min_tier_level in levels else None,
            "holder_kinds": perk.holder_kinds.split(",")}
    if perk.kind == "discount":
        body["discount_permille"] = perk.discount_permille
    return body


def redemption_json(redemption, levels) -> dict:
    tier = levels.get(redemption.tier_level)
    from ..timeutil import iso
    return {
        "id": redemption.id, "client_id": redemption.client_id, "status": redemption.status,
        "perk_id": redemption.perk_id, "tier": tier.code if tier else None, "tier_name": tier.name if tier else None,
        "amount_fen": redemption.amount_fen, "payable_fen": redemption.payable_fen,
        "discount_fen": redemption.discount_fen, "quota": redemption.quota, "offline": redemption.offline,
        "scanned_at": iso(redemption.scanned_at), "recorded_at": iso(redemption.recorded_at),
    }


@bp.get("/partners")
@bp.output(PartnerListOut)
@bp.doc(summary="合作商户公示", description="所有合作商户及其为守信主体提供的优惠（公开）。")
def partners():
    levels = tier_levels()
    return {"partners": [partner_json(partner, levels) for partner in service.list_partners()]}


@bp.post("/redemptions")
@bp.auth_required(auth, roles=["cashier", "merchant_admin", "device"])
@bp.input(RedeemIn, arg_name="body")
@bp.output(RedemptionOut, status_code=201)
@bp.doc(summary="核销优惠", description="验证信用码并记录一次核销；同一 client_id 重发返回首次结果。")
def redeem(body):
    principal = current_principal()
    request = service.RedeemRequest(
        token=body["token"], perk_id=body["perk_id"], client_id=str(body["client_id"]),
        scanned_at=body["scanned_at"], amount_fen=body.get("amount_fen"), partner_id=principal.partner_id,
        device_id=principal.id if principal.kind == "device" else None,
        staff_id=principal.id if principal.kind == "staff" else None, queued=body["queued"],
    )
    outcome = service.redeem(ctx=key_context(), request=request,
                             offline_window_hours=current_app.config["OFFLINE_SYNC_WINDOW_HOURS"])
    return redemption_json(outcome.redemption, tier_levels()), 200 if outcome.replayed else 201
