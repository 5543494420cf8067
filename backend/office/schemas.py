from apiflask import Schema
from apiflask.fields import Boolean, Date, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range


GROUPINGS = ["scenario", "partner", "tier", "day", "area", "holder_kind", "issuer"]


class StatsQuery(Schema):
    group_by = String(load_default="scenario", validate=OneOf(GROUPINGS),
                      metadata={"description": "scenario 场景, partner 合作单位, tier 信用等级, day 日期, area 片区, "
                                               "holder_kind 主体类型, issuer 签发城市"})
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)
    beneficiaries = Boolean(load_default=False, metadata={
        "description": "also count distinct beneficiaries: exactly from the redemptions of the range when they "
                       "are few (STATS_EXACT_BENEFICIARIES_UP_TO), else from the rollups' HyperLogLog sketches "
                       "where PostgreSQL has the hll extension (then `beneficiaries_approximate` is true), else "
                       "exactly (slow over long ranges); the CSV always counts them"})


class StatsTotal(Schema):
    redemptions = Integer()
    amount_fen = Integer()
    discount_fen = Integer()
    beneficiaries = Integer(allow_none=True, metadata={
        "description": "distinct holders of this city (visitors from partner cities are not counted: their city "
                       "sealed them); null unless `beneficiaries=true`"})
    offline = Integer(metadata={"description": "of the redemptions, how many were scanned offline"})


class StatsRow(StatsTotal):
    key = String(metadata={"description": "stable: a scenario or partner name, a tier code, a day, an area code "
                                          "(none: no area), person/company, the issuing city's code (unknown: a "
                                          "visitor's redemption from before the city was recorded)"})
    label = String(metadata={"description": "the key as people read it: 诚信良好, 个人, 西园街道 ..."})


class StatsOut(Schema):
    rows = List(Nested(StatsRow))
    total = Nested(StatsTotal)
    beneficiaries_approximate = Boolean(allow_none=True, metadata={
        "description": "true: every beneficiaries figure of this answer is a HyperLogLog estimate (within about "
                       "2.3%, one standard error; shown as 约 N); false: exact; null unless `beneficiaries=true`"})


class AuditExportQuery(Schema):
    actor = String(load_default=None, validate=Length(max=64))
    action = String(load_default=None, validate=Length(max=64))
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


class CasesExportQuery(Schema):
    from_ = Date(data_key="from", required=True)
    to = Date(required=True)
    format = String(load_default="csv", validate=OneOf(["csv", "jsonl"]),
                    metadata={"description": "csv (for spreadsheets, Chinese headers) or jsonl (the feed's fields)"})


class AuditQuery(Schema):
    actor = String(load_default=None, validate=Length(max=64))
    action = String(load_default=None, validate=Length(max=64))
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)
    before = Integer(load_default=None, validate=Range(min=1, max=2**63 - 1))
    limit = Integer(load_default=200, validate=Range(min=1, max=1000))


class AuditEntryOut(Schema):
    id = Integer()
    at = String(metadata={"description": "ISO 8601"})
    actor = String(metadata={"description": "office:ID, staff:ID, cli, demo ..."})
    action = String()
    target = String(allow_none=True)
    detail = Dict(allow_none=True)


class AuditOut(Schema):
    entries = List(Nested(AuditEntryOut))
    next = Integer(allow_none=True, metadata={"description": "pass as `before` for the next page; null at the end"})


class CasesQuery(Schema):
    after = String(load_default=None, validate=Length(max=80),
                   metadata={"description": "the cursor of the last case already taken (empty: from the start)"})
    limit = Integer(load_default=100, validate=Range(min=1, max=1000))


class CaseOut(Schema):
    cursor = String()
    kind = String(metadata={"description": "redemption / refusal / void"})
    at = String()
    partner = String(allow_none=True)
    perk_id = Integer(allow_none=True)
    scenario = String(allow_none=True)
    tier = String(allow_none=True)
    holder_kind = String(allow_none=True)
    subject_key = String(allow_none=True)
    issuer = Integer(allow_none=True)
    amount_fen = Integer(allow_none=True)
    discount_fen = Integer(allow_none=True)
    code = String(allow_none=True)
    offline = Boolean()


class CasesOut(Schema):
    cases = List(Nested(CaseOut))
    next = String()


class ErrorMessagesOut(Schema):
    messages = Dict(keys=String(), values=String(), metadata={"description": "{错误代码: 中文说明}"})


class TierItem(Schema):
    level = Integer()
    code = String()
    name = String()


class TierListOut(Schema):
    tiers = List(Nested(TierItem))
