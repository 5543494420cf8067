"""Shapes of the federation API's requests and answers."""
from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String


class PartnerTierOut(Schema):
    level = Integer(metadata={"description": "对方城市的信用等级"})
    code = String()
    name = String()
    criteria = List(String(), metadata={"description": "对方信任列表中该等级的评定条件"})
    maps_to = String(allow_none=True, metadata={"description": "本市对应的信用等级代码；null 为不认可"})


class PartnerCityOut(Schema):
    id = Integer()
    url = String()
    issuer = Integer(allow_none=True)
    name = String(allow_none=True)
    trusted = Boolean()
    trusted_until = String(allow_none=True)
    last_synced_at = String(allow_none=True)
    last_error = String(allow_none=True)
    tiers = List(Nested(PartnerTierOut))


class PartnerCityItem(PartnerCityOut):
    """A partner city inside the list (the same schema is also answered on its own)."""


class PartnerCityListOut(Schema):
    partners = List(Nested(PartnerCityItem))


class TierMapIn(Schema):
    tier_map = Dict(keys=String(), values=String(allow_none=True), required=True, metadata={
        "description": "{对方等级: 本市信用等级代码，或 null 表示不认可}；未列出的等级不认可"})
