"""Request and response shapes of the citizens' recourse (contract in ../shared/design.md)."""
from __future__ import annotations

from apiflask import Schema
from apiflask.fields import Boolean, DateTime, Integer, List, Nested, String
from apiflask.validators import Length, OneOf, Range

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


class ObjectionCreatedOut(Schema):
    id = Integer()
    status = String()
    due_at = DateTime()


class ObjectionOut(Schema):
    id = Integer()
    kind = String()
    text = String()
    redemption_id = Integer(allow_none=True)
    status = String()
    created_at = DateTime()
    due_at = DateTime()
    overdue = Boolean()
    answer = String(allow_none=True)
    answered_at = DateTime(allow_none=True)


class ObjectionItem(ObjectionOut):
    """ObjectionOut inside a list: apispec names a schema used both alone and nested only once."""


class ObjectionListOut(Schema):
    objections = List(Nested(ObjectionItem))


class OfficeObjectionQuery(Schema):
    status = String(load_default=None, validate=OneOf(OBJECTION_STATUSES))


class AnswerIn(Schema):
    text = String(required=True, validate=Length(min=1, max=2000))
