"""Request and response shapes of the pass API (they also generate its OpenAPI document)."""
from typing import Annotated, Literal

from apiflask import Schema
from apiflask.fields import Boolean, Dict, Integer, List, Nested, String
from apiflask.validators import Length
from pydantic import BaseModel, ConfigDict, Field


# A pydantic model, as the redemption's input (backend/merchants/schemas.py): issuing is the other hot
# path, refreshed every minute by every open pass page, and webargs with marshmallow spent more on
# this one optional field than signing the pass does.
class IssueIn(BaseModel):
    """签发请求：本人或所代表的企业。"""

    model_config = ConfigDict(extra="forbid")  # as marshmallow's RAISE: an unknown field is a client's bug

    # Absent: the holder's default (a company's representative gets the company's pass). An explicit
    # null is refused, so the document shows no `default: null` a client could not send.
    holder: Annotated[Literal["person", "company"], Field(
        description="本人或所代表的企业；缺省为本人", json_schema_extra=lambda schema: schema.pop("default"))] = None


class IssueOut(Schema):
    token = String(required=True, metadata={"description": "信用码文本（二维码内容）"})
    expires_at = String(required=True)
    issued_at = String()
    holder_kind = String(required=True)
    tier = String(required=True)
    tier_name = String(required=True)
    refresh_after_seconds = Integer()


class ShortCodeOut(Schema):
    short_code = String(required=True, metadata={"description": "12 位数字，收银员手动输入；只能在线使用一次"})
    expires_at = String(required=True, metadata={"description": "与其信用码同时失效"})


class KeyOut(Schema):
    kid = Integer()
    alg = String()
    public_key = String(metadata={"description": "base64url of the 32 raw Ed25519 public key bytes"})
    status = String()
    not_before = String()
    not_after = String(allow_none=True)


class IssuerOut(Schema):
    issuer = Integer(metadata={"description": "行政区划代码"})
    name = String()
    local = Boolean()
    keys = List(Nested(KeyOut))
    tier_map = Dict(keys=String(), values=Integer(allow_none=True), metadata={
        "description": "互认城市（local 为 false）的信用等级对应本市等级：{对方等级: 本市等级或 null（不认可）}；未列出的等级不认可"})
    tier_levels = Dict(keys=String(), values=String(allow_none=True), metadata={
        "description": "该签发机构自己公布的信用等级 {等级: 其等级代码或 null}：其信用码的等级须在其中（规则 9）；"
                       "缺省时以顶层 tier_levels（本市等级）为准"})


class KeyListOut(Schema):
    issuers = List(Nested(IssuerOut))
    tiers = Dict(keys=String(), values=String())
    tier_levels = Dict(keys=String(), values=String())
    skew_seconds = Integer()


class VerifyIn(Schema):
    token = String(required=True, validate=Length(max=4096))


class VerifyOut(Schema):
    valid = Boolean()
    issuer = Integer()
    kid = Integer()
    holder_kind = String()
    tier = String()
    tier_name = String()
    expires_at = String()
