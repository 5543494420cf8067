"""The credit office's reviews: redemption statistics by scenario, partner, tier and day, and their export."""
from __future__ import annotations

from sqlalchemy import func, select

from .. import replica
from ..credit.models import Tier
from ..csvsafe import to_csv
from ..errors import DomainError, ErrorCode
from ..merchants.models import Partner, Scenario
from . import rollup

# group_by → (the key column, the joins that reach it from the counted rows: see rollup.counted)
GROUPINGS = {
    "scenario": (Scenario.name, lambda query, rows: query.join(Partner, Partner.id == rows.c.partner_id)
                 .join(Scenario, Scenario.id == Partner.scenario_id)),
    "partner": (Partner.name, lambda query, rows: query.join(Partner, Partner.id == rows.c.partner_id)),
    "tier": (Tier.code, lambda query, rows: query.join(Tier, Tier.level == rows.c.tier_level)),
    "day": (None, lambda query, rows: query),
}
CSV_HEADERS = {"scenario": "场景", "partner": "合作单位", "tier": "信用等级", "day": "日期"}


def stats(*, group_by: str, day_from=None, day_to=None) -> list[dict]:
    """Counts and sums of recorded (not voided) redemptions, grouped for the office's review.

    Read from the daily rollups plus what changed since (backend/office/rollup.py), so a year costs
    what its days cost, not its millions of redemptions; on the read replica when one is set and
    fresh enough (backend/replica.py).
    """
    if group_by not in GROUPINGS:
        raise DomainError(ErrorCode.VALIDATION_ERROR, "group_by 只能是 scenario、partner、tier 或 day")
    key, join = GROUPINGS[group_by]

    def count(session, marks):
        rows = rollup.counted(per_day=group_by == "day", marks=marks, day_from=day_from, day_to=day_to)
        column = rows.c.local_day if key is None else key
        query = join(select(column.label("key"), func.sum(rows.c.redemptions), func.sum(rows.c.amount_fen),
                            func.sum(rows.c.discount_fen)).select_from(rows), rows)
        # A group whose redemptions were all voided since the rollup nets to zero: no recorded row, no group.
        return session.execute(query.group_by(column).having(func.sum(rows.c.redemptions) > 0)
                               .order_by(column)).all()

    found = replica.read(lambda session, complete_as_of: rollup.read(session, lambda marks: count(session, marks)))
    return [
        {"key": row[0].isoformat() if hasattr(row[0], "isoformat") else row[0], "redemptions": int(row[1]),
         "amount_fen": int(row[2]), "discount_fen": int(row[3])}
        for row in found
    ]


def stats_csv(*, rows: list[dict], group_by: str) -> str:
    """The statistics as CSV for spreadsheets: amounts in yuan with two decimals, a total row at the end."""
    return to_csv([
        [CSV_HEADERS[group_by], "核销次数", "消费金额（元）", "优惠金额（元）"],
        *([row["key"], row["redemptions"], _yuan(row["amount_fen"]), _yuan(row["discount_fen"])] for row in rows),
        ["合计", sum(r["redemptions"] for r in rows), _yuan(sum(r["amount_fen"] for r in rows)),
         _yuan(sum(r["discount_fen"] for r in rows))],
    ])


def _yuan(fen: int) -> str:
    return f"{fen // 100}.{fen % 100:02d}"
