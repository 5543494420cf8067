"""Plain JSON of partners, perks and redemptions, shared by the merchants', the office's and the
staff's endpoints (their shapes are documented by the schemas beside this module)."""
from __future__ import annotations

from ..timeutil import iso
from . import catalog


def partner_json(partner, levels, *, include_inactive: bool = False) -> dict:
    codes = {level: tier.code for level, tier in levels.items()}
    body = {
        "id": partner.id, "name": partner.name, "scenario": partner.scenario.name,
        "scenario_code": partner.scenario.code, "address": partner.address, "hours": partner.hours,
        "perks": [perk_json(perk, codes, full=include_inactive) for perk in partner.perks
                  if perk.active or include_inactive],
    }
    if include_inactive:
        body.update(active=partner.active, area_id=partner.area_id, exit_reason=partner.exit_reason,
                    left_on=partner.left_on.isoformat() if partner.left_on else None)
    return body


def former_partner_json(partner) -> dict:
    return {"id": partner.id, "name": partner.name, "scenario": partner.scenario.name,
            "left_on": partner.left_on.isoformat(), "exit_reason": partner.exit_reason}


def perk_json(perk, codes: dict[int, str], *, full: bool = False) -> dict:
    body = catalog.perk_rules(perk, codes)
    if not full:
        del body["partner_id"], body["active"]
        if perk.kind != "discount":  # the directory names a discount only for discounts (contract)
            del body["discount_permille"], body["max_discount_fen"]
    return body


def redemption_json(redemption, levels) -> dict:
    tier = levels.get(redemption.tier_level)
    return {
        "id": redemption.id, "client_id": redemption.client_id, "status": redemption.status,
        "perk_id": redemption.perk_id, "tier": tier.code if tier else None, "tier_name": tier.name if tier else None,
        "amount_fen": redemption.amount_fen, "payable_fen": redemption.payable_fen,
        "discount_fen": redemption.discount_fen, "quota": redemption.quota, "offline": redemption.offline,
        "scanned_at": iso(redemption.scanned_at), "recorded_at": iso(redemption.recorded_at),
        "voided_at": iso(redemption.voided_at), "void_reason": redemption.void_reason,
    }
