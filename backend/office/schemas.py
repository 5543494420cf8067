from apiflask import Schema
from apiflask.fields import Date, Integer, List, Nested, String
from apiflask.validators import OneOf


class StatsQuery(Schema):
    group_by = String(load_default="scenario", validate=OneOf(["scenario", "partner", "tier", "day"]))
    from_ = Date(data_key="from", load_default=None)
    to = Date(load_default=None)


class StatsRow(Schema):
    key = String()
    redemptions = Integer()
    amount_fen = Integer()
    discount_fen = Integer()


class StatsOut(Schema):
    rows = List(Nested(StatsRow))
