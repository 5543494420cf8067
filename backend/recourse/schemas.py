"""Request and response shapes of the citizens' recourse (contract in ../shared/design.md)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, Date, DateTime, File, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

from ..merchants.schemas import CalendarAttentionOut
from .models import OBJECTION_KINDS, OBJECTION_STATUSES


class HolderQuery(Schema):
    holder = String(load_default=None, validate=OneOf(["person", "company"]),
                    metadata={"description": "企业代表查看企业时为 company"})


class HistoryQuery(HolderQuery):
    page = Integer(load_default=1, validate=Range(min=1, max=100_000))


class RouteOut(Schema):
    kind = String()
    title = String()
    text = String()


class NearbyPerkOut(Schema):
    partner = String()
    address = String(allow_none=True)
    perk_id = Integer()
    title = String()
    kind = String()


class CreditOut(Schema):
    holder_kind = String()
    tier = String(allow_none=True)
    tier_name = String()
    eligible = Boolean()
    black_listed = Boolean()
    reasons = List(String())
    routes = List(Nested(RouteOut))
    updated_at = DateTime(allow_none=True)
    perks = List(Nested(NearbyPerkOut))


class HistoryItemOut(Schema):
    id = Integer()
    at = DateTime()
    partner = String()
    perk_id = Integer()
    perk = String()
    holder_kind = String()
    amount_fen = Integer(allow_none=True)
    payable_fen = Integer(allow_none=True)
    discount_fen = Integer(allow_none=True)
    quota = Integer(allow_none=True)
    status = String()
    offline = Boolean()


class HistoryOut(Schema):
    items = List(Nested(HistoryItemOut))
    next = Integer(allow_none=True)


class ObjectionIn(Schema):
    kind = String(required=True, validate=OneOf(OBJECTION_KINDS))
    text = String(required=True, validate=Length(min=1, max=2000))
    redemption_id = Integer(load_default=None, validate=Range(min=1, max=2**63 - 1))
    partner_id = Integer(load_default=None, validate=Range(min=1, max=2**63 - 1),
                         metadata={"description": "投诉的合作单位（kind 为 complaint 时必填，除非给出 redemption_id）"})


class ObjectionCreatedOut(Schema):
    id = Integer()
    status = String()
    due_at = DateTime()


class ObjectionOut(Schema):
    id = Integer()
    kind = String()
    text = String()
    redemption_id = Integer(allow_none=True)
    partner_id = Integer(allow_none=True)
    partner = String(allow_none=True)
    status = String(metadata={"description": "submitted 已提交 / accepted 已受理 / in_progress 处理中 / closed 已办结"})
    status_name = String()
    created_at = DateTime()
    due_at = DateTime()
    overdue = Boolean()
    answer = String(allow_none=True)
    answered_at = DateTime(allow_none=True)
    photos = List(String(), metadata={"description": "照片地址（仅本人与信用办可取）"})


class OfficeObjectionOut(ObjectionOut):
    accepted_at = DateTime(allow_none=True)
    assigned_to = String(allow_none=True)


class ObjectionItem(ObjectionOut):
    """ObjectionOut inside a list: apispec names a schema used both alone and nested only once."""


class OfficeObjectionItem(OfficeObjectionOut):
    """OfficeObjectionOut inside a list."""


class ObjectionListOut(Schema):
    objections = List(Nested(ObjectionItem))


class AssigneeOut(Schema):
    id = Integer()
    username = String()


class OfficeObjectionListOut(Schema):
    objections = List(Nested(OfficeObjectionItem))
    assignees = List(Nested(AssigneeOut))
    calendar = String(metadata={"description": "答复期限所用的节假日日历（OBJECTION_CALENDAR）"})
    calendar_attention = List(Nested(CalendarAttentionOut))


class OfficeObjectionQuery(Schema):
    status = String(load_default=None, validate=OneOf(OBJECTION_STATUSES))


class AnswerIn(Schema):
    text = String(required=True, validate=Length(min=1, max=2000))


class AssignIn(Schema):
    assignee_id = Integer(required=True, validate=Range(min=1, max=2**63 - 1))


class PhotoIn(Schema):
    file = File(required=True, metadata={"description": "JPG、PNG 或 WebP 照片（按内容识别），不超过设置的大小"})


class PhotoOut(Schema):
    id = Integer()
    url = String()


class ComplaintOut(Schema):
    id = Integer()
    filed_on = Date()
    status = String()
    status_name = String()
    text = String()
    accepted_at = DateTime(allow_none=True)
    closed_at = DateTime(allow_none=True)


class ComplaintListOut(Schema):
    complaints = List(Nested(ComplaintOut))
