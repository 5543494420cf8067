"""Request and response shapes of the partner directory, redemption, the merchant's history and the
office's catalogue of partners and perks."""
import uuid
from datetime import datetime, timezone
from typing import Annotated

from apiflask import Schema
from apiflask.fields import Boolean, Date, Dict, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range, Regexp
from pydantic import (AfterValidator, AwareDatetime, BaseModel, BeforeValidator, ConfigDict, Field, StrictInt,
                      ValidationInfo, field_validator)

from ..inputs import INT32_MAX, Id, Int32
from .models import CALENDAR_DAY_KINDS, PERK_KINDS


class PerkOut(Schema):
    id = Integer()
    kind = String(metadata={"description": "discount / green_channel / deposit_waived / extra_quota / free_entry"})
    title = String()
    discount_permille = Integer(allow_none=True, metadata={"description": "仅折扣类：980 表示按 98% 付款"})
    max_discount_fen = Integer(allow_none=True, metadata={"description": "仅折扣类：单次优惠上限（分）"})
    min_tier = String()
    holder_kinds = List(String())
    quota_by_tier = Dict(keys=String(), values=Integer(), allow_none=True,
                         metadata={"description": "按信用等级的额度，例如借书册数"})
    quota_unit = String(allow_none=True)
    active_from = String(allow_none=True)
    active_until = String(allow_none=True)
    blackout_calendar = String(allow_none=True, metadata={"description": "暂停日历，如 major_holidays（重大节假日）"})
    limit_per_holder_per_day = Integer(allow_none=True)
    time_windows = List(String(), metadata={
        "description": "每天可用的时段（北京时间），如 [\"09:00-11:30\", \"14:00-17:00\"]；空列表即全天可用"})


class PartnerOut(Schema):
    id = Integer()
    name = String()
    scenario = String()
    scenario_code = String()
    address = String(allow_none=True)
    hours = String(allow_none=True, metadata={"description": "营业或办公时间，如 每天 09:00-21:00"})
    perks = List(Nested(PerkOut))


class FormerPartnerOut(Schema):
    """A partner that left the programme, as 公示 keeps it."""

    id = Integer()
    name = String()
    scenario = String()
    left_on = String(metadata={"description": "退出日期 YYYY-MM-DD"})
    exit_reason = String()


class PartnerListOut(Schema):
    partners = List(Nested(PartnerOut))
    former = List(Nested(FormerPartnerOut), metadata={"description": "已退出的合作单位（公示留存），最近退出的在前"})


def _iso_text_only(value):
    # pydantic would also read a number as a Unix time; the contract's scan time is ISO 8601 text.
    if not isinstance(value, str):
        raise ValueError("应为 ISO 8601 带时区的时间文本")
    return value


def _a_moment_in_the_calendar(value: datetime) -> datetime:
    # 0001-01-01T00:00:00+14:00 is a valid text whose UTC moment falls before the calendar: it could
    # be stored nowhere, not even in the failure record of its refusal.
    try:
        value.astimezone(timezone.utc)
    except OverflowError:
        raise ValueError("扫码时间超出范围") from None
    return value


# A pydantic model, where the other inputs are marshmallow schemas: this is the product's hottest
# input, and pydantic-core validates it in ~10 µs where webargs with marshmallow took ~175 µs of a
# ~900 µs view (bench/profile_hot_paths.py --split redeem). APIFlask validates and documents both
# kinds, with the same 422 `errors` shape. (Its docstring is the OpenAPI description.)
class RedeemIn(BaseModel):
    """核销请求：扫到的信用码（或顾客的 12 位数字码，仅在线）、优惠、设备生成的幂等 client_id、扫码时刻与消费金额。"""

    model_config = ConfigDict(extra="forbid")  # as marshmallow's RAISE: an unknown field is a client's bug

    # short_code comes first: the checks of `token` and `queued` below see whether it was given.
    short_code: Annotated[str, Field(pattern=r"^[0-9]{12}$", description="顾客的 12 位数字码，代替 token，仅在线")] | None = None
    token: Annotated[str | None, Field(min_length=1, max_length=4096, validate_default=True)] = None
    # failed_attempts.perk_id, where a refused scan records it, is a 32-bit INTEGER
    perk_id: Annotated[StrictInt, Field(ge=1, le=INT32_MAX)]
    client_id: uuid.UUID
    scanned_at: Annotated[AwareDatetime, BeforeValidator(_iso_text_only), AfterValidator(_a_moment_in_the_calendar),
                          Field(description="ISO 8601 带时区，扫码时刻")]
    amount_fen: Annotated[StrictInt, Field(ge=1, le=10_000_000_00)] | None = None
    queued: Annotated[bool, Field(description="设备离线时排队、联网后补传")] = False

    @field_validator("token")
    @classmethod
    def _token_or_short_code(cls, token, info: ValidationInfo):
        if (token is None) == (info.data.get("short_code") is None):
            raise ValueError("token 与 short_code 须且只能填写一个")
        return token

    @field_validator("queued")
    @classmethod
    def _short_code_online_only(cls, queued, info: ValidationInfo):
        if queued and info.data.get("short_code") is not None:
            raise ValueError("数字码只能在线核销")
        return queued


