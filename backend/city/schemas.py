"""Shapes of the office's ladder screen: the city file's `[[tiers]]` and `[ladder.*]` as JSON."""
from apiflask import Schema
from apiflask.fields import Dict, Integer, List, Nested, Raw, String
from apiflask.validators import Length


class LadderTier(Schema):
    level = Integer(required=True, metadata={"description": "信用码中携带的等级 1-15"})
    code = String(required=True, validate=Length(min=1, max=32))
    name = String(required=True, validate=Length(min=1, max=64))


class KindLadder(Schema):
    """One holder kind's rungs; each criterion optional (the city file's words)."""

    points_at_least = List(List(Raw(), validate=Length(equal=2)), metadata={
        "description": "个人：[[积分下限, 等级], ...]，如 [[1050, 1], [1100, 2]]"})
    rating_at_least = List(List(Raw(), validate=Length(equal=2)), metadata={
        "description": "企业：[[信易评价下限（AAA > AA > A > B > C > D）, 等级], ...]"})
    tax_grade_a = Integer(allow_none=True, metadata={"description": "企业：纳税信用 A 级给的等级"})
    red_list = Integer(allow_none=True, metadata={"description": "守信红名单给的等级"})


class LadderOut(Schema):
    tiers = List(Nested(LadderTier))
    ladder = Dict(keys=String(), values=Nested(KindLadder), metadata={
        "description": "{\"person\": {...}, \"company\": {...}}；失信黑名单一律排除"})


class LadderIn(Schema):
    tiers = List(Nested(LadderTier), required=True, validate=Length(min=1, max=15))
    ladder = Dict(keys=String(), values=Nested(KindLadder), required=True)


class LadderSaved(LadderOut):
    changes = List(String(), metadata={"description": "本次改动（空列表即无改动）"})


class AreaItem(Schema):
    id = Integer()
    code = String()
    name = String()
    parent_code = String(allow_none=True)


class AreaListOut(Schema):
    areas = List(Nested(AreaItem))
