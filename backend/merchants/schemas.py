"""Request and response shapes of the partner directory and of redemption."""
from apiflask import Schema
from apiflask.fields import UUID, AwareDateTime, Boolean, Integer, List, Nested, String
from apiflask.validators import Length, Range


class PerkOut(Schema):
    id = Integer()
    kind = String(metadata={"description": "discount / green_channel / deposit_waived / extra_quota / free_entry"})
    title = String()
    discount_permille = Integer(metadata={"description": "仅折扣类：980 表示按 98% 付款"})
    min_tier = String()
    holder_kinds = List(String())
    quota_by_tier = String()


class PartnerOut(Schema):
    id = Integer()
    name = String()
    scenario = String()
    scenario_code = String()
    address = String(allow_none=True)
    perks = List(Nested(PerkOut))


class PartnerListOut(Schema):
    partners = List(Nested(PartnerOut))


class RedeemIn(Schema):
    token = String(required=True, validate=Length(min=1, max=4096))
    perk_id = Integer(required=True, strict=True)
    client_id = UUID(required=True)
    scanned_at = AwareDateTime(required=True, metadata={"description": "ISO 8601 带时区，扫码时刻"})
    amount_fen = Integer(strict=True, validate=Range(min=1, max=10_000_000_00), allow_none=True)
    queued = Boolean(load_default=False, metadata={"description": "设备离线时排队、联网后补传"})


class RedemptionOut(Schema):
    id = Integer()
    client_id = String()
    status = String()
    perk_id = Integer()
    tier = String()
    tier_name = String()
    amount_fen = Integer(allow_none=True)
    payable_fen = Integer(allow_none=True)
    discount_fen = Integer(allow_none=True)
    quota = Integer(allow_none=True)
    offline = Boolean()
    scanned_at = String()
    recorded_at = String()