class RedemptionOut(Schema):
    id = Integer()
    client_id = String()
    status = String(metadata={"description": "recorded / voided"})
    perk_id = Integer()
    tier = String()
    tier_name = String()
    amount_fen = Integer(allow_none=True)
    payable_fen = Integer(allow_none=True)
    discount_fen = Integer(allow_none=True)
    quota = Integer(allow_none=True)
    holder_kind = String(metadata={"description": "person（个人）/ company（企业）"})
    offline = Boolean()
    scanned_at = String()
    recorded_at = String()
    voided_at = String(allow_none=True)
    void_reason = String(allow_none=True)
    holder_alias = String(allow_none=True, metadata={"description": "本商户内的持码人短代号，不含身份信息"})
    recent_visits = Integer(allow_none=True, metadata={
        "description": "仅数字码核销的应答：同一持码人在 recent_minutes 分钟内于本商户的其他有效核销次数"})
    recent_minutes = Integer(allow_none=True, metadata={"description": "REPEAT_VISIT_MINUTES"})


class VerifyIn(Schema):
    token = String(required=True, validate=Length(min=1, max=4096))


class RecentVisitsOut(Schema):
    recent_visits = Integer()
    recent_minutes = Integer()


class RedemptionRow(RedemptionOut):
    voidable_until = String(allow_none=True, metadata={"description": "商户可撤销的截止时间"})


class HistoryQuery(Schema):
    day = Date(load_default=None, metadata={"description": "YYYY-MM-DD（北京时间），默认今天"})
    perk_id = Id(load_default=None)


class Totals(Schema):
    count = Integer()
    amount_fen = Integer()
    discount_fen = Integer()


class HistoryOut(Schema):
    day = String()
    redemptions = List(Nested(RedemptionRow))
    totals = Nested(Totals)


class VoidIn(Schema):
    reason = String(load_default=None, allow_none=True, validate=Length(max=500))


class OfficeVoidIn(Schema):
    reason = String(required=True, validate=Length(min=1, max=500))


# -- the office's catalogue -----------------------------------------------------------------------

class ScenarioIn(Schema):
    code = String(required=True, validate=Length(min=1, max=32))
    name = String(required=True, validate=Length(min=1, max=64))


class ScenarioOut(Schema):
    id = Integer()
    code = String()
    name = String()


class ScenarioItem(ScenarioOut):
    """The same shape, nested in a list (apispec registers a schema used both ways twice)."""


class ScenarioListOut(Schema):
    scenarios = List(Nested(ScenarioItem))


class PartnerIn(Schema):
    name = String(required=True, validate=Length(min=1, max=128))
    scenario_code = String(required=True, validate=Length(min=1, max=32))
    address = String(load_default=None, allow_none=True, validate=Length(max=256))
    hours = String(load_default=None, allow_none=True, validate=Length(max=128))
    area_id = Id(load_default=None, allow_none=True, metadata={"description": "区域（街道/社区）编号，见 /api/office/areas"})


class PartnerPatchIn(Schema):
    name = String(validate=Length(min=1, max=128))
    scenario_code = String(validate=Length(min=1, max=32))
    address = String(allow_none=True, validate=Length(max=256))
    hours = String(allow_none=True, validate=Length(max=128))
    area_id = Id(allow_none=True)
    active = Boolean(metadata={"description": "true 即恢复合作（清除退出记录）；退出请用 /exit"})


class PartnerExitIn(Schema):
    reason = String(required=True, validate=Length(min=1, max=256))
    left_on = Date(load_default=None, metadata={"description": "退出日期，默认今天（北京时间）"})


class PerkIn(Schema):
    kind = String(required=True, validate=OneOf(PERK_KINDS))
    title = String(required=True, validate=Length(min=1, max=128))
    discount_permille = Int32(strict=True, allow_none=True, metadata={"description": "折扣类必填，980 即九八折"})
    max_discount_fen = Int32(strict=True, allow_none=True)
    holder_kinds = List(String(validate=OneOf(["person", "company"])), validate=Length(min=1))
    min_tier = String(metadata={"description": "最低信用等级代码，如 basic"})
    quota_by_tier = Dict(keys=String(), values=Int32(strict=True), allow_none=True,
                         metadata={"description": "{等级代码: 额度}，如 {\"basic\": 3, \"good\": 4}"})
    quota_unit = String(allow_none=True, validate=Length(max=16))
    active_from = Date(allow_none=True)
    active_until = Date(allow_none=True)
    blackout_calendar = String(allow_none=True, validate=Length(max=32))
    limit_per_holder_per_day = Int32(strict=True, allow_none=True)
    time_windows = List(String(validate=Length(max=32)), allow_none=True, validate=Length(max=6),
                        metadata={"description": "每天可用的时段（北京时间），如 [\"09:00-11:30\"]；null 或空即全天"})
    active = Boolean()


class PerkRulesOut(PerkOut):
    partner_id = Integer()
    active = Boolean()


class PerkRulesItem(PerkRulesOut):
    """The same shape, nested in a partner."""


class OfficePartnerOut(PartnerOut):
    active = Boolean()
    area_id = Integer(allow_none=True)
    left_on = String(allow_none=True, metadata={"description": "退出日期；未退出为 null"})
    exit_reason = String(allow_none=True)
    perks = List(Nested(PerkRulesItem))


class OfficePartnerItem(OfficePartnerOut):
    """The same shape, nested in a list."""


class OfficePartnerListOut(Schema):
    partners = List(Nested(OfficePartnerItem))


class CalendarDayIn(Schema):
    day = Date(required=True)
    name = String(required=True, validate=Length(min=1, max=64))
    kind = String(load_default="holiday", validate=OneOf(CALENDAR_DAY_KINDS), metadata={
        "description": "holiday：放假（默认；挂此日历的优惠暂停，异议答复期限不计）；"
                       "workday：调休上班（须为周六或周日，异议答复期限计为工作日）"})
    days = Integer(strict=True, load_default=1, validate=Range(min=1, max=31), metadata={
        "description": "自 day 起连续放假的天数（默认 1），如通知中的“2月15日至23日放假调休，共9天”；调休上班日逐日增加"})


class CalendarDayOut(Schema):
    day = String()
    name = String()
    kind = String(metadata={"description": "holiday：放假；workday：调休上班"})


class CalendarYearOut(Schema):
    year = Integer()
    basis = String(allow_none=True, metadata={"description": "核对所依据的通知；null 为预排（尚未按通知核对）"})
    holidays = Integer(metadata={"description": "放假天数"})
    workdays = Integer(metadata={"description": "调休上班天数"})


class CalendarAttentionOut(Schema):
    year = Integer()
    state = String(metadata={"description": "missing：未录入放假日期（答复期限只跳过周末）；provisional：预排，尚未按通知核对"})


class CalendarOut(Schema):
    calendar = String()
    days = List(Nested(CalendarDayOut))
    years = List(Nested(CalendarYearOut))
    attention = List(Nested(CalendarAttentionOut), metadata={
        "description": "今天起 60 天内不可依赖的年份：未录入或预排"})


class CalendarYearIn(Schema):
    basis = String(required=True, validate=Length(min=1, max=200), metadata={
        "description": "核对所依据的通知，如“国务院办公厅关于2027年部分节假日安排的通知”"})


class ConflictOut(Schema):
    id = Integer()
    redemption_id = Integer()
    client_id = String()
    partner_id = Integer()
    perk_id = Integer()
    device_id = Integer(allow_none=True)
    staff_id = Integer(allow_none=True)
    scanned_at = String()
    amount_fen = Integer(allow_none=True)
    at = String()
    first_scanned_at = String()
    first_device_id = Integer(allow_none=True)
    resolved_at = String(allow_none=True)
    resolution = String(allow_none=True)


class ConflictItem(ConflictOut):
    """The same shape, nested in a list."""


class ConflictListOut(Schema):
    conflicts = List(Nested(ConflictItem))


class ConflictQuery(Schema):
    all = Boolean(load_default=False, metadata={"description": "true 时包括已处理的"})


class ResolveIn(Schema):
    resolution = String(required=True, validate=Length(min=1, max=1000))


class FailedAttemptQuery(Schema):
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)
    code = String(load_default=None)
    partner_id = Id(load_default=None)


class FailedAttemptOut(Schema):
    id = Integer()
    at = String()
    code = String()
    reason = String(allow_none=True)
    client_id = String(allow_none=True)
    partner_id = Integer(allow_none=True)
    perk_id = Integer(allow_none=True)
    device_id = Integer(allow_none=True)
    staff_id = Integer(allow_none=True)
    offline = Boolean()
    scanned_at = String(allow_none=True)
    verified = Boolean(metadata={"description": "信用码是否通过验证（未通过的不记录持码人）"})


class FailedAttemptListOut(Schema):
    failed_attempts = List(Nested(FailedAttemptOut))


class StatementQuery(Schema):
    month = String(required=True, validate=Regexp(r"^\d{4}-(0[1-9]|1[0-2])$", error="月份格式应为 YYYY-MM"),
                   metadata={"description": "YYYY-MM"})


class StatementDayOut(Schema):
    day = String()
    redemptions = Integer()
    amount_fen = Integer()
    discount_fen = Integer()


class StatementTotalOut(Schema):
    redemptions = Integer()
    amount_fen = Integer()
    discount_fen = Integer()


class StatementOut(Schema):
    month = String()
    days = List(Nested(StatementDayOut))
    total = Nested(StatementTotalOut)
